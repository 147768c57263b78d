"""The FastAPI service over the inventory: a thin adapter, routes in ``api.routes``."""
