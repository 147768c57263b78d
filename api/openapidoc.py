"""The OpenAPI document says what the API really answers when it refuses a request.

FastAPI knows nothing of our auth: a dependency that raises 401 or 403 leaves no trace in
the document, and its 422 schema is its own, not the ``{"detail": "..."}`` body that
``api.app`` returns for every error. This adds the 401 of every /api route, the 403 of those
that need more than the lowest role, and points every 422 at that body.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from fastapi import APIRouter, FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute

from shadowlens.api.deps import require
from shadowlens.proxy.auth.tokens import ROLES

ERROR_SCHEMA = {"$ref": "#/components/schemas/ErrorBody"}
_LOWEST_ROLE = ROLES[0]
_CHECK_PREFIX = require(_LOWEST_ROLE).__name__.removesuffix(_LOWEST_ROLE)  # "require_"


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": ERROR_SCHEMA}},
            **extra}  # fmt: skip


UNAUTHORIZED = _error(
    "No bearer token, or one that is unknown, revoked or expired.",
    headers={"WWW-Authenticate": {"schema": {"type": "string"}, "description": "Bearer"}},
)
FORBIDDEN = _error("The token's role is too low for this route.")


def _roles(dependant: Dependant) -> Iterator[str]:
    for dependency in dependant.dependencies:
        name = getattr(dependency.call, "__name__", "")
        if name.startswith(_CHECK_PREFIX):
            yield name.removeprefix(_CHECK_PREFIX)
        yield from _roles(dependency)


def _document(operation: dict[str, Any], route: APIRoute) -> None:
    responses = operation["responses"]
    responses.setdefault("401", UNAUTHORIZED)
    if any(role != _LOWEST_ROLE for role in _roles(route.dependant)):
        responses.setdefault("403", FORBIDDEN)
    if "422" in responses:
        responses["422"]["content"] = {"application/json": {"schema": ERROR_SCHEMA}}


def document_errors(app: FastAPI, *, routers: Sequence[APIRouter], prefix: str) -> None:
    """Make ``app.openapi()`` document the 401, 403 and 422 of ``routers``, mounted at ``prefix``.

    The routers' own routes are read, not the app's: FastAPI wraps included routers.
    """
    build = app.openapi
    routes = [r for router in routers for r in router.routes if isinstance(r, APIRoute)]

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            schema = build()
            for route in routes:
                operations = schema["paths"][prefix + route.path]
                for method in route.methods or ():
                    _document(operations[method.lower()], route)
            for unused in ("HTTPValidationError", "ValidationError"):
                schema["components"]["schemas"].pop(unused, None)
        return app.openapi_schema or {}

    app.openapi = openapi  # type: ignore[method-assign]
