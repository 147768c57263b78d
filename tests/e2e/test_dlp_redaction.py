"""Issue 4's done criterion: a real SDK upload with a secret and a card number is redacted
in flight, recorded as findings, and neither raw value is stored, served or logged."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest

from tests.e2e.conftest import RunningProxy, running_shadowlens
from tests.e2e.upstream import Upstream

pytestmark = pytest.mark.e2e

AWS_KEY = "AKIAZ7Q2XK4M7TR3WB6P"
CARD = "4539 1488 0343 6467"  # Luhn-valid, Visa prefix
RAW_VALUES = (AWS_KEY, CARD, CARD.replace(" ", ""))


@pytest.fixture(scope="module")
def redacting_proxy(
    tmp_path_factory: pytest.TempPathFactory, upstream: Upstream
) -> Iterator[RunningProxy]:
    env = {"SHADOWLENS_DLP_REDACT_ALL": "true"}
    with running_shadowlens(tmp_path_factory.mktemp("data"), upstream, env) as running:
        yield running


def test_secret_and_card_are_masked_in_flight_and_never_stored(
    redacting_proxy: RunningProxy, upstream: Upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HTTPS_PROXY", redacting_proxy.proxy_url)
    monkeypatch.setenv("SSL_CERT_FILE", str(redacting_proxy.ca_file))
    client = openai.OpenAI(api_key="sk-test-not-a-real-key", max_retries=0)
    prompt = f"Deploy with {AWS_KEY} and charge card {CARD} please."
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": prompt}]
    )
    assert reply.choices[0].message.content == "pong"

    forwarded = json.loads(upstream.received.requests[-1]["body"])  # still valid JSON
    sent = forwarded["messages"][0]["content"]
    assert forwarded["model"] == "gpt-4o-mini" and sent.startswith("Deploy with ")
    assert not any(raw in sent for raw in RAW_VALUES)

    [detection] = redacting_proxy.wait_for_detections(1, service="openai-api")
    assert detection["action"] == "redact"
    assert detection["data_classes"] == ["pii", "secret"]
    findings = redacting_proxy.api("/api/v1/findings").json()["items"]
    by_detector = {f["detector"]: f for f in findings}
    assert set(by_detector) == {"aws-access-key-id", "credit-card-number"}
    assert by_detector["aws-access-key-id"]["preview"].startswith("AKIA")
    assert "*" in by_detector["credit-card-number"]["preview"]
    assert all(f["detection_id"] == detection["id"] for f in findings)

    api_text = "".join(
        redacting_proxy.api(path).text
        for path in ("/api/v1/detections", "/api/v1/findings", "/api/v1/services")
    )
    stored = b"".join(p.read_bytes() for p in redacting_proxy.data_dir.glob("shadowlens.db*"))
    logs = "".join(redacting_proxy.output)
    for raw in RAW_VALUES:
        assert raw not in api_text
        assert raw.encode() not in stored
        assert raw not in logs
