"""Issue 4's done criterion: a real SDK upload with a secret and a card number is redacted
in flight, recorded as findings, and neither raw value is stored, served or logged."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import openai
import pytest

from shadowlens.proxy.dlp.documents import docx_text
from shadowlens.proxy.dlp.multipart import parse_multipart
from tests.e2e.conftest import RunningProxy, running_shadowlens
from tests.e2e.upstream import Upstream
from tests.factories import word_document

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


def test_a_word_document_upload_is_masked_inside_the_document(
    redacting_proxy: RunningProxy, upstream: Upstream, tmp_path: Path
) -> None:
    document = tmp_path / "plan.docx"
    document.write_bytes(word_document(["Launch plan", f"deploy key {AWS_KEY}"]))
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", redacting_proxy.proxy_url,
         "--cacert", str(redacting_proxy.ca_file), "-F", "purpose=assistants",
         "-F", f"file=@{document};type=application/octet-stream",
         "https://api.openai.com/v1/files"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.stdout == "200"
    forwarded = upstream.received.requests[-1]
    assert forwarded["path"] == "/v1/files"
    boundary = forwarded["body"].split(b"\r\n", 1)[0][2:]
    parts, complete = parse_multipart(forwarded["body"], boundary)
    assert complete and len(parts) == 2
    sent = forwarded["body"][parts[1].body_start : parts[1].body_end]
    text = docx_text(sent, 1 << 20)
    assert text is not None and AWS_KEY not in text
    assert "deploy key [REDACTED:aws-access-key-id]" in text
