"""The FastAPI service over the inventory: a thin adapter, routes in ``api.routes``,
schemas in ``api.schemas`` apart from the ORM models. Routes call the service functions of
the inventory, governance, reports, auth, policy, alerts and catalog; never ``addons``.
"""
