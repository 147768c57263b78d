"""The FastAPI application factory."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.orm import Session, sessionmaker

from shadowlens.api.docs import add_docs
from shadowlens.api.openapidoc import document_errors
from shadowlens.api.routes import (
    alerts,
    audit,
    detections,
    findings,
    health,
    justifications,
    policy,
    reports,
    services,
    summary,
    users,
)
from shadowlens.api.routes import pac as pac_routes
from shadowlens.api.routes import tokens as token_routes
from shadowlens.proxy.auth.oidc import OidcVerifier
from shadowlens.proxy.catalog import HostIndex

API_PREFIX = "/api/v1"


def create_app(
    *,
    sessions: sessionmaker[Session],
    tokens: frozenset[str],
    catalog: HostIndex | None = None,
    oidc: OidcVerifier | None = None,
    policy_file: Path | None = None,
    pac: str | None = None,
) -> FastAPI:
    """The SOC API over ``sessions``; ``tokens`` are bootstrap tokens with the admin role.

    Every /api route depends on a role (see ``api.deps.require``); ``catalog`` supplies the
    default risk of services nobody has reviewed; ``oidc`` accepts OIDC JWTs too; ``pac`` is
    the /proxy.pac file (404 without one).
    """
    app = FastAPI(
        title="shadowlens",
        summary="Shadow-AI inventory: which AI services are used, by whom, with what data.",
        version="0.1.0",
        docs_url=None,  # served from the package's own assets by add_docs
        redoc_url=None,
    )
    app.state.sessions = sessions
    app.state.tokens = tokens
    app.state.catalog = catalog
    app.state.oidc = oidc
    app.state.policy_file = policy_file
    app.state.pac = pac
    app.include_router(health.router)
    app.include_router(pac_routes.router)
    routers = (
        services, detections, findings, justifications, users, summary, reports, policy, audit,
        token_routes, alerts,
    )  # fmt: skip
    for module in routers:
        app.include_router(module.router, prefix=API_PREFIX)
    app.add_exception_handler(RequestValidationError, _validation_error)  # type: ignore[arg-type]
    app.add_api_route("/metrics", _metrics, include_in_schema=False)
    add_docs(app)
    document_errors(app, routers=[module.router for module in routers], prefix=API_PREFIX)
    return app


async def _validation_error(request: Request, exc: RequestValidationError) -> JSONResponse:
    """Bad input gets the same body as every other error: ``{"detail": "..."}``."""
    problems = "; ".join(
        f"{'.'.join(str(p) for p in error['loc'])}: {error['msg']}" for error in exc.errors()
    )
    return JSONResponse({"detail": problems}, status_code=status.HTTP_422_UNPROCESSABLE_CONTENT)


def _metrics() -> Response:
    """Prometheus exposition of this process's metrics (proxy and writer too under `run`)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
