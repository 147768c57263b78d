"""Issue 5 end to end: real SDKs, curl and headless Chromium against the scenario policy."""

from __future__ import annotations

import base64
import hashlib
import subprocess
from collections.abc import Iterator
from pathlib import Path

import anthropic
import httpx
import openai
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from tests.e2e.conftest import RunningProxy, running_shadowlens
from tests.e2e.upstream import Upstream

pytestmark = pytest.mark.e2e

POLICY = Path(__file__).parents[1] / "fixtures" / "policy"
CHROMIUM = Path("/usr/bin/chromium")


@pytest.fixture(scope="module")
def enforcing(
    tmp_path_factory: pytest.TempPathFactory, upstream: Upstream
) -> Iterator[RunningProxy]:
    env = {
        "SHADOWLENS_POLICY_FILE": str(POLICY / "scenario.yaml"),
        "SHADOWLENS_IDENTITY_FILE": str(POLICY / "identities.yaml"),
        # Loopback stands in for the corporate SSO gateway that names the user.
        "SHADOWLENS_TRUSTED_PROXIES": "127.0.0.1/32",
    }
    with running_shadowlens(tmp_path_factory.mktemp("data"), upstream, env) as running:
        yield running


@pytest.fixture
def as_user(enforcing: RunningProxy, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    monkeypatch.setenv("HTTPS_PROXY", enforcing.proxy_url)
    monkeypatch.setenv("SSL_CERT_FILE", str(enforcing.ca_file))
    monkeypatch.delenv("NO_PROXY", raising=False)
    return {"X-Authenticated-User": "alice"}


def _sent_to(upstream: Upstream, host: str) -> list[dict]:
    return [r for r in upstream.received.requests if r["host"] == host]


def test_openai_sdk_gets_a_permission_error_from_an_unsanctioned_service(
    enforcing: RunningProxy, upstream: Upstream, as_user: dict[str, str]
) -> None:
    client = openai.OpenAI(
        api_key="sk-test", base_url="https://api.deepseek.com/v1", max_retries=0,
        default_headers=as_user,
    )  # fmt: skip
    with pytest.raises(openai.PermissionDeniedError) as error:
        client.chat.completions.create(
            model="deepseek-chat", messages=[{"role": "user", "content": "hi"}]
        )
    assert "block-unsanctioned" in str(error.value)
    assert _sent_to(upstream, "api.deepseek.com") == []  # nothing left the proxy
    [detection] = enforcing.wait_for_detections(1, service="deepseek")
    assert (detection["action"], detection["rule_id"], detection["user"]) == (
        "block",
        "block-unsanctioned",
        "alice",
    )


def test_anthropic_sdk_gets_a_permission_error_for_a_finance_user(
    enforcing: RunningProxy, upstream: Upstream, as_user: dict[str, str]
) -> None:
    client = anthropic.Anthropic(
        api_key="sk-ant-test", max_retries=0, default_headers={"X-Authenticated-User": "bob"}
    )
    with pytest.raises(anthropic.PermissionDeniedError) as error:
        client.messages.create(
            model="claude-test-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
        )
    assert "finance-sanctioned-only" in str(error.value)
    # The same request from engineering goes through.
    allowed = anthropic.Anthropic(api_key="sk-ant-test", max_retries=0, default_headers=as_user)
    reply = allowed.messages.create(
        model="claude-test-model", max_tokens=8, messages=[{"role": "user", "content": "hi"}]
    )
    assert reply.content[0].text == "pong"  # type: ignore[union-attr]
    detections = enforcing.wait_for_detections(2, service="anthropic-api")
    assert {(d["user"], d["action"], tuple(d["groups"])) for d in detections} == {
        ("bob", "block", ("engineering", "finance")),  # his own group, and his network's
        ("alice", "monitor", ("engineering",)),
    }


def test_openai_sdk_secret_is_redacted_for_a_sanctioned_service(
    enforcing: RunningProxy, upstream: Upstream, as_user: dict[str, str]
) -> None:
    client = openai.OpenAI(api_key="sk-test", max_retries=0, default_headers=as_user)
    prompt = "use AKIAZ7Q2XK4M7TR3WB6P for the deploy"
    client.chat.completions.create(model="gpt-4o", messages=[{"role": "user", "content": prompt}])
    sent = _sent_to(upstream, "api.openai.com")[-1]["body"]
    assert b"AKIAZ7Q2XK4M7TR3WB6P" not in sent and b"deploy" in sent
    [detection] = enforcing.wait_for_detections(1, service="openai-api", user="alice")
    assert (detection["action"], detection["rule_id"]) == ("redact", "redact-secrets")


def _curl(proxy: RunningProxy, url: str, *headers: str) -> subprocess.CompletedProcess[str]:
    args = ["curl", "-s", "-o", "-", "-w", "\n%{http_code}", "-x", proxy.proxy_url, "--cacert",
            str(proxy.ca_file), url]  # fmt: skip
    for header in headers:
        args += ["-H", header]
    return subprocess.run(args, capture_output=True, text=True, timeout=30, check=False)


def test_curl_gets_the_right_status_and_the_tenant_header_is_inserted(
    enforcing: RunningProxy, upstream: Upstream
) -> None:
    blocked = _curl(enforcing, "https://chat.deepseek.com/", "X-Authenticated-User: alice")
    assert blocked.stdout.endswith("\n403") and "permission_error" in blocked.stdout
    spoofed = _curl(
        enforcing,
        "https://chatgpt.com/",
        "X-Authenticated-User: alice",
        "ChatGPT-Allowed-Workspace-Id: ws-personal",
    )
    assert spoofed.stdout.endswith("\n200")
    seen = _sent_to(upstream, "chatgpt.com")[-1]["headers"]
    assert seen.get_all("ChatGPT-Allowed-Workspace-Id") == ["ws-corp-1234"]
    [detection] = enforcing.wait_for_detections(1, service="chatgpt")
    assert detection["tenant_restricted"] is True


def _spki_hash(ca_file: Path) -> str:
    cert = x509.load_pem_x509_certificate(ca_file.read_bytes())
    der = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_chromium_sees_the_block_page_then_coaches_and_continues(
    enforcing: RunningProxy, upstream: Upstream, tmp_path: Path
) -> None:
    from playwright.sync_api import sync_playwright

    args = [
        "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        # Trust the proxy's CA by its key, as an enterprise policy would install it.
        f"--ignore-certificate-errors-spki-list={_spki_hash(enforcing.ca_file)}",
    ]  # fmt: skip
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=args, proxy={"server": enforcing.proxy_url}
        )
        page = browser.new_page()
        page.goto("https://chat.deepseek.com/")
        assert "DeepSeek is blocked" in page.inner_text("h1")
        body = page.inner_text("body")
        assert "Example Corp" in body and "block-unsanctioned" in body
        page.screenshot(path=str(tmp_path / "blocked.png"))

        page.goto("https://www.midjourney.com/imagine")
        assert "Using Midjourney" in page.inner_text("h1")
        page.screenshot(path=str(tmp_path / "coach.png"))
        page.fill("#justification", "Mock-ups for the Q3 campaign, no customer data.")
        page.click("#continue")
        page.wait_for_load_state()
        assert page.inner_text("h1") == "plain site"  # through to the service
        assert page.url == "https://www.midjourney.com/imagine"
        browser.close()
    assert (tmp_path / "blocked.png").stat().st_size > 1000
    # The browser may also fetch a favicon, coached or justified too, so wait by action.
    coached = enforcing.wait_for_detections(1, service="midjourney", action="coach")
    assert coached[0]["rule_id"] == "coach-image-generators"
    justified = enforcing.wait_for_detections(1, service="midjourney", action="allow")
    assert {d["rule_id"] for d in justified} == {"coach-image-generators:justified"}
    metrics = httpx.get(f"{enforcing.api_url}/metrics", timeout=5, trust_env=False).text
    assert 'shadowlens_policy_decisions_total{action="coach",enforced="True"}' in metrics
