"""The register, governance, filters, exports, summary, users, ISO 42001 report and audit log."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import timedelta

import pytest
from fastapi.testclient import TestClient

from shadowlens.api.app import create_app
from shadowlens.proxy.catalog import load_catalog
from shadowlens.proxy.inventory.events import FindingRecord
from shadowlens.proxy.runtime import Core
from tests.conftest import RULES_DIR
from tests.factories import T0, detection_event
from tests.test_api import AUTH, role_tokens

SECRET = FindingRecord("aws-access-key-id", "secret", "critical", 1, "AKIA****WB6P", "a" * 64, "/")
EMAIL = FindingRecord("email", "pii", "medium", 2, "a***@x.com", "b" * 64, "/m/0")


@pytest.fixture
def client(core: Core) -> Iterator[TestClient]:
    app = create_app(
        sessions=core.sessions, tokens=core.settings.token_set, catalog=load_catalog(RULES_DIR)
    )
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def traffic(core: Core) -> None:
    """A small day: alice uploads a key to ChatGPT and is blocked; bob uses Claude."""
    claude = {"service_id": "claude", "service_name": "Claude", "vendor": "Anthropic"}
    core.record(
        [
            detection_event(0, user="alice", groups="eng,sec", response_bytes=500),
            detection_event(60, user="alice", groups="eng,sec", findings=(SECRET,),
                            action="block", rule_id="no-secrets", conversation="c-1"),
            detection_event(120, user="alice", groups="eng,sec", findings=(EMAIL,),
                            action="redact", conversation="c-1"),
            detection_event(3600, user="bob", groups="sales", evidence="sni", **claude),
            detection_event(3700, user="bob", groups="sales", **claude),
        ]
    )  # fmt: skip


def _get(client: TestClient, path: str, **params: object) -> dict:
    response = client.get(path, params=params, headers=AUTH)  # type: ignore[arg-type]
    assert response.status_code == 200, response.text
    return dict(response.json())


def test_a_service_without_sourced_facts_is_unassessed_not_scored(
    client: TestClient, core: Core
) -> None:
    midjourney = {"service_id": "midjourney", "service_name": "Midjourney", "vendor": "Midjourney"}
    core.record([detection_event(0, **midjourney), detection_event(5)])
    items = {s["id"]: s for s in _get(client, "/api/v1/services")["items"]}
    unassessed = items["midjourney"]
    assert (unassessed["risk_score"], unassessed["risk_source"]) == (None, "unassessed")
    assert [f["name"] for f in unassessed["risk_factors"]] == ["unassessed"]
    assert items["chatgpt"]["risk_source"] == "catalog"
    ranked = {s["id"] for s in _get(client, "/api/v1/services", min_risk=0)["items"]}
    assert ranked == {"chatgpt"}


@pytest.mark.usefixtures("traffic")
def test_services_carry_counts_governance_and_risk(client: TestClient) -> None:
    items = {s["id"]: s for s in _get(client, "/api/v1/services")["items"]}
    chatgpt = items["chatgpt"]
    assert (chatgpt["users"], chatgpt["requests"], chatgpt["bytes_down"]) == (1, 3, 500)
    assert chatgpt["data_classes"] == ["pii", "secret"]
    assert chatgpt["status"] == "unknown" and chatgpt["owner"] is None
    assert chatgpt["risk_source"] == "catalog" and chatgpt["risk_factors"]
    assert chatgpt["risk_score"] == sum(f["points"] for f in chatgpt["risk_factors"])
    since = (T0 + timedelta(minutes=30)).isoformat()
    assert [s["id"] for s in _get(client, "/api/v1/services", seen_since=since)["items"]] == [
        "claude"
    ]
    high = _get(client, "/api/v1/services", min_risk=chatgpt["risk_score"] + 1)["items"]
    assert "chatgpt" not in {s["id"] for s in high}
    assert _get(client, "/api/v1/services", category="image_generation")["items"] == []


@pytest.mark.usefixtures("traffic")
def test_patch_governance_is_validated_applied_and_audited(client: TestClient) -> None:
    patch = {
        "status": "unsanctioned",
        "owner": "ciso@example.com",
        "risk_score": 80,
        "risk_factors": [{"name": "training", "points": 80, "reason": "trains on inputs"}],
        "review_due": "2026-12-01T00:00:00Z",
    }
    response = client.patch("/api/v1/services/chatgpt", json=patch, headers=AUTH)
    assert response.status_code == 200, response.text
    body = response.json()
    assert (body["status"], body["owner"], body["risk_score"]) == (
        "unsanctioned",
        patch["owner"],
        80,
    )
    assert body["risk_source"] == "review" and body["updated_by"] == "bootstrap-token"
    unsanctioned = _get(client, "/api/v1/services", status="unsanctioned")["items"]
    assert [s["id"] for s in unsanctioned] == ["chatgpt"]
    assert [s["id"] for s in _get(client, "/api/v1/services", status="unknown")["items"]] == [
        "claude"
    ]
    for bad in ({"status": "banned"}, {"risk_score": 101}, {"colour": "red"},
                {"review_due": "2026-12-01T00:00:00"}):  # fmt: skip
        response = client.patch("/api/v1/services/chatgpt", json=bad, headers=AUTH)
        assert response.status_code == 422, bad
        assert isinstance(response.json()["detail"], str)  # one error shape everywhere
    missing = client.patch("/api/v1/services/nope", json={"owner": "x"}, headers=AUTH)
    assert missing.status_code == 404 and "nope" in missing.json()["detail"]
    [entry] = _get(client, "/api/v1/audit")["items"]
    assert (entry["actor"], entry["action"], entry["target"]) == (
        "bootstrap-token", "governance.update", "chatgpt"
    )  # fmt: skip
    assert entry["before"] is None and entry["after"]["status"] == "unsanctioned"
    assert _get(client, "/api/v1/services/chatgpt")["status"] == "unsanctioned"


@pytest.mark.usefixtures("traffic")
def test_detection_filters(client: TestClient) -> None:
    def ids(**params: object) -> list[tuple[str, str]]:
        items = _get(client, "/api/v1/detections", **params)["items"]
        return [(d["user"], d["action"]) for d in items]

    assert ids(group="sec", action="block") == [("alice", "block")]
    assert ids(detector="email") == [("alice", "redact")]
    assert ids(severity="critical") == [("alice", "block")]
    assert len(ids(category="chat_assistant")) == 5  # ChatGPT and Claude both
    assert ids(evidence="sni") == [("bob", "monitor")]
    assert ids(group="se") == []  # whole group names only
    assert ids(conversation="c-1") == [("alice", "redact"), ("alice", "block")]
    items = _get(client, "/api/v1/detections", user="alice")["items"]
    assert [d["conversation"] for d in items] == ["c-1", "c-1", None]


@pytest.mark.usefixtures("traffic")
def test_finding_filters(client: TestClient) -> None:
    items = _get(client, "/api/v1/findings", user="alice", action="block")["items"]
    assert [f["detector"] for f in items] == ["aws-access-key-id"]
    assert _get(client, "/api/v1/findings", service="claude")["items"] == []
    assert len(_get(client, "/api/v1/findings", group="eng")["items"]) == 2
    by_conversation = _get(client, "/api/v1/findings", conversation="c-1")["items"]
    assert sorted(f["detector"] for f in by_conversation) == ["aws-access-key-id", "email"]
    assert _get(client, "/api/v1/findings", conversation="c-2")["items"] == []


@pytest.mark.usefixtures("traffic")
def test_exports_stream_csv_and_ndjson(client: TestClient) -> None:
    response = client.get("/api/v1/detections/export", params={"user": "bob"}, headers=AUTH)
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["user"] for r in rows] == ["bob", "bob"] and rows[0]["ts"] > rows[1]["ts"]
    response = client.get("/api/v1/findings/export", params={"format": "ndjson"}, headers=AUTH)
    lines = [json.loads(line) for line in response.text.splitlines()]
    assert {f["detector"] for f in lines} == {"aws-access-key-id", "email"}
    assert "fingerprint" in lines[0] and "AKIA" not in json.dumps([f["fingerprint"] for f in lines])
    bad = client.get("/api/v1/detections/export", params={"format": "xml"}, headers=AUTH)
    assert bad.status_code == 422


def test_export_of_many_rows_comes_in_chunks(client: TestClient, core: Core) -> None:
    core.record([detection_event(n) for n in range(2500)])
    with client.stream("GET", "/api/v1/detections/export", params={"format": "ndjson"},
                       headers=AUTH) as response:  # fmt: skip
        chunks = list(response.iter_text())
    assert sum(chunk.count("\n") for chunk in chunks) == 2500
    assert len(chunks) >= 3


@pytest.mark.usefixtures("traffic")
def test_users_top_n(client: TestClient) -> None:
    items = _get(client, "/api/v1/users", limit=1)["items"]
    assert [(u["id"], u["requests"], u["groups"]) for u in items] == [("alice", 3, ["eng", "sec"])]
    same_day = _get(client, "/api/v1/users", since=(T0 + timedelta(hours=1)).isoformat())
    assert [(u["id"], u["requests"]) for u in same_day["items"]] == [("alice", 3), ("bob", 2)]
    next_day = _get(client, "/api/v1/users", since=(T0 + timedelta(days=1)).isoformat())
    assert next_day["items"] == []  # ranges count whole UTC days


@pytest.mark.usefixtures("traffic")
def test_summary_from_rollups_hides_identities_from_viewers(client: TestClient, core: Core) -> None:
    period = {"since": T0.isoformat(), "until": (T0 + timedelta(days=1)).isoformat()}
    body = _get(client, "/api/v1/summary", **period)
    assert (body["requests"], body["services"], body["users"], body["findings"]) == (5, 2, 2, 2)
    assert (body["blocked"], body["redacted"]) == (1, 1)
    assert body["new_services"] == ["chatgpt", "claude"]
    assert body["top_services"][0] == {"key": "chatgpt", "count": 3}
    assert body["top_users"][0] == {"key": "alice", "count": 3}
    assert {d["key"] for d in body["top_detectors"]} == {"aws-access-key-id", "email"}
    viewer = {"Authorization": f"Bearer {role_tokens(core)['viewer']}"}
    as_viewer = client.get("/api/v1/summary", params=period, headers=viewer).json()
    assert as_viewer["top_users"] is None and "alice" not in json.dumps(as_viewer)
    later = _get(client, "/api/v1/summary", since=(T0 + timedelta(hours=1)).isoformat(),
                 until=(T0 + timedelta(hours=2)).isoformat())  # fmt: skip
    assert (later["requests"], later["new_services"]) == (2, ["claude"])
    reversed_period = {"since": period["until"], "until": period["since"]}
    backwards = client.get("/api/v1/summary", params=reversed_period, headers=AUTH)
    assert backwards.status_code == 422


@pytest.mark.usefixtures("traffic")
def test_iso42001_report_in_three_formats(client: TestClient, core: Core) -> None:
    client.patch("/api/v1/services/claude", headers=AUTH,
                 json={"status": "sanctioned", "owner": "it@example.com",
                       "review_due": "2026-11-01T00:00:00Z"})  # fmt: skip
    period = {"since": T0.isoformat(), "until": (T0 + timedelta(days=1)).isoformat()}
    report = _get(client, "/api/v1/reports/iso42001", **period)
    assert report["not_reviewed"] == ["chatgpt"] and report["no_owner"] == ["chatgpt"]
    assert report["reviews_overdue"] == ["claude"]
    kinds = sorted(i["kind"] for i in report["incidents"])
    assert kinds == ["block", "finding:critical"]
    refs = " ".join(c["ref"] for c in report["controls"])
    for ref in ("A.2.2", "A.3.2", "A.4.4", "A.5.2", "A.6.2.8", "A.8.4", "A.10.3"):
        assert ref in refs
    assert all(c["not_covered"] for c in report["controls"])  # honest about the gaps
    assert "not a certification" in report["disclaimer"]
    markdown = client.get("/api/v1/reports/iso42001", params=period | {"format": "md"},
                          headers=AUTH)  # fmt: skip
    assert markdown.headers["content-type"].startswith("text/markdown")
    assert "# ISO/IEC 42001 evidence report" in markdown.text
    assert "certified" not in markdown.text.lower().replace("iso/iec 42001 certified", "")
    table = client.get("/api/v1/reports/iso42001", params=period | {"format": "csv"}, headers=AUTH)
    rows = list(csv.reader(io.StringIO(table.text)))
    assert rows[0] == ["section", "key", "title", "status", "detail"]
    assert ["no_owner", "chatgpt", "", "", ""] in rows
    viewer = {"Authorization": f"Bearer {role_tokens(core)['viewer']}"}
    as_viewer = client.get("/api/v1/reports/iso42001", params=period, headers=viewer).json()
    assert all(i["user"] is None for i in as_viewer["incidents"])


def test_audit_pages_with_a_cursor(client: TestClient, core: Core) -> None:
    core.record([detection_event(0)])
    for n in range(5):
        client.patch("/api/v1/services/chatgpt", json={"notes": f"n{n}"}, headers=AUTH)
    seen: list[str] = []
    params: dict[str, object] = {"limit": 2}
    while True:
        page = _get(client, "/api/v1/audit", **params)
        seen += [e["after"]["notes"] for e in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ["n4", "n3", "n2", "n1", "n0"]
    bad = client.get("/api/v1/audit", params={"cursor": "x"}, headers=AUTH)
    assert bad.status_code == 422


FORMULAS = ("=HYPERLINK(\"http://evil.test\",\"x\")", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1)",
            "\tx", "\rx")  # fmt: skip


def test_csv_cells_cannot_become_formulas(client: TestClient, core: Core) -> None:
    host, model, account, user, service, _ = FORMULAS
    core.record([detection_event(0, host=host, model=model, account=account, user=user,
                                 service_id=service, action="block", rule_id="\rrule",
                                 findings=(SECRET,))])  # fmt: skip
    period = {"since": T0.isoformat(), "until": (T0 + timedelta(days=1)).isoformat(),
              "format": "csv"}  # fmt: skip
    exported = [
        client.get("/api/v1/detections/export", headers=AUTH).text,
        client.get("/api/v1/findings/export", headers=AUTH).text,
        client.get("/api/v1/reports/iso42001", params=period, headers=AUTH).text,
    ]
    cells = [cell for text in exported for row in csv.reader(io.StringIO(text)) for cell in row]
    for formula in (host, model, account, user, service, "\rrule"):
        assert "'" + formula in cells, formula
    assert not [c for c in cells if c[:1] in ("=", "+", "-", "@", "\t", "\r")]


def test_neutralise_leaves_numbers_and_plain_text() -> None:
    from shadowlens.proxy.reports.csvcells import neutralise

    assert [neutralise(v) for v in (-5, 1.5, None, "chatgpt", "a=b", *FORMULAS[4:])] == [
        -5, 1.5, None, "chatgpt", "a=b", "'\tx", "'\rx"
    ]  # fmt: skip


def test_coaching_justifications_reach_analysts_exports_and_the_report(
    client: TestClient, core: Core
) -> None:
    said = "Press release | draft\nno customer data"
    core.record([
        detection_event(0, user="carol"),
        detection_event(60, user="carol", action="coach", rule_id="coach-unsanctioned",
                        justification=said, allowed_until=T0 + timedelta(hours=8)),
    ])  # fmt: skip
    [given] = _get(client, "/api/v1/justifications", user="carol")["items"]
    assert (given["text"], given["service_id"], given["rule_id"]) == (
        said, "chatgpt", "coach-unsanctioned"
    )  # fmt: skip
    assert given["allowed_until"].startswith("2026-11-02T17:00")
    assert _get(client, "/api/v1/justifications", service="claude")["items"] == []
    until = T0 + timedelta(hours=1)
    core.record([detection_event(n, user="dan", action="coach", rule_id="r",
                                 justification=f"j{n}", allowed_until=until)
                 for n in range(3)])  # fmt: skip
    seen, params = [], {"user": "dan", "limit": 2}
    while True:
        page = _get(client, "/api/v1/justifications", **params)
        seen += [j["text"] for j in page["items"]]
        if page["next_cursor"] is None:
            break
        params["cursor"] = page["next_cursor"]
    assert seen == ["j2", "j1", "j0"]
    detections = _get(client, "/api/v1/detections")["items"]
    assert [d["justification"] for d in detections if d["user"] == "carol"] == [said, None]
    assert detections[0]["id"] == given["id"]
    exported = client.get("/api/v1/detections/export", params={"user": "carol"}, headers=AUTH)
    assert [r["justification"] for r in csv.DictReader(io.StringIO(exported.text))] == [said, ""]
    period = {"since": T0.isoformat(), "until": (T0 + timedelta(days=1)).isoformat()}
    report = _get(client, "/api/v1/reports/iso42001", **period)
    assert ("carol", said) in [(j["user"], j["text"]) for j in report["justifications"]]
    markdown = client.get("/api/v1/reports/iso42001", params=period | {"format": "md"},
                          headers=AUTH).text  # fmt: skip
    assert "| carol | Press release \\| draft no customer data |" in markdown
    table = client.get("/api/v1/reports/iso42001", params=period | {"format": "csv"},
                       headers=AUTH).text  # fmt: skip
    row = ["justification", given["ts"].replace("Z", "+00:00"), "chatgpt", "coach-unsanctioned",
           f"carol: {said}"]  # fmt: skip
    assert row in list(csv.reader(io.StringIO(table)))
    viewer = {"Authorization": f"Bearer {role_tokens(core)['viewer']}"}
    assert client.get("/api/v1/justifications", headers=viewer).status_code == 403
    hidden = client.get("/api/v1/reports/iso42001", params=period, headers=viewer).json()
    assert hidden["justifications"][0]["text"] is None and said not in json.dumps(hidden)
