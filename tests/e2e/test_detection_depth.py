"""Detection depth through the real proxy: SDK signals, unknown endpoints, pinned clients."""

from __future__ import annotations

import subprocess

import anthropic
import httpx
import openai
import pytest

from tests.e2e.conftest import RunningProxy
from tests.e2e.upstream import Upstream

pytestmark = pytest.mark.e2e


@pytest.fixture
def via_proxy(shadowlens: RunningProxy, monkeypatch: pytest.MonkeyPatch) -> RunningProxy:
    monkeypatch.setenv("HTTPS_PROXY", shadowlens.proxy_url)
    monkeypatch.setenv("HTTP_PROXY", shadowlens.proxy_url)
    monkeypatch.setenv("SSL_CERT_FILE", str(shadowlens.ca_file))
    monkeypatch.delenv("NO_PROXY", raising=False)
    return shadowlens


def test_anthropic_sdk_request_carries_host_protocol_and_client(via_proxy: RunningProxy) -> None:
    client = anthropic.Anthropic(api_key="sk-ant-test-not-real", max_retries=0)
    reply = client.messages.create(
        model="claude-test-model", max_tokens=16, messages=[{"role": "user", "content": "ping"}]
    )
    assert reply.content[0].text == "pong"  # type: ignore[union-attr]
    [detection] = via_proxy.wait_for_detections(1, service="anthropic-api")
    assert detection["evidence"] == "host"
    assert detection["model"] == "claude-test-model"
    assert "protocol" in detection["signals"]
    assert detection["client"] == "anthropic-python"
    assert "user_agent" in detection["signals"]


def test_openai_compatible_endpoint_outside_the_catalog(via_proxy: RunningProxy) -> None:
    client = openai.OpenAI(api_key="local", base_url="https://llm.internal.test/v1", max_retries=0)
    reply = client.chat.completions.create(
        model="qwen2.5-coder", messages=[{"role": "user", "content": "ping"}]
    )
    assert reply.choices[0].message.content == "pong"
    service = "unknown-llm-endpoint:llm.internal.test"
    [detection] = via_proxy.wait_for_detections(1, service=service)
    assert detection["evidence"] == "protocol"
    assert detection["model"] == "qwen2.5-coder"
    assert detection["client"] == "openai-python"
    services = {s["id"]: s for s in via_proxy.api("/api/v1/services").json()["items"]}
    assert services[service]["category"] == "unknown_llm"


def _curl(proxy: RunningProxy, url: str, ca: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", proxy.proxy_url,
         "--cacert", str(ca), url],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip


def test_do_not_decrypt_hosts_are_discovered_by_sni(
    shadowlens: RunningProxy, upstream: Upstream
) -> None:
    # claude.ai is on the do-not-decrypt list: the client sees the upstream's own certificate.
    result = _curl(shadowlens, "https://claude.ai/", upstream.ca_file)  # type: ignore[attr-defined]
    assert result.stdout == "200"
    [detection] = shadowlens.wait_for_detections(1, service="claude")
    assert (detection["evidence"], detection["method"], detection["path"]) == ("sni", "TLS", "")


def test_pinned_client_is_discovered_but_never_passed_around_the_policy(
    shadowlens: RunningProxy, upstream: Upstream
) -> None:
    # A client that trusts only the real CA rejects our certificate, like a pinned app. The
    # default policy masks secrets (failing closed), so the host is not passed through
    # undecrypted: it stays refused, and each failed handshake is recorded.
    for _ in range(2):
        failed = _curl(shadowlens, "https://api.mistral.ai/v1/models", upstream.ca_file)  # type: ignore[attr-defined]
        assert failed.stdout == "000"
    detections = shadowlens.wait_for_detections(2, service="mistral")
    assert [(d["evidence"], bool(d["error"])) for d in detections] == [("sni", True)] * 2
    metrics = httpx.get(f"{shadowlens.api_url}/metrics", timeout=5, trust_env=False).text
    assert 'shadowlens_tls_passthrough_total{reason="learned"} 0.0' in metrics
    assert "shadowlens_tls_client_failures_total 2.0" in metrics
