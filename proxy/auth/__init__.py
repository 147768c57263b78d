"""API authentication: bearer tokens with roles (stored hashed, in the inventory's database)
and OIDC identity tokens (verified against the identity provider's keys, no database). It
owns who may call the API and with which role; the routes that check it live in ``api``.
It imports the inventory's models, the audit log of ``proxy.governance``, settings and the
untrusted-JSON parser, nothing else of ours.
"""
