"""The OpenAPI document tells the truth about refusals: the 401, 403 and 422 it lists for
each /api route are the ones the API gives, with the body it gives (``{"detail": "..."}``)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import jsonschema
import pytest
from fastapi.testclient import TestClient

from shadowlens.proxy.runtime import Core
from tests.test_api import AUTH, ROUTE_ROLES, role_tokens
from tests.test_api import client as client

ERROR_REF = {"$ref": "#/components/schemas/ErrorBody"}
# A value each kind of parameter refuses.
BAD_VALUE = {"integer": "x", "date-time": "yesterday", "pattern": "??"}


@pytest.fixture
def schema(client: TestClient) -> dict[str, Any]:
    return dict(client.app.openapi())  # type: ignore[attr-defined]


def _operations(schema: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, operations in schema["paths"].items():
        if path.startswith("/api/"):
            for method, operation in operations.items():
                url = path.replace("{service_id}", "chatgpt").replace("{token_id}", "nope")
                yield method.upper(), url, operation


def _documented(schema: dict[str, Any], operation: dict[str, Any], status: str) -> dict[str, Any]:
    """The schema of the documented ``status`` body, resolved; fails when it is not ErrorBody."""
    assert operation["responses"][status]["content"]["application/json"]["schema"] == ERROR_REF
    return dict(schema["components"]["schemas"]["ErrorBody"])


def test_every_route_documents_the_401_it_gives(client: TestClient, schema: dict) -> None:
    operations = list(_operations(schema))
    assert len(operations) == len(ROUTE_ROLES)
    for method, url, operation in operations:
        body_schema = _documented(schema, operation, "401")
        answer = client.request(method, url, headers={"Authorization": "Bearer wrong"})
        assert answer.status_code == 401, (method, url)
        jsonschema.validate(answer.json(), body_schema)
        assert "WWW-Authenticate" in operation["responses"]["401"]["headers"]


def test_403_is_documented_exactly_where_a_role_can_be_too_low(
    client: TestClient,
    schema: dict,
    core: Core,
) -> None:
    viewer = {"Authorization": f"Bearer {role_tokens(core)['viewer']}"}
    for method, url, operation in _operations(schema):
        path = next(p for m, p in ROUTE_ROLES if m == method and _same(p, url))
        if ROUTE_ROLES[(method, path)] == "viewer":
            assert "403" not in operation["responses"], (method, url)
            continue
        body_schema = _documented(schema, operation, "403")
        answer = client.request(method, url, headers=viewer)
        assert answer.status_code == 403, (method, url)
        jsonschema.validate(answer.json(), body_schema)


def test_the_documented_422_body_is_the_one_returned(client: TestClient, schema: dict) -> None:
    assert "HTTPValidationError" not in schema["components"]["schemas"]
    provoked = 0
    for method, url, operation in _operations(schema):
        if "422" not in operation["responses"]:
            continue
        body_schema = _documented(schema, operation, "422")
        request = _bad_request(operation)
        if request is None:
            continue  # only free-text parameters: nothing to refuse
        answer = client.request(method, url, headers=AUTH, **request)
        assert answer.status_code == 422, (method, url, request)
        jsonschema.validate(answer.json(), body_schema)
        provoked += 1
    assert provoked >= 12


def _same(template: str, url: str) -> bool:
    return template.replace("{service_id}", "chatgpt").replace("{token_id}", "nope") == url


def _bad_request(operation: dict[str, Any]) -> dict[str, Any] | None:
    if "requestBody" in operation:
        return {"json": ["not", "an", "object"]}
    for parameter in operation.get("parameters", []):
        kinds = [parameter["schema"], *parameter["schema"].get("anyOf", [])]
        for kind in kinds:
            key = kind.get("format") or ("pattern" if "pattern" in kind else kind.get("type"))
            if key in BAD_VALUE:
                return {"params": {parameter["name"]: BAD_VALUE[key]}}
    return None
