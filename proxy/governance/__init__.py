"""Governance: the AI register (each service's status, owner, risk review and justification)
and the audit log of every change to it. It owns the decisions an organisation takes about
the services the inventory has seen, not the records of traffic, which belong to
``proxy.inventory``. It reads and writes through the inventory's models and reads the
catalog for services not seen yet; it imports nothing else of ours.
"""
