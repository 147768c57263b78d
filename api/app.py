"""The FastAPI application factory."""

from __future__ import annotations

from fastapi import Depends, FastAPI, Response
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from sqlalchemy.orm import Session, sessionmaker

from api.deps import require_token
from api.routes import detections, findings, health, services

API_PREFIX = "/api/v1"


def create_app(*, sessions: sessionmaker[Session], tokens: frozenset[str]) -> FastAPI:
    """The SOC API over ``sessions``; every /api route needs one of ``tokens``."""
    app = FastAPI(
        title="shadowlens",
        summary="Shadow-AI inventory: which AI services are used, by whom, with what data.",
        version="0.1.0",
    )
    app.state.sessions = sessions
    app.state.tokens = tokens
    app.include_router(health.router)
    guarded = [Depends(require_token)]
    app.include_router(services.router, prefix=API_PREFIX, dependencies=guarded)
    app.include_router(detections.router, prefix=API_PREFIX, dependencies=guarded)
    app.include_router(findings.router, prefix=API_PREFIX, dependencies=guarded)
    app.add_api_route("/metrics", _metrics, include_in_schema=False)
    return app


def _metrics() -> Response:
    """Prometheus exposition of this process's metrics (proxy and writer too under `run`)."""
    return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)
