"""Trying to get around the policy through the real proxy: every path fails closed, quietly."""

from __future__ import annotations

import gzip
import json
import os
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml

from tests.e2e.conftest import (
    TOKEN,
    RunningProxy,
    running_shadowlens,
)
from tests.e2e.upstream import Upstream
from tests.factories import word_document

pytestmark = pytest.mark.e2e

AWS = "AKIAZ7Q2XK4M7TR3WB6P"
CARD = "4111 1111 1111 1111"
MAX_BODY = 65536
POLICY = {
    "default_action": "monitor",
    "status": {"services": {"deepseek": "unsanctioned"}},
    "rules": [
        {"id": "coach-pii", "when": {"data": ["pii"]}, "action": "coach"},
        {"id": "block-unsanctioned", "when": {"status": ["unsanctioned"]}, "action": "block"},
        {"id": "redact-secrets", "when": {"data": ["secret"]}, "action": "redact"},
    ],
}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[RunningProxy]:
    folder = tmp_path_factory.mktemp("bypass")
    (folder / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    env = {
        "SHADOWLENS_POLICY_FILE": str(folder / "policy.yaml"),
        "SHADOWLENS_DLP_MAX_BODY_BYTES": str(MAX_BODY),
        "SHADOWLENS_RULES_RELOAD_SECONDS": "1",
    }
    with running_shadowlens(folder / "data", upstream, env) as running:
        yield running


def _client(proxy: RunningProxy, upstream: Upstream | None) -> httpx.Client:
    return httpx.Client(
        proxy=proxy.proxy_url,
        verify=ssl.create_default_context(cafile=str(proxy.ca_file)),
        timeout=60,
        trust_env=False,
    )


def _prompt(size: int) -> bytes:
    text = f"key {AWS} card {CARD} " + "lorem ipsum " * (size // 12)
    return json.dumps({"model": "deepseek-chat", "messages": [{"role": "user", "content": text}]})\
        .encode()  # fmt: skip


def _chunks(body: bytes) -> Iterator[bytes]:
    for start in range(0, len(body), 16384):
        yield body[start : start + 16384]


UNINSPECTABLE = {
    "over the limit": ({}, _prompt(MAX_BODY * 3)),
    "unknown encoding": ({"content-encoding": "x-foo"}, _prompt(1000)),
    "fake gzip": ({"content-encoding": "gzip"}, b"\x1f\x8bnot really gzip " + _prompt(1000)),
}


@pytest.mark.parametrize("case", sorted(UNINSPECTABLE))
def test_an_uninspectable_upload_does_not_skip_a_later_block(
    proxy: RunningProxy, upstream: Upstream, case: str
) -> None:
    headers, body = UNINSPECTABLE[case]
    before = len(upstream.received.requests)
    with _client(proxy, upstream) as client:
        reply = client.post(
            "https://api.deepseek.com/chat/completions",
            content=body,
            headers={"content-type": "application/json", **headers},
        )
    assert reply.status_code == 403
    assert "block-unsanctioned" in reply.text
    assert len(upstream.received.requests) == before, "the blocked upload reached the service"


def test_a_chunked_over_limit_upload_is_answered_without_crashing(
    proxy: RunningProxy, upstream: Upstream
) -> None:
    before = len(upstream.received.requests)
    with _client(proxy, upstream) as client:
        reply = client.post(
            "https://api.deepseek.com/chat/completions",
            content=_chunks(_prompt(MAX_BODY * 3)),
            headers={"content-type": "application/json"},
        )
        assert reply.status_code == 403
        # The proxy still serves, on a new connection.
        assert client.get("https://example.com/").status_code == 200
    assert len(upstream.received.requests) == before + 1  # the GET alone


def test_curl_with_expect_100_continue_gets_its_403(proxy: RunningProxy, tmp_path: Path) -> None:
    body = tmp_path / "big.json"
    body.write_bytes(_prompt(MAX_BODY * 40))  # curl sends Expect: 100-continue above 1 MiB
    started = time.monotonic()
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", proxy.proxy_url,
         "--cacert", str(proxy.ca_file), "-H", "content-type: application/json",
         "--data-binary", f"@{body}", "https://api.deepseek.com/chat/completions"],
        capture_output=True, text=True, timeout=180, check=False,
    )  # fmt: skip
    assert result.stdout == "403"
    assert time.monotonic() - started < 30


ERROR_PATHS = {
    "decompression bomb": ({"content-encoding": "gzip"}, gzip.compress(_prompt(64) + b" " * 10**7)),
    "malformed JSON": ({}, b'{"messages": [{"content": "key ' + AWS.encode() + b" card"),
    "Word document": (
        {"content-type": "application/octet-stream"},
        word_document([f"deploy key {AWS} card {CARD}"] * 3),
    ),
    "multipart without its boundary": (
        {"content-type": "multipart/form-data"},
        b"--x\r\nContent-Disposition: form-data; name=f\r\n\r\n" + _prompt(64) + b"\r\n--x--",
    ),
}


@pytest.mark.parametrize("case", sorted(ERROR_PATHS))
def test_error_paths_answer_or_forward_cleanly(
    proxy: RunningProxy, upstream: Upstream, case: str
) -> None:
    headers, body = ERROR_PATHS[case]
    with _client(proxy, upstream) as client:
        reply = client.post(
            "https://api.openai.com/v1/chat/completions",
            content=body,
            headers={"content-type": "application/json", **headers},
        )
    assert reply.status_code in (200, 403)
    if reply.status_code == 200:  # forwarded: then masked
        assert AWS.encode() not in upstream.received.requests[-1]["body"]


def test_an_unreachable_upstream_and_a_client_that_hangs_up(proxy: RunningProxy) -> None:
    with _client(proxy, None) as client:
        secret_only = json.dumps({"messages": [{"role": "user", "content": f"key {AWS}"}]})
        reply = client.post("https://api.groq.com/openai/v1/chat/completions", content=secret_only)
    assert reply.status_code == 502
    host, port = proxy.proxy_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=5) as raw:
        raw.sendall(
            b"POST http://api.openai.com/v1/chat/completions HTTP/1.1\r\n"
            b"Host: api.openai.com\r\nContent-Type: application/json\r\n"
            b"Content-Length: 100000\r\n\r\n" + _prompt(64)
        )
    proxy.wait_for_detections(1, service="groq")


def test_a_refused_upload_too_large_to_read_is_cut_off(proxy: RunningProxy) -> None:
    # 40 MiB declared: more than the proxy reads to answer; the connection closes at once.
    host, port = proxy.proxy_url.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(
            b"POST http://api.deepseek.com/chat/completions HTTP/1.1\r\n"
            b"Host: api.deepseek.com\r\nContent-Type: application/json\r\n"
            b"Content-Length: 41943040\r\n\r\n" + _prompt(64)
        )
        started = time.monotonic()
        assert raw.recv(65536) == b""  # closed, nothing forwarded, nothing buffered
        assert time.monotonic() - started < 5
    [detection] = proxy.wait_for_detections(1, service="deepseek", method="POST", action="block")[
        :1
    ]
    assert detection["rule_id"] == "block-unsanctioned"


def test_no_traceback_and_no_secret_reaches_the_log(proxy: RunningProxy) -> None:
    # Runs after the error paths above (module order): none of them may leave a trace.
    time.sleep(1)
    log = "".join(proxy.output)
    for leak in (AWS, CARD, "lorem ipsum", "Traceback", "has crashed", "NotImplementedError"):
        assert leak not in log, leak


def _set_status(proxy: RunningProxy, service: str, status: str) -> None:
    env = os.environ | {"SHADOWLENS_DATA_DIR": str(proxy.data_dir), "SHADOWLENS_API_TOKENS": TOKEN}
    subprocess.run(
        [sys.executable, "-m", "shadowlens", "services", "set-status", service, status],
        env=env, check=True, capture_output=True, timeout=300,
    )  # fmt: skip


def test_the_register_decides_status_before_the_service_is_seen(
    proxy: RunningProxy, upstream: Upstream
) -> None:
    # mistral has never been seen: it can be governed all the same.
    _set_status(proxy, "mistral", "unsanctioned")
    deadline = time.monotonic() + 20
    with _client(proxy, upstream) as client:
        while True:
            reply = client.post(
                "https://api.mistral.ai/v1/chat/completions",
                json={"model": "mistral-large", "messages": [{"role": "user", "content": "hi"}]},
            )
            if reply.status_code == 403 or time.monotonic() > deadline:
                break
            time.sleep(0.5)
    assert reply.status_code == 403
    assert "block-unsanctioned" in reply.text
    audit = proxy.api("/api/v1/audit").json()["items"]
    assert any(e["target"] == "mistral" and e["action"] == "governance.update" for e in audit)


def _policy_test(proxy: RunningProxy, url: str, body: Path | None) -> dict[str, object]:
    env = os.environ | {"SHADOWLENS_DATA_DIR": str(proxy.data_dir)} | _proxy_env(proxy)
    args = [sys.executable, "-m", "shadowlens", "policy", "test", "--user", "anonymous",
            "--url", url, "--json"]  # fmt: skip
    if body is not None:
        args += ["--body", str(body)]
    result = subprocess.run(args, env=env, capture_output=True, text=True, timeout=300, check=True)
    return dict(json.loads(result.stdout))


def _proxy_env(proxy: RunningProxy) -> dict[str, str]:
    folder = proxy.data_dir.parent
    return {
        "SHADOWLENS_POLICY_FILE": str(folder / "policy.yaml"),
        "SHADOWLENS_DLP_MAX_BODY_BYTES": str(MAX_BODY),
    }


CASES = {
    "unsanctioned, nothing in it": ("https://api.deepseek.com/chat/completions", "hello"),
    "unsanctioned, over the limit": (
        "https://api.deepseek.com/chat/completions",
        "x " * MAX_BODY,
    ),
    "unknown status, personal data": (
        "https://api.openai.com/v1/chat/completions",
        f"my card is {CARD}",
    ),
    "unknown status, clean": ("https://api.openai.com/v1/chat/completions", "hello there"),
}


@pytest.mark.parametrize("case", sorted(CASES))
def test_policy_test_gives_the_live_proxys_verdict(
    proxy: RunningProxy, upstream: Upstream, tmp_path: Path, case: str
) -> None:
    url, text = CASES[case]
    body = json.dumps({"model": "m", "messages": [{"role": "user", "content": text}]}).encode()
    (tmp_path / "body.json").write_bytes(body)
    predicted = _policy_test(proxy, url, tmp_path / "body.json")
    with _client(proxy, upstream) as client:
        reply = client.post(url, content=body, headers={"content-type": "application/json"})
    service = str(predicted["service"])
    [live] = [
        d
        for d in proxy.wait_for_detections(100, timeout=3, service=service)
        if d["request_bytes"] == len(body)
    ][:1]
    assert (live["action"], live["rule_id"]) == (predicted["action"], predicted["rule"])
    assert (reply.status_code == 403) == (predicted["answer"] == 403)
