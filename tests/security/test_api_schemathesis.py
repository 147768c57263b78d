"""schemathesis against the API's own OpenAPI schema, with a real token for each role.

Every operation is called with generated parameters and bodies, without a token (401) and
once per role: where the role is enough, no 5xx and every response must match its schema;
where it is not, 403. The
database is a real SQLite inventory holding detections with findings.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from shadowlens.api.app import create_app
from shadowlens.proxy.auth import tokens
from shadowlens.proxy.inventory.events import FindingRecord
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import Settings
from tests.conftest import RULES_DIR
from tests.factories import detection_event
from tests.hostile.fuzzing import EXAMPLES
from tests.test_api import ROUTE_ROLES

ROLES = ("viewer", "analyst", "admin")
CONFORMANCE = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def core(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Core]:
    folder = tmp_path_factory.mktemp("api")
    core = Core.open(
        Settings(
            data_dir=folder,
            database_url=f"sqlite:///{folder / 'inventory.db'}",
            rules_dir=RULES_DIR,
            api_tokens="bootstrap",
        )
    )
    finding = FindingRecord("aws-access-key-id", "secret", "high", 1, "AKIA…WB6P", "f" * 32, "/x")
    core.record([detection_event(n, findings=(finding,)) for n in range(20)])
    yield core
    core.close()


@pytest.fixture(scope="module")
def role_secrets(core: Core) -> dict[str, str]:
    with core.sessions.begin() as session:
        return {
            role: tokens.create_token(session, name=f"fuzz-{role}", role=role, actor="test")[1]
            for role in ROLES
        }


@pytest.fixture(scope="module")
def openapi(core: Core) -> tuple[schemathesis.BaseSchema, dict[str, Any]]:
    app = create_app(
        sessions=core.sessions,
        tokens=core.settings.token_set,
        policy_file=core.settings.policy_file,
    )
    return schemathesis.openapi.from_asgi("/openapi.json", app), app.openapi()


@pytest.mark.parametrize(("method", "path"), sorted(ROUTE_ROLES))
def test_every_operation_for_every_role(
    openapi: tuple[schemathesis.BaseSchema, dict[str, Any]],
    role_secrets: dict[str, str],
    method: str,
    path: str,
) -> None:
    needed = ROUTE_ROLES[(method, path)]
    operation = openapi[0][path][method]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=max(EXAMPLES // 8, 5), deadline=None, suppress_health_check=list(HealthCheck)
    )
    def check(case: schemathesis.Case) -> None:
        anonymous = case.call()
        assert anonymous.status_code == 401, (method, path)
        for role in ROLES:
            headers = {"Authorization": f"Bearer {role_secrets[role]}"}
            response = case.call(headers=headers)
            if not tokens.role_at_least(role, needed):
                assert response.status_code == 403, (role, method, path)
                case.validate_response(response, checks=[not_a_server_error])
                continue
            checks = CONFORMANCE
            case.validate_response(response, checks=checks, headers=headers)

    check()


def _error_schemas(spec: dict[str, Any], status: str) -> dict[tuple[str, str], Any]:
    """The documented body schema of ``status`` for every /api operation (None: undocumented)."""
    out = {}
    for path, operations in spec["paths"].items():
        for method, operation in operations.items():
            if path.startswith("/api/"):
                response = operation.get("responses", {}).get(status, {})
                content = response.get("content", {}).get("application/json", {})
                out[(method.upper(), path)] = content.get("schema")
    return out


ERROR_BODY = {"$ref": "#/components/schemas/ErrorBody"}


def test_every_documented_422_is_the_body_the_api_sends(
    openapi: tuple[schemathesis.BaseSchema, dict[str, Any]],
) -> None:
    documented = {k: v for k, v in _error_schemas(openapi[1], "422").items() if v is not None}
    assert documented
    assert {k: v for k, v in documented.items() if v != ERROR_BODY} == {}


def test_every_route_documents_401_and_403_where_a_role_can_be_too_low(
    openapi: tuple[schemathesis.BaseSchema, dict[str, Any]],
) -> None:
    unauthorised = _error_schemas(openapi[1], "401")
    forbidden = _error_schemas(openapi[1], "403")
    assert [route for route, schema in unauthorised.items() if schema != ERROR_BODY] == []
    # A viewer route takes any valid token, so it can never answer 403.
    above_viewer = [route for route, role in ROUTE_ROLES.items() if role != "viewer"]
    assert [route for route in above_viewer if forbidden.get(route) != ERROR_BODY] == []
