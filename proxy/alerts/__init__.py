"""Alert rules: immediate webhook messages for what a SOC must see now (docs/siem.md). It
owns the alert rules file, matching events and the register against it, de-duplication and
the Slack and Teams messages; it imports the inventory, the register of
``proxy.governance``, the sinks' delivery, errors, metrics and the rules-file reader.
"""
