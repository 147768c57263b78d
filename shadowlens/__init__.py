"""shadowlens: a shadow-AI discovery proxy.

The installed namespace. The repository keeps the three parts as top-level folders
(``proxy/`` the core, ``addons/`` the mitmproxy adapters, ``api/`` the FastAPI adapter), and
this folder holds them as ``shadowlens.proxy``, ``shadowlens.addons`` and ``shadowlens.api``
through symbolic links, so the wheel installs one name, ``shadowlens``, and cannot collide
with another distribution's ``proxy``, ``api`` or ``addons`` (docs/architecture.md).
"""
