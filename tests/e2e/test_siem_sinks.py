"""Issue 13's sinks and alerts through the real proxy: a real SDK upload carrying a secret
reaches every configured sink (NDJSON native, ECS and OCSF files, syslog CEF over TCP, a
webhook that fails first, Splunk HEC) and the alert webhook, and no raw value reaches any."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import openai
import pytest

from tests.e2e.conftest import RunningProxy, running_shadowlens
from tests.e2e.upstream import Upstream
from tests.receivers import HttpCollector, SyslogServer

pytestmark = pytest.mark.e2e

AWS_KEY = "AKIAZ7Q2XK4M7TR3WB6P"
CARD = "4539 1488 0343 6467"  # Luhn-valid, Visa prefix
RAW_VALUES = (AWS_KEY, CARD, CARD.replace(" ", ""))
BASE_URL = "https://shadowlens.example.com"


@pytest.fixture(scope="module")
def receivers() -> Iterator[dict[str, Any]]:
    with (
        HttpCollector(fail_first=2) as webhook,
        HttpCollector() as hec,
        HttpCollector() as slack,
        SyslogServer() as syslog,
    ):
        yield {"webhook": webhook, "hec": hec, "slack": slack, "syslog": syslog}


@pytest.fixture(scope="module")
def proxy(
    tmp_path_factory: pytest.TempPathFactory,
    upstream: Upstream,
    receivers: dict[str, Any],
) -> Iterator[RunningProxy]:
    data_dir = tmp_path_factory.mktemp("data")
    out = data_dir / "siem"
    sinks = [
        {"name": f"file-{fmt}", "kind": "file", "format": fmt, "path": str(out / f"{fmt}.ndjson"),
         "flush_seconds": 0.05}
        for fmt in ("native", "ecs", "ocsf")
    ] + [
        {"name": "syslog", "kind": "syslog", "url": receivers["syslog"].url, "flush_seconds": 0.05},
        {"name": "hook", "kind": "webhook", "url": receivers["webhook"].url, "secret": "k",
         "format": "ocsf", "flush_seconds": 0.05},
        {"name": "splunk", "kind": "hec", "url": receivers["hec"].url, "token": "hec-token",
         "format": "ecs", "flush_seconds": 0.05},
    ]  # fmt: skip
    alerts = data_dir / "alerts.yaml"
    alerts.write_text(
        f'webhooks: {{soc: {{url: "{receivers["slack"].url}", format: slack}}}}\n'
        "rules: [{id: leak, kind: finding, min_severity: high, notify: [soc]}]\n"
    )
    env = {
        "SHADOWLENS_SINKS": json.dumps(sinks),
        "SHADOWLENS_ALERTS_FILE": str(alerts),
        "SHADOWLENS_API_BASE_URL": BASE_URL,
    }
    with running_shadowlens(data_dir, upstream, env) as running:
        yield running


def _wait(condition: object, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition() and time.monotonic() < deadline:  # type: ignore[operator]
        time.sleep(0.1)


def test_an_upload_reaches_every_sink_and_the_alert_without_its_secret(
    proxy: RunningProxy,
    receivers: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", proxy.proxy_url)
    monkeypatch.setenv("SSL_CERT_FILE", str(proxy.ca_file))
    client = openai.OpenAI(api_key="sk-test-not-a-real-key", max_retries=0)
    prompt = f"Deploy with {AWS_KEY} and charge card {CARD} please."
    client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
    )
    [detection] = proxy.wait_for_detections(1, service="openai-api")
    webhook, hec, slack = (receivers[k] for k in ("webhook", "hec", "slack"))
    syslog: SyslogServer = receivers["syslog"]
    out = proxy.data_dir / "siem"
    _wait(lambda: all((out / f"{f}.ndjson").exists() for f in ("native", "ecs", "ocsf")))
    _wait(lambda: webhook.received and hec.received and slack.received and syslog.messages)

    native = json.loads((out / "native.ndjson").read_text().splitlines()[0])
    ecs = json.loads((out / "ecs.ndjson").read_text().splitlines()[0])
    ocsf = [json.loads(line) for line in (out / "ocsf.ndjson").read_text().splitlines()]
    assert native["id"] == ecs["event"]["id"] == ocsf[0]["metadata"]["uid"] == detection["id"]
    assert [r["class_uid"] for r in ocsf] == [4002, 2004, 2004]
    assert syslog.errors == []
    assert syslog.messages[0]["cef"]["extension"]["externalId"] == detection["id"]
    assert webhook.refused == 2  # delivered after its spool was retried
    assert json.loads(webhook.received[0].body)[0]["metadata"]["uid"] == detection["id"]
    assert f"{BASE_URL}/api/v1/detections/{detection['id']}" in slack.received[0].body.decode()
    findings = proxy.api("/api/v1/findings").json()["items"]
    _wait(lambda: len(slack.received) >= len(findings))
    alerts = proxy.api("/api/v1/alerts").json()["items"]  # one per detector of high severity
    assert len(alerts) == len(findings) == 2
    assert all(a["detection_id"] == detection["id"] and a["status"] == "sent" for a in alerts)

    previews = {f["preview"] for f in findings}
    assert {f["preview"] for f in native["findings"]} == previews  # what the inventory keeps
    outputs = [p.read_text() for p in out.iterdir()] + [m["raw"] for m in syslog.messages]
    outputs += [r.body.decode() for c in (webhook, hec, slack) for r in c.received]
    outputs += [p.read_text() for p in (proxy.data_dir / "sinks").glob("*")]
    outputs.append("".join(proxy.output))
    for output in outputs:
        assert not any(raw in output for raw in RAW_VALUES)
    metrics = proxy.api("/metrics").text
    assert 'shadowlens_sink_events_total{kind="webhook",sink="hook"} 1.0' in metrics
    assert 'shadowlens_sink_retries_total{kind="webhook",sink="hook"}' in metrics
