"""Oversized request heads through the real proxy: each is answered or refused, never a crash.

An AI request carries the head, so the addons that read headers (identity, the client's
User-Agent, tenant restrictions, the X-Forwarded-For walk) see all of it. Whatever mitmproxy
accepts is forwarded and recorded; whatever it refuses is refused with a status, and the
proxy goes on serving with its memory bounded.
"""

from __future__ import annotations

import contextlib
import ssl

import httpx
import pytest

from bench.soak import sample
from tests.e2e.conftest import RunningProxy

pytestmark = pytest.mark.e2e

CHAT = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping"}]}
HOPS = ", ".join(f"10.{i // 65536}.{i // 256 % 256}.{i % 256}" for i in range(20_000))
HEADS: dict[str, list[tuple[str, str]]] = {
    "one 256 KiB header": [("x-big", "a" * 262_144)],
    "5,000 headers": [(f"x-h{i}", "v") for i in range(5_000)],
    "an X-Forwarded-For of 20,000 hops": [("x-forwarded-for", HOPS)],
    "a 1 MiB cookie": [("cookie", "s=" + "b" * (1 << 20))],
    "a 64 KiB User-Agent": [("user-agent", "openai-python/1.0 " + "x" * 65_536)],
}


def _client(proxy: RunningProxy) -> httpx.Client:
    trust = ssl.create_default_context(cafile=str(proxy.ca_file))
    return httpx.Client(proxy=proxy.proxy_url, verify=trust, timeout=60, trust_env=False)


@pytest.mark.parametrize("name", HEADS)
def test_an_oversized_head_is_answered_or_refused(shadowlens: RunningProxy, name: str) -> None:
    headers = httpx.Headers(HEADS[name])
    with _client(shadowlens) as client:
        try:
            reply = client.post(
                "https://api.openai.com/v1/chat/completions", json=CHAT, headers=headers
            )
        except httpx.RemoteProtocolError:
            reply = None  # refused by closing the connection: allowed, a crash is not
        assert reply is None or reply.status_code in (200, 400, 413, 431, 502)
        # the proxy still serves, and an ordinary AI request is still recorded
        ok = client.post("https://api.openai.com/v1/chat/completions", json=CHAT)
    assert ok.status_code == 200
    assert shadowlens.wait_for_detections(1, service="openai-api")


def test_memory_stays_bounded_after_every_oversized_head(shadowlens: RunningProxy) -> None:
    before = sample(shadowlens.process.pid, 0).rss_mb
    with _client(shadowlens) as client:
        for _ in range(3):
            for head in HEADS.values():
                with contextlib.suppress(httpx.RemoteProtocolError):
                    client.post(
                        "https://api.openai.com/v1/chat/completions",
                        json=CHAT,
                        headers=httpx.Headers(head),
                    )
    grown = sample(shadowlens.process.pid, 0).rss_mb - before
    assert grown < 64, f"the proxy grew {grown:.0f} MiB over 15 oversized heads"


def test_no_traceback_in_the_proxy_output(shadowlens: RunningProxy) -> None:
    output = "".join(shadowlens.output)
    assert "Traceback" not in output
    assert "addon error" not in output.lower()
