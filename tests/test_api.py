"""The API in-process against a real database: auth on every route, filters, pagination."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shadowlens.api.app import create_app
from shadowlens.proxy.auth import tokens
from shadowlens.proxy.runtime import Core
from tests.factories import T0, detection_event

AUTH = {"Authorization": "Bearer t"}


@pytest.fixture
def client(core: Core) -> Iterator[TestClient]:
    app = create_app(
        sessions=core.sessions,
        tokens=core.settings.token_set,
        policy_file=core.settings.policy_file,
    )
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
    ("GET", "/api/v1/detections/{detection_id}"): "analyst",
    ("GET", "/api/v1/alerts"): "analyst",
    ("GET", "/api/v1/findings"): "analyst",
    ("GET", "/api/v1/findings/export"): "analyst",
    ("GET", "/api/v1/justifications"): "analyst",
    ("GET", "/api/v1/users"): "analyst",
    ("GET", "/api/v1/policy"): "viewer",
    ("GET", "/api/v1/audit"): "admin",
    ("GET", "/api/v1/tokens"): "admin",
    ("POST", "/api/v1/tokens"): "admin",
    ("DELETE", "/api/v1/tokens/{token_id}"): "admin",
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
    event = detection_event(1)
    core.record([event])
    assert set(_api_routes(client)) == set(ROUTE_ROLES), "classify every new route here"
    secrets_by_role = role_tokens(core)
    with core.sessions.begin() as session:
        victim = tokens.create_token(session, name="victim", role="viewer", actor="test")[0].id
    for (method, path), needed in ROUTE_ROLES.items():
        url = path.replace("{service_id}", "chatgpt").replace("{token_id}", victim)
        url = url.replace("{detection_id}", event.id)
        body = {"name": "x", "role": "viewer"} if "tokens" in path else {"notes": "role test"}
        success = 201 if method == "POST" else 200
        for role, secret in secrets_by_role.items():
            headers = {"Authorization": f"Bearer {secret}"}
            response = client.request(method, url, headers=headers, json=body)
            allowed = tokens.role_at_least(role, needed)
            expected = success if allowed else 403
            assert response.status_code == expected, (method, path, role, response.text)
        bootstrap = client.request(method, url, headers=AUTH, json=body)
        assert bootstrap.status_code == success, (method, path)  # bootstrap tokens are admin


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
    from shadowlens.proxy.inventory.db import make_engine, session_factory
    from tests.e2e.conftest import closed_port

    engine = make_engine(f"postgresql://nobody@127.0.0.1:{closed_port()}/none")
    app = create_app(sessions=session_factory(engine), tokens=frozenset({"t"}))
    with TestClient(app) as test_client:
        response = test_client.get("/healthz")
    assert response.status_code == 503
    assert response.json() == {"status": "degraded", "database": "unreachable"}


def test_tokens_through_the_api(client: TestClient) -> None:
    made = client.post("/api/v1/tokens", json={"name": "dash", "role": "viewer"}, headers=AUTH)
    assert made.status_code == 201
    secret, token_id = made.json()["token"], made.json()["id"]
    viewer = {"Authorization": f"Bearer {secret}"}
    assert client.get("/api/v1/services", headers=viewer).status_code == 200
    listed = client.get("/api/v1/tokens", headers=AUTH).json()["items"]
    assert [t["id"] for t in listed] == [token_id] and secret not in str(listed)
    assert client.delete(f"/api/v1/tokens/{token_id}", headers=AUTH).json()["revoked_at"]
    assert client.get("/api/v1/services", headers=viewer).status_code == 401
    assert client.delete("/api/v1/tokens/nope", headers=AUTH).status_code == 404
    bad = client.post("/api/v1/tokens", json={"name": "x", "role": "root"}, headers=AUTH)
    assert bad.status_code == 422 and isinstance(bad.json()["detail"], str)
    actions = [e["action"] for e in client.get("/api/v1/audit", headers=AUTH).json()["items"]]
    assert actions == ["token.revoke", "token.create"]


def test_policy_view_shows_rules_but_not_tenant_secrets(tmp_path: Path, core: Core) -> None:
    policy = Path(__file__).parent / "fixtures" / "policy" / "scenario.yaml"
    app = create_app(sessions=core.sessions, tokens=frozenset({"t"}), policy_file=policy)
    with TestClient(app) as test_client:
        body = test_client.get("/api/v1/policy", headers=AUTH).json()
    assert body["status"]["services"] == {"chatgpt": "sanctioned", "deepseek": "unsanctioned"}
    rules = {r["id"]: r for r in body["rules"]}
    assert rules["block-code-to-unsanctioned"]["when"] == {
        "status": ["unknown", "unsanctioned"],
        "data": ["code"],
    }
    assert body["tenant_restrictions"][0]["headers"] == ["ChatGPT-Allowed-Workspace-Id"]
    assert "ws-corp-1234" not in str(body)
    broken = tmp_path / "policy.yaml"
    broken.write_text("rules: [{id: x}]")
    app = create_app(sessions=core.sessions, tokens=frozenset({"t"}), policy_file=broken)
    with TestClient(app) as test_client:
        refused = test_client.get("/api/v1/policy", headers=AUTH)
    assert refused.status_code == 503 and "policy.yaml: x:" in refused.json()["detail"]
