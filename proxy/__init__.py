"""shadowlens core: catalog, DLP, policy and inventory. Imports neither mitmproxy nor FastAPI."""
