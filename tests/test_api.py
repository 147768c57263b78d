"""The API in-process against a real database: auth on every route, filters, pagination."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient

from api.app import create_app
from proxy.inventory import tokens
from proxy.runtime import Core
from tests.factories import T0, detection_event

AUTH = {"Authorization": "Bearer t"}


@pytest.fixture
def client(core: Core) -> Iterator[TestClient]:
    app = create_app(sessions=core.sessions, tokens=core.settings.token_set)
    with TestClient(app) as test_client:
        yield test_client


def _api_routes(client: TestClient) -> list[tuple[str, str]]:
    paths = client.app.openapi()["paths"]  # type: ignore[attr-defined]
    return [(m.upper(), p) for p, ops in paths.items() for m in ops if p.startswith("/api/")]


# The least role each route needs. A route missing here fails the test below, so a new
# route cannot ship without a decision on who may call it.
ROUTE_ROLES = {
    ("GET", "/api/v1/services"): "viewer",
    ("GET", "/api/v1/services/{service_id}"): "viewer",
    ("PATCH", "/api/v1/services/{service_id}"): "admin",
    ("GET", "/api/v1/summary"): "viewer",
    ("GET", "/api/v1/reports/iso42001"): "viewer",
    ("GET", "/api/v1/detections"): "analyst",
    ("GET", "/api/v1/detections/export"): "analyst",
    ("GET", "/api/v1/findings"): "analyst",
    ("GET", "/api/v1/findings/export"): "analyst",
    ("GET", "/api/v1/users"): "analyst",
    ("GET", "/api/v1/audit"): "admin",
}


def role_tokens(core: Core) -> dict[str, str]:
    """A stored token for each role."""
    with core.sessions.begin() as session:
        return {
            role: tokens.create_token(session, name=f"test-{role}", role=role, actor="test")[1]
            for role in tokens.ROLES
        }


def test_every_api_route_requires_a_valid_token(client: TestClient) -> None:
    routes = _api_routes(client)
    assert len(routes) >= 2
    for method, path in routes:
        for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer "}):
            response = client.request(method, path, headers=headers)
            assert response.status_code == 401, (method, path, headers)
            assert response.headers["www-authenticate"] == "Bearer"


def test_every_api_route_has_a_role_and_enforces_it(client: TestClient, core: Core) -> None:
    core.record([detection_event(1)])
    assert set(_api_routes(client)) == set(ROUTE_ROLES), "classify every new route here"
    secrets_by_role = role_tokens(core)
    body = {"notes": "role test"}
    for (method, path), needed in ROUTE_ROLES.items():
        url = path.replace("{service_id}", "chatgpt")
        for role, secret in secrets_by_role.items():
            headers = {"Authorization": f"Bearer {secret}"}
            response = client.request(method, url, headers=headers, json=body)
            allowed = tokens.role_at_least(role, needed)
            expected = 200 if allowed else 403
            assert response.status_code == expected, (method, path, role, response.text)
        bootstrap = client.request(method, url, headers=AUTH, json=body)
        assert bootstrap.status_code == 200, (method, path)  # bootstrap tokens are admin


def test_a_revoked_token_is_refused_at_once(client: TestClient, core: Core) -> None:
    with core.sessions.begin() as session:
        row, secret = tokens.create_token(session, name="temp", role="viewer", actor="test")
    headers = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/services", headers=headers).status_code == 200
    with core.sessions.begin() as session:
        tokens.revoke_token(session, token_id=row.id, actor="test")
    assert client.get("/api/v1/services", headers=headers).status_code == 401


def test_services_newest_first(client: TestClient, core: Core) -> None:
    core.record([detection_event(1)])
    core.record([detection_event(5, service_id="claude", service_name="Claude", vendor="A")])
    items = client.get("/api/v1/services", headers=AUTH).json()["items"]
    assert [i["id"] for i in items] == ["claude", "chatgpt"]
    assert items[1]["requests"] == 1 and items[1]["bytes_up"] == 100


def test_detections_filter_and_paginate(client: TestClient, core: Core) -> None:
    core.record([detection_event(n, user="bob" if n < 3 else "alice") for n in range(10)])
    params: dict[str, str | int] = {"user": "alice", "limit": 3}
    pages = []
    while True:
        body = client.get("/api/v1/detections", params=params, headers=AUTH).json()
        pages.append(body["items"])
        if body["next_cursor"] is None:
            break
        params["cursor"] = body["next_cursor"]
    assert [len(p) for p in pages] == [3, 3, 1]
    timestamps = [i["ts"] for page in pages for i in page]
    assert timestamps == sorted(timestamps, reverse=True)
    assert all(i["user"] == "alice" for page in pages for i in page)


def test_time_filters(client: TestClient, core: Core) -> None:
    core.record([detection_event(n) for n in range(10)])
    params = {"since": "2026-11-02T09:00:02Z", "until": "2026-11-02T09:00:05+00:00"}
    items = client.get("/api/v1/detections", params=params, headers=AUTH).json()["items"]
    assert len(items) == 3
    naive = client.get(
        "/api/v1/detections", params={"since": T0.replace(tzinfo=None).isoformat()}, headers=AUTH
    )
    assert naive.status_code == 422


def test_bad_cursor_and_limit_are_clear_errors(client: TestClient) -> None:
    bad_cursor = client.get("/api/v1/detections", params={"cursor": "%%%"}, headers=AUTH)
    assert bad_cursor.status_code == 422 and "cursor" in bad_cursor.json()["detail"]
    assert client.get("/api/v1/detections", params={"limit": 0}, headers=AUTH).status_code == 422


def test_healthz_and_metrics_need_no_token(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok", "database": "ok"}
    metrics = client.get("/metrics")
    assert metrics.status_code == 200 and "shadowlens_flows_total" in metrics.text


def test_healthz_reports_an_unreachable_database() -> None:
    from proxy.inventory.db import make_engine, session_factory
    from tests.e2e.conftest import closed_port

    engine = make_engine(f"postgresql://nobody@127.0.0.1:{closed_port()}/none")
    app = create_app(sessions=session_factory(engine), tokens=frozenset({"t"}))
    with TestClient(app) as test_client:
        response = test_client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "database": "unreachable"}
