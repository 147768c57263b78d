"""A real client's AI request goes through the real proxy, into the inventory, out of the API."""

from __future__ import annotations

import subprocess
import time

import httpx
import openai
import pytest

from tests.e2e.conftest import RunningProxy

pytestmark = pytest.mark.e2e


def _openai_client(shadowlens: RunningProxy, monkeypatch: pytest.MonkeyPatch) -> openai.OpenAI:
    """The OpenAI SDK pointed at the proxy the way a user would: by its environment."""
    monkeypatch.setenv("HTTPS_PROXY", shadowlens.proxy_url)
    monkeypatch.setenv("SSL_CERT_FILE", str(shadowlens.ca_file))
    monkeypatch.delenv("NO_PROXY", raising=False)
    return openai.OpenAI(api_key="sk-test-not-a-real-key", max_retries=0)


def test_openai_sdk_request_is_detected_and_listed_by_the_api(
    shadowlens: RunningProxy, upstream, monkeypatch: pytest.MonkeyPatch
) -> None:
    client = _openai_client(shadowlens, monkeypatch)
    reply = client.chat.completions.create(
        model="gpt-4o-mini", messages=[{"role": "user", "content": "ping"}]
    )
    assert reply.choices[0].message.content == "pong"
    assert upstream.received.requests[-1]["host"] == "api.openai.com"

    [detection] = shadowlens.wait_for_detections(1, service="openai-api")
    assert detection["method"] == "POST"
    assert detection["path"] == "/v1/chat/completions"
    assert detection["status"] == 200
    assert detection["evidence"] == "host"
    assert detection["request_bytes"] > 0
    services = shadowlens.api("/api/v1/services").json()["items"]
    assert {"id": "openai-api", "requests": 1}.items() <= next(
        s for s in services if s["id"] == "openai-api"
    ).items()


def test_unreachable_ai_service_is_still_detected(shadowlens: RunningProxy) -> None:
    # gemini.google.com is routed to a closed loopback port: the upstream is unreachable.
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", shadowlens.proxy_url,
         "--cacert", str(shadowlens.ca_file), "https://gemini.google.com/"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.stdout == "502"
    [detection] = shadowlens.wait_for_detections(1, timeout=1.0, service="gemini")
    assert detection["status"] is None and detection["error"]


def test_non_ai_host_leaves_no_detection(shadowlens: RunningProxy, upstream) -> None:
    before = len(shadowlens.api("/api/v1/detections").json()["items"])
    result = subprocess.run(
        ["curl", "-s", "-x", shadowlens.proxy_url, "--cacert", str(shadowlens.ca_file),
         "https://example.com/page"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.stdout == "<html><body><h1>plain site</h1></body></html>"
    assert upstream.received.requests[-1]["path"] == "/page"
    assert len(shadowlens.wait_for_detections(before + 1, timeout=0.5)) == before


def test_api_refuses_requests_without_the_token(shadowlens: RunningProxy) -> None:
    import httpx

    response = httpx.get(f"{shadowlens.api_url}/api/v1/detections", timeout=5)
    assert response.status_code == 401
    assert httpx.get(f"{shadowlens.api_url}/healthz", timeout=5).json()["status"] == "ok"


def test_http2_flows_are_detected_too(shadowlens: RunningProxy) -> None:
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_version}", "--http2", "-x",
         shadowlens.proxy_url, "--cacert", str(shadowlens.ca_file),
         "https://api.openai.com/v1/models?h2=1"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.stdout == "2"  # HTTP/2 between client and proxy
    detections = shadowlens.wait_for_detections(2, service="openai-api")
    assert "/v1/models" in {d["path"] for d in detections}


def test_a_streamed_reply_counts_its_bytes_down(shadowlens: RunningProxy) -> None:
    request = {"model": "echo", "stream": True,
               "messages": [{"role": "user", "content": "ping " * 200}]}  # fmt: skip
    with (
        httpx.Client(proxy=shadowlens.proxy_url, verify=str(shadowlens.ca_file)) as client,
        client.stream(
            "POST",
            "https://api.openai.com/v1/chat/completions",
            json=request,
            headers={"authorization": "Bearer sk-test"},
        ) as answer,  # fmt: skip
    ):
        assert answer.headers["content-type"].startswith("text/event-stream")
        assert "content-length" not in answer.headers
        received = sum(len(chunk) for chunk in answer.iter_raw())
    deadline = time.monotonic() + 10
    while not (found := [d for d in shadowlens.wait_for_detections(1) if d["model"] == "echo"]):
        assert time.monotonic() < deadline
    assert found[0]["response_bytes"] == received > 1000
