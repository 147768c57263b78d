"""shadowlens core: one package per domain (catalog, dlp, policy, inventory, governance,
reports, auth, logs, sinks, alerts) and the modules they share. It imports neither mitmproxy
nor FastAPI; only the composition root (the ``cli`` modules) imports the adapters, and
tests/test_import_map.py holds the map of what may import what.
"""
