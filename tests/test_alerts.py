"""Alert rules end to end: the rules file, matching, de-duplication, Slack and Teams messages
to a local webhook receiver, the record, GET /api/v1/alerts, the link, and the periodic
check of the register."""

from __future__ import annotations

import asyncio
import json
import shutil
import textwrap
from collections.abc import Iterator, Sequence
from datetime import timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi.testclient import TestClient

from shadowlens.api.app import create_app
from shadowlens.proxy.alerts.engine import AlertMatcher
from shadowlens.proxy.alerts.rules import load_alert_rules
from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.governance.register import update_governance
from shadowlens.proxy.inventory.events import DetectionEvent, FindingRecord
from shadowlens.proxy.reload import RulesWatcher
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import PROJECT_ROOT
from tests.factories import T0, detection_event
from tests.receivers import HttpCollector

AUTH = {"Authorization": "Bearer t"}
SECRET = "AKIAZ7Q2XK4M7TR3WB6P"
CRITICAL = FindingRecord("aws-access-key-id", "secret", "critical", 1, "AKIA…WB6P", "fp:1", "body")
LOW = FindingRecord("email-address", "pii", "low", 1, "a…@example.com", "fp:2", "body")


def _rules_file(path: Path, slack: str, teams: str) -> Path:
    path.write_text(
        textwrap.dedent(f"""
        webhooks:
          slack: {{url: "{slack}", format: slack}}
          teams: {{url: "{teams}", format: teams}}
          quiet: {{url: "", format: slack}}
        rules:
          - {{id: high-finding, kind: finding, min_severity: high, severity: high,
              notify: [slack, teams]}}
          - {{id: blocked, kind: action, actions: [block], notify: [slack]}}
          - {{id: new-service, kind: new_service, status: [unknown, unsanctioned],
              notify: [quiet]}}
          - {{id: volume, kind: upload_volume, bytes: 1000, window_minutes: 10, notify: [slack]}}
          - {{id: overdue, kind: review_overdue, notify: [slack]}}
          - {{id: ownerless, kind: no_owner, days: 14, notify: [slack]}}
        """)
    )
    return path


@pytest.fixture
def hooks() -> Iterator[tuple[HttpCollector, HttpCollector]]:
    with HttpCollector() as slack, HttpCollector() as teams:
        yield slack, teams


def _deliver(core: Core, matcher: AlertMatcher, events: Sequence[DetectionEvent]) -> None:
    """Record the events and run them through the alert rules as the proxy does."""
    core.record(events)

    async def run() -> None:
        hub = core.sink_hub(matcher)
        hub.start()
        for event in events:
            hub.submit(event)
        await hub.close()

    asyncio.run(run())


def _client(core: Core) -> TestClient:
    return TestClient(create_app(sessions=core.sessions, tokens=core.settings.token_set))


def test_the_shipped_rules_file_loads() -> None:
    rules = load_alert_rules(PROJECT_ROOT / "rules" / "alerts.yaml")
    kinds = {r.kind for r in rules.rules}
    assert kinds == {"finding", "action", "new_service", "upload_volume", "review_overdue",
                     "no_owner"}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("rules: [{id: a, kind: finding, notify: [nobody]}]", "unknown webhooks"),
        ("rules: [{id: a, kind: finding}, {id: a, kind: action, actions: [block]}]", "duplicate"),
        ("rules: [{id: a, kind: upload_volume}]", "bytes"),
        ("rules: [{id: a, kind: whatever}]", "kind"),
        ("webhooks: {x: {url: 'ftp://x', format: slack}}\nrules: []", "url"),
        ("rules: [{id: a, kind: action, actions: [block], dedupe: {key: [password]}}]", "key"),
    ],
)
def test_a_bad_rules_file_is_refused_with_its_reason(
    tmp_path: Path, text: str, reason: str
) -> None:
    path = tmp_path / "alerts.yaml"
    path.write_text(text)
    with pytest.raises(RulesError, match=reason):
        load_alert_rules(path)


def test_findings_blocks_and_new_services_alert_once_with_a_link(
    core: Core, tmp_path: Path, hooks: tuple[HttpCollector, HttpCollector]
) -> None:
    slack, teams = hooks
    matcher = AlertMatcher(load_alert_rules(_rules_file(tmp_path / "a.yaml", slack.url, teams.url)))
    leak = detection_event(1, findings=(CRITICAL, LOW), service_id="deepseek",
                           service_name="DeepSeek")  # fmt: skip
    again = detection_event(2, findings=(CRITICAL,), service_id="deepseek", service_name="DeepSeek")
    quiet = detection_event(3, findings=(LOW,))
    block = detection_event(4, action="block", rule_id="no-deepseek")
    _deliver(core, matcher, [leak, again, quiet, block])

    alerts = _client(core).get("/api/v1/alerts", headers=AUTH).json()["items"]
    by_rule = {a["rule_id"]: a for a in alerts}
    assert sorted(a["rule_id"] for a in alerts) == [
        "blocked", "high-finding", "new-service", "new-service"
    ]  # fmt: skip
    finding = by_rule["high-finding"]
    assert finding["detection_id"] == leak.id and finding["status"] == "sent"
    assert finding["dedupe_key"] == "user=alice,detector=aws-access-key-id"
    new = [a for a in alerts if a["rule_id"] == "new-service"]
    assert {a["service_id"] for a in new} == {"deepseek", "chatgpt"}  # each once
    assert {a["status"] for a in new} == {"recorded"}  # its webhook has no url

    assert len(slack.received) == 2 and len(teams.received) == 1
    slack_text = json.loads(slack.received[0].body)["text"]
    link = f"http://127.0.0.1:{core.settings.api_port}/api/v1/detections/{leak.id}"
    assert f"<{link}|Open in shadowlens>" in slack_text
    card = json.loads(teams.received[0].body)["attachments"][0]["content"]
    assert card["actions"][0]["url"] == link
    detection = _client(core).get(urlsplit(link).path, headers=AUTH).json()
    assert detection["id"] == leak.id
    assert _client(core).get("/api/v1/detections/nope", headers=AUTH).status_code == 404
    assert all(SECRET not in r.body.decode() for r in slack.received + teams.received)


def test_a_service_seen_before_or_sanctioned_raises_no_new_service_alert(
    core: Core, tmp_path: Path, hooks: tuple[HttpCollector, HttpCollector]
) -> None:
    matcher = AlertMatcher(
        load_alert_rules(_rules_file(tmp_path / "a.yaml", *[h.url for h in hooks]))
    )
    core.record([detection_event(0, service_id="claude", service_name="Claude")])
    with core.sessions.begin() as session:
        update_governance(session, service_id="claude", changes={"status": "unknown"}, actor="t")
    core.record([detection_event(0, service_id="gemini", service_name="Gemini")])
    with core.sessions.begin() as session:
        update_governance(session, service_id="gemini", changes={"status": "sanctioned"}, actor="t")
    later = [detection_event(10, service_id=s, service_name=s) for s in ("claude", "gemini")]
    _deliver(core, matcher, later)
    assert _client(core).get("/api/v1/alerts", headers=AUTH).json()["items"] == []


def test_policy_status_decides_for_a_service_never_reviewed(
    core: Core, tmp_path: Path, hooks: tuple[HttpCollector, HttpCollector]
) -> None:
    rules = load_alert_rules(_rules_file(tmp_path / "a.yaml", *[h.url for h in hooks]))
    sanctioned = AlertMatcher(rules, status_of=lambda event: "sanctioned")
    _deliver(core, sanctioned, [detection_event(1, service_id="mistral", service_name="Mistral")])
    assert _client(core).get("/api/v1/alerts", headers=AUTH).json()["items"] == []


def test_upload_volume_over_the_window_alerts_and_is_deduplicated(
    core: Core, tmp_path: Path, hooks: tuple[HttpCollector, HttpCollector]
) -> None:
    matcher = AlertMatcher(
        load_alert_rules(_rules_file(tmp_path / "a.yaml", *[h.url for h in hooks]))
    )
    spread = [detection_event(n * 300, request_bytes=400) for n in range(4)]  # 400 B / 5 min
    burst = [detection_event(2000 + n, request_bytes=400, user="bob") for n in range(4)]
    _deliver(core, matcher, spread + burst)
    volume = _client(core).get("/api/v1/alerts?rule=volume", headers=AUTH).json()["items"]
    # alice: 400 B every 5 minutes, at most 1,200 B in any 10 minutes: over 1,000 once, then
    # de-duplicated; bob: 1,200 B within seconds.
    assert sorted(a["user"] for a in volume) == ["alice", "bob"]
    assert all(a["status"] == "sent" for a in volume)


def test_slack_and_teams_text_from_traffic_cannot_inject_links(
    core: Core, tmp_path: Path, hooks: tuple[HttpCollector, HttpCollector]
) -> None:
    slack, teams = hooks
    matcher = AlertMatcher(load_alert_rules(_rules_file(tmp_path / "a.yaml", slack.url, teams.url)))
    user = "<https://evil.example|click me> [x](https://evil.example) <!channel>"
    _deliver(core, matcher, [detection_event(1, findings=(CRITICAL,), user=user)])
    slack_text = json.loads(slack.received[0].body)["text"]
    assert "<https://evil" not in slack_text and "<!channel>" not in slack_text
    assert "&lt;https://evil.example|click me&gt;" in slack_text
    teams_text = json.loads(teams.received[0].body)["attachments"][0]["content"]["body"][0]["text"]
    assert "[x](https://evil.example)" not in teams_text


def test_a_webhook_that_never_answers_is_recorded_as_failed(core: Core, tmp_path: Path) -> None:
    with HttpCollector(fail_first=100) as down:
        rules = load_alert_rules(_rules_file(tmp_path / "a.yaml", down.url, ""))
        _deliver(core, AlertMatcher(rules), [detection_event(1, action="block")])
    [alert] = _client(core).get("/api/v1/alerts?rule=blocked", headers=AUTH).json()["items"]
    assert alert["status"] == "failed" and down.refused == 3


def test_overdue_reviews_and_ownerless_services_alert_from_the_periodic_check(
    core: Core, tmp_path: Path, hooks: tuple[HttpCollector, HttpCollector]
) -> None:
    slack, _ = hooks
    matcher = AlertMatcher(load_alert_rules(_rules_file(tmp_path / "a.yaml", slack.url, "")))
    core.record([detection_event(0, service_id=s, service_name=s) for s in ("old", "reviewed")])
    with core.sessions.begin() as session:
        changes = {"owner": "ciso@example.com", "review_due": T0}
        update_governance(session, service_id="reviewed", changes=changes, actor="t")
    check = core.alert_check(matcher)
    first = check.step()
    assert sorted((a.rule_id, a.service_id) for a in first) == [
        ("overdue", "reviewed"), ("ownerless", "old")
    ]  # fmt: skip
    assert check.step() == []  # de-duplicated within each rule's window
    link = next(a.link for a in first if a.rule_id == "ownerless")
    assert link.endswith("/api/v1/services/old")
    assert len(slack.received) == 2


def test_a_fresh_service_without_owner_does_not_alert_yet(core: Core, tmp_path: Path) -> None:
    matcher = AlertMatcher(load_alert_rules(_rules_file(tmp_path / "a.yaml", "", "")))
    recent = detection_event(0).ts.replace(year=2099) - timedelta(days=1)
    core.record([detection_event(0, ts=recent)])
    assert all(a.rule_id != "ownerless" for a in core.alert_check(matcher).step())


def test_the_alert_rules_reload_and_a_bad_edit_keeps_the_last_good(tmp_path: Path) -> None:
    path = tmp_path / "alerts.yaml"
    shutil.copy(PROJECT_ROOT / "rules" / "alerts.yaml", path)
    matcher = AlertMatcher(load_alert_rules(path))
    watcher: RulesWatcher[Any] = RulesWatcher(
        [path], kind="alerts", load=lambda: load_alert_rules(path),
        apply=lambda new: setattr(matcher, "rules", new),
    )  # fmt: skip
    path.write_text("rules: [{id: only, kind: action, actions: [block]}]\n")
    assert watcher.poll() and [r.id for r in matcher.rules.rules] == ["only"]
    path.write_text("rules: [{id: only, kind: nonsense}]\n")
    assert not watcher.poll() and [r.id for r in matcher.rules.rules] == ["only"]
