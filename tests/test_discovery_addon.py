"""The discovery addon, driven through mitmproxy's own test harness."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest
from mitmproxy import http
from mitmproxy.test import taddons, tflow, tutils

from shadowlens.addons.discovery import Discovery
from shadowlens.addons.flowstate import match_of, state_of
from shadowlens.proxy.catalog import HostIndex, Service
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.journal import JOURNAL_PREFIX, Journal
from shadowlens.proxy.inventory.spool import SPOOL_NAME, Spool
from shadowlens.proxy.inventory.writer import InventoryWriter
from shadowlens.proxy.runtime import CatalogRef

CATALOG = CatalogRef(
    HostIndex(
        [
            Service("chatgpt", "ChatGPT", "OpenAI", "chat_assistant", ("chatgpt.com",)),
            Service(
                "openai-api",
                "OpenAI API",
                "OpenAI",
                "llm_api",
                ("api.openai.com",),
                account_headers=("openai-organization",),
            ),
        ]
    )
)


CHAT_BODY = b'{"model":"gpt-4o","messages":[{"role":"user","content":"hi"}]}'


def _flow(
    host: str, *, path: str = "/v1/chat/completions?key=secret", body: bytes = CHAT_BODY
) -> http.HTTPFlow:
    request = tutils.treq(host=host, port=443, scheme=b"https", path=path.encode())
    request.headers["host"] = host
    request.headers["content-type"] = "application/json"
    request.method = "POST"
    request.content = body
    return tflow.tflow(req=request)


def _run(scenario: Callable[[Discovery], Awaitable[None]]) -> list[DetectionEvent]:
    """Run ``scenario`` against a Discovery whose writer keeps what it is given."""
    written: list[DetectionEvent] = []

    def keep(batch: Sequence[DetectionEvent]) -> int:
        written.extend(batch)
        return len(batch)

    async def main() -> None:
        writer = InventoryWriter(
            keep,
            queue_size=10,
            batch_size=10,
            flush_seconds=0.01,
        )
        writer.start()
        discovery = Discovery(CATALOG, writer, max_body=1 << 20)
        with taddons.context(discovery):
            await scenario(discovery)
        await writer.close()

    asyncio.run(main())
    return written


def test_ai_flow_is_recorded_without_query_string_or_password() -> None:
    flow = _flow("api.openai.com")
    flow.metadata["proxyauth"] = ("alice", "hunter2")
    flow.request.headers["openai-organization"] = "org-corp"
    flow.response = tutils.tresp(status_code=200)

    async def scenario(discovery: Discovery) -> None:
        discovery.requestheaders(flow)
        discovery.request(flow)
        discovery.responseheaders(flow)
        discovery.response(flow)

    [event] = _run(scenario)
    assert (event.service_id, event.evidence, event.user) == ("openai-api", "host", "alice")
    assert (event.model, event.account, event.signals) == ("gpt-4o", "org-corp", "host,protocol")
    assert (event.method, event.host, event.path) == (
        "POST",
        "api.openai.com",
        "/v1/chat/completions",
    )
    assert event.request_bytes == len(CHAT_BODY)
    assert event.status == 200 and event.error is None
    assert "hunter2" not in repr(event) and "secret" not in repr(event)
    assert not flow.request.stream and not flow.response.stream


@pytest.mark.parametrize(
    ("request_headers", "response_headers", "streamed"),
    [
        ({"content-length": str(1 << 20)}, {"content-length": str(1 << 20)}, (True, True)),
        ({"transfer-encoding": "chunked"}, {"transfer-encoding": "chunked"}, (True, True)),
        ({}, {}, (False, True)),  # no request body; a response that runs until close
        ({"content-length": "7"}, {"content-length": "11"}, (False, False)),  # small: held
    ],
)
def test_non_ai_flow_is_not_recorded_and_large_bodies_stream(
    request_headers: dict[str, str], response_headers: dict[str, str], streamed: tuple[bool, bool]
) -> None:
    flow = _flow("example.com", path="/index.html")
    del flow.request.headers["content-length"]
    flow.request.headers.update(request_headers)
    flow.response = tutils.tresp(
        headers=http.Headers([(k.encode(), v.encode()) for k, v in response_headers.items()])
    )

    async def scenario(discovery: Discovery) -> None:
        discovery.requestheaders(flow)
        discovery.responseheaders(flow)
        discovery.response(flow)

    assert _run(scenario) == []
    assert (bool(flow.request.stream), bool(flow.response.stream)) == streamed
    assert match_of(flow) is None


@pytest.mark.parametrize("content_type", ["text/event-stream", "application/x-ndjson"])
def test_streamed_responses_from_ai_services_pass_through_and_count_bytes_down(
    content_type: str,
) -> None:
    flow = _flow("chatgpt.com")
    headers = http.Headers(content_type=content_type, transfer_encoding="chunked")
    flow.response = tutils.tresp(headers=headers, content=None)
    chunks = [b'data: {"a": 1}\n\n' * n for n in range(1, 200)]

    async def scenario(discovery: Discovery) -> None:
        discovery.requestheaders(flow)
        discovery.responseheaders(flow)
        stream = flow.response.stream  # type: ignore[union-attr]
        assert callable(stream)
        assert [stream(chunk) for chunk in [*chunks, b""]] == [*chunks, b""]
        discovery.response(flow)

    [event] = _run(scenario)
    assert event.response_bytes == sum(map(len, chunks)) > 0


def test_unreachable_upstream_is_still_a_detection() -> None:
    flow = _flow("chatgpt.com")
    flow.error = tflow.terr("connection refused")

    async def scenario(discovery: Discovery) -> None:
        discovery.requestheaders(flow)
        discovery.error(flow)
        discovery.error(flow)  # a flow is recorded once, whatever fires twice

    [event] = _run(scenario)
    assert event.status is None and event.error == "connection refused"


def test_sni_classifies_when_the_host_header_does_not() -> None:
    flow = _flow("203.0.113.9")
    flow.client_conn.sni = "chatgpt.com"
    flow.response = tutils.tresp()

    async def scenario(discovery: Discovery) -> None:
        discovery.requestheaders(flow)
        discovery.response(flow)

    [event] = _run(scenario)
    assert (event.service_id, event.evidence) == ("chatgpt", "sni")


def test_full_hook_cycle_records_once() -> None:
    flow = _flow("chatgpt.com")
    flow.response = tutils.tresp()

    async def scenario(discovery: Discovery) -> None:
        with taddons.context(discovery) as tctx:
            await tctx.cycle(discovery, flow)

    assert [e.service_id for e in _run(scenario)] == ["chatgpt"]


def test_uncatalogued_openai_compatible_endpoint_is_found_by_its_body() -> None:
    flow = _flow("llm.internal.test")
    flow.response = tutils.tresp()

    async def scenario(discovery: Discovery) -> None:
        discovery.requestheaders(flow)
        assert not flow.request.stream  # a candidate: held for the body check
        discovery.request(flow)
        discovery.response(flow)

    [event] = _run(scenario)
    assert event.service_id == "unknown-llm-endpoint:llm.internal.test"
    assert (event.evidence, event.model, event.category) == ("protocol", "gpt-4o", "unknown_llm")


def test_ordinary_json_post_to_an_llm_looking_path_is_not_a_detection() -> None:
    flow = _flow("shop.example", path="/api/generate", body=b'{"invoice": 42}')
    flow.response = tutils.tresp()

    async def scenario(discovery: Discovery) -> None:
        discovery.requestheaders(flow)
        discovery.request(flow)
        discovery.response(flow)

    assert _run(scenario) == []


def test_ordinary_uploads_stream_without_a_body_check() -> None:
    flow = _flow("shop.example", path="/cart")
    flow.request.headers["content-length"] = str(1 << 20)

    async def scenario(discovery: Discovery) -> None:
        discovery.requestheaders(flow)
        discovery.request(flow)

    assert _run(scenario) == []
    assert flow.request.stream is True and not state_of(flow).candidate


def test_large_ai_uploads_stream_instead_of_filling_memory() -> None:
    flow = _flow("api.openai.com")
    flow.request.headers["content-length"] = str(2 << 20)

    async def scenario(discovery: Discovery) -> None:
        discovery.requestheaders(flow)

    _run(scenario)
    assert flow.request.stream is True and match_of(flow) is not None


def test_an_llm_stream_from_an_unknown_host_is_recognised_and_passed_through() -> None:
    flow = _flow("gpu-box.internal.test", path="/stream")
    flow.request.headers["content-type"] = "text/plain"
    flow.response = tutils.tresp(headers=http.Headers(content_type="text/event-stream"))
    chunk = b'data: {"id":"x","object":"chat.completion.chunk","model":"qwen2"}\n\n'

    async def scenario(discovery: Discovery) -> None:
        discovery.requestheaders(flow)
        discovery.responseheaders(flow)
        assert callable(flow.response.stream)  # type: ignore[union-attr]
        assert flow.response.stream(chunk) == chunk  # type: ignore[union-attr]
        discovery.response(flow)

    [event] = _run(scenario)
    assert event.service_id == "unknown-llm-endpoint:gpu-box.internal.test"
    assert (event.evidence, event.model) == ("protocol", "qwen2")


def test_an_ai_answer_waits_for_the_journal_and_other_flows_never_touch_it(
    tmp_path: Path,
) -> None:
    sink_gate = threading.Event()  # the database never answers during the test

    def stalled(batch: Sequence[DetectionEvent]) -> int:
        sink_gate.wait(5)
        return len(batch)

    ai, other = _flow("api.openai.com"), _flow("shop.example.net")

    async def main() -> None:
        spool = Spool(tmp_path / SPOOL_NAME, max_bytes=1 << 20)
        journal = Journal(tmp_path, sync=True)
        writer = InventoryWriter(
            stalled, queue_size=10, batch_size=10, flush_seconds=0.01, spool=spool, journal=journal
        )
        writer.start()
        discovery = Discovery(CATALOG, writer, max_body=1 << 20)
        with taddons.context(discovery):
            for flow in (ai, other):
                discovery.requestheaders(flow)
                flow.response = tutils.tresp()
            assert discovery.live == {ai.id, other.id}  # in flight: a shutdown waits for them
            assert discovery.response(other) is None  # the non-AI path returns at once
            synced = discovery.response(ai)
            assert synced is not None  # the answer is held until the journal has the event
            await synced
            journaled = await asyncio.to_thread(_journal_bytes, tmp_path)
            assert b"/v1/chat/completions" in journaled and b"shop.example.net" not in journaled
            assert discovery.live == set()
        sink_gate.set()
        await writer.close()

    asyncio.run(main())


def _journal_bytes(folder: Path) -> bytes:
    return b"".join(p.read_bytes() for p in folder.glob(JOURNAL_PREFIX + "*"))


def test_an_invalid_plain_http_host_is_recorded_as_invalid_and_counted() -> None:
    from prometheus_client import REGISTRY

    host = "api.openai.com\x00.evil.test"
    request = tutils.treq(host=host, port=80, scheme=b"http", path=b"/v1/chat/completions")
    request.headers.update({"host": host, "content-type": "application/json"})
    request.method = "POST"
    request.content = CHAT_BODY
    flow = tflow.tflow(req=request)
    flow.response = tutils.tresp()
    before = REGISTRY.get_sample_value("shadowlens_invalid_hosts_total") or 0

    async def scenario(discovery: Discovery) -> None:
        with taddons.context(discovery) as tctx:
            await tctx.cycle(discovery, flow)

    [event] = _run(scenario)
    assert event.service_id == "unknown-llm-endpoint:host.invalid"
    assert event.host == "api.openai.com\\x00.evil.test" and "\x00" not in repr(event.host)
    assert REGISTRY.get_sample_value("shadowlens_invalid_hosts_total") == before + 1
