"""The SOC analyst's curl session in the README, call by call, against a real inventory."""

from __future__ import annotations

import json
import re
import shlex
from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from shadowlens.api.app import create_app
from shadowlens.proxy.catalog import load_catalog
from shadowlens.proxy.inventory.events import FindingRecord
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import PROJECT_ROOT
from tests.conftest import RULES_DIR
from tests.factories import detection_event

README = (PROJECT_ROOT / "README.md").read_text()
AWS = FindingRecord("aws-access-key-id", "secret", "critical", 1, "AKIA****WB6P", "d" * 64, "/")


def session_calls() -> list[tuple[str, str, str, dict | None]]:
    """(comment, method, path with query, JSON body) of each curl in the README's session."""
    block = README.split("<!-- soc-session -->", 1)[1].split("<!-- /soc-session -->", 1)[0]
    calls = []
    comment = ""
    for line in block.splitlines():
        if line.startswith("# "):
            comment = line[2:]
        elif line.startswith("curl "):
            words = shlex.split(line)
            method = words[words.index("-X") + 1] if "-X" in words else "GET"
            url = next(w for w in words if w.startswith("$API"))
            body = json.loads(words[words.index("-d") + 1]) if "-d" in words else None
            parts = urlsplit(url.replace("$API", "http://api"))
            calls.append((comment, method, f"{parts.path}?{parts.query}", body))
    return calls


@pytest.fixture
def client(core: Core) -> Iterator[TestClient]:
    deepseek = {"service_id": "deepseek", "service_name": "DeepSeek", "vendor": "DeepSeek"}
    core.record(
        [
            detection_event(0, user="alice", findings=(AWS,), action="block"),
            detection_event(60, user="alice"),
            detection_event(3600, user="bob", **deepseek),
            detection_event(86_400 * 10, user="alice"),  # the week after
        ]
    )
    app = create_app(
        sessions=core.sessions, tokens=frozenset({"t"}), catalog=load_catalog(RULES_DIR)
    )
    with TestClient(app, headers={"Authorization": "Bearer t"}) as test_client:
        yield test_client


def test_the_session_has_the_five_calls_the_issue_asks_for() -> None:
    comments = [c for c, *_ in session_calls()]
    assert len(comments) == 5
    for words in ("top services this week", "alice", "by detector", "unsanctioned", "42001"):
        assert any(words in c for c in comments), words


def test_each_call_of_the_session_answers_as_the_readme_says(client: TestClient) -> None:
    results = []
    for _, method, path, body in session_calls():
        response = client.request(method, path, json=body)
        assert response.status_code == 200, (path, response.text)
        results.append(response)
    summary, alice, findings, patched, report = results
    assert [s["key"] for s in summary.json()["top_services"]] == ["chatgpt", "deepseek"]
    assert summary.json()["blocked"] == 1
    items = alice.json()["items"]
    assert len(items) == 2 and {i["user"] for i in items} == {"alice"}
    assert items[1]["data_classes"] == ["secret"] and items[1]["action"] == "block"
    [finding] = findings.json()["items"]
    assert finding["preview"] == "AKIA****WB6P"
    assert (patched.json()["status"], patched.json()["owner"]) == (
        "unsanctioned",
        "ciso@example.com",
    )
    markdown = report.text
    assert report.headers["content-type"].startswith("text/markdown")
    assert re.search(r"Services without an owner \(1\): chatgpt", markdown)
    assert "| deepseek | DeepSeek | chat_assistant | unsanctioned | ciso@example.com |" in markdown
    assert "finding:critical" in markdown and "not a certification" in markdown
    assert summary.json()["requests"] == 3  # the week after stays out of "this week"
