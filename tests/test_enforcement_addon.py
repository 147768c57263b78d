"""The inspection and enforcement addons, driven through mitmproxy's own test harness."""

from __future__ import annotations

import asyncio
import gzip
import json
import threading
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

import pytest
from mitmproxy import http, websocket
from mitmproxy.test import taddons, tflow, tutils
from wsproto.frame_protocol import Opcode

from shadowlens.addons.coachform import CoachForm
from shadowlens.addons.enforcement import Enforcement
from shadowlens.addons.flowevents import detection_event
from shadowlens.addons.flowstate import state_of
from shadowlens.addons.inspection import Inspection
from shadowlens.addons.tenantrestriction import TenantRestriction
from shadowlens.proxy.catalog import Match, load_catalog
from shadowlens.proxy.dlp import Finding
from shadowlens.proxy.dlp import config as dlp_config
from shadowlens.proxy.dlp.pseudonym import Pseudonyms
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.writer import InventoryWriter
from shadowlens.proxy.policy.coaching import CoachGrants
from shadowlens.proxy.policy.responses import COACH_PATH
from shadowlens.proxy.runtime import PolicyRef
from shadowlens.proxy.settings import Settings
from tests.conftest import RULES_DIR
from tests.factories import word_document

POLICY = Path(__file__).parent / "fixtures" / "policy"
AWS = "AKIAZ7Q2XK4M7TR3WB6P"
CATALOG = load_catalog(RULES_DIR)


@pytest.fixture(scope="module")
def settings(tmp_path_factory: pytest.TempPathFactory) -> Settings:
    return Settings(
        data_dir=tmp_path_factory.mktemp("data"),
        policy_file=POLICY / "scenario.yaml",
        identity_file=POLICY / "identities.yaml",
    )


@pytest.fixture(scope="module")
def inspection(settings: Settings) -> Inspection:
    return Inspection(dlp_config.scanner(settings), dlp_config.limits(settings))


Scenario = Callable[[Inspection, Enforcement], Awaitable[None]]


def _run(settings: Settings, inspection: Inspection, scenario: Scenario) -> list[DetectionEvent]:
    written: list[DetectionEvent] = []

    def keep(batch: Sequence[DetectionEvent]) -> int:
        written.extend(batch)
        return len(batch)

    async def main() -> None:
        writer = InventoryWriter(keep, queue_size=10, batch_size=10, flush_seconds=0.01)
        writer.start()
        enforcement = Enforcement(
            PolicyRef(settings), writer, CoachGrants(b"test-key"), Pseudonyms(b"k", ttl=60)
        )
        with taddons.context(inspection, enforcement):
            await scenario(inspection, enforcement)
        await writer.close()

    asyncio.run(main())
    return written


def _ai_flow(host: str, service: str, *, path: str = "/", method: str = "GET") -> http.HTTPFlow:
    request = tutils.treq(host=host, port=443, scheme=b"https", path=path.encode(), content=b"")
    request.method = method
    request.headers["host"] = host
    flow = tflow.tflow(req=request)
    flow.response = None
    flow.client_conn.peername = ("10.1.0.5", 40000)  # alice, engineering
    state_of(flow).match = Match(CATALOG.services[service], "host", host)
    return flow


def test_websocket_messages_are_scanned_and_redacted(
    settings: Settings, inspection: Inspection
) -> None:
    flow = tflow.twebsocketflow()
    flow.client_conn.peername = ("10.1.0.5", 40000)
    state_of(flow).match = Match(CATALOG.services["chatgpt"], "host", "chatgpt.com")
    assert flow.websocket is not None
    flow.websocket.messages.append(
        websocket.WebSocketMessage(Opcode.TEXT, True, f"deploy with {AWS} now".encode())
    )

    async def scenario(inspection: Inspection, enforcement: Enforcement) -> None:
        await inspection.websocket_message(flow)
        enforcement.websocket_message(flow)

    [event] = _run(settings, inspection, scenario)
    assert AWS not in flow.websocket.messages[-1].text
    assert (event.method, event.action, event.rule_id) == ("WS", "redact", "redact-secrets")
    assert [f.detector for f in event.findings] == ["aws-access-key-id"]


def test_tenant_headers_replace_what_the_client_sent(settings: Settings) -> None:
    flow = _ai_flow("chatgpt.com", "chatgpt")
    flow.request.headers["ChatGPT-Allowed-Workspace-Id"] = "ws-personal"
    with taddons.context():
        TenantRestriction(PolicyRef(settings)).requestheaders(flow)
    assert flow.request.headers.get_all("ChatGPT-Allowed-Workspace-Id") == ["ws-corp-1234"]
    assert state_of(flow).tenant_restricted


def test_a_forged_coaching_form_is_refused(settings: Settings, inspection: Inspection) -> None:
    flow = _ai_flow("www.midjourney.com", "midjourney", path=COACH_PATH, method="POST")
    flow.request.urlencoded_form = [("justification", "because I said so"), ("token", "forged")]
    written: list[DetectionEvent] = []

    def keep(batch: Sequence[DetectionEvent]) -> int:
        written.extend(batch)
        return len(batch)

    writer = InventoryWriter(keep, queue_size=10, batch_size=10, flush_seconds=0.01)
    form = CoachForm(PolicyRef(settings), writer, CoachGrants(b"test-key"))

    async def scenario(inspection: Inspection, enforcement: Enforcement) -> None:
        form.requestheaders(flow)
        enforcement.requestheaders(flow)
        await inspection.request(flow)
        form.request(flow)
        enforcement.request(flow)

    assert _run(settings, inspection, scenario) == written == []
    assert flow.response is not None and flow.response.status_code == 400
    assert state_of(flow).report is None  # the justification is not scanned as an upload


def test_a_body_that_inspection_never_reported_on_fails_closed(
    settings: Settings, inspection: Inspection
) -> None:
    flow = _ai_flow("www.perplexity.ai", "perplexity", method="POST")
    flow.request.content = b'{"q": "what Inspection would have scanned"}'

    async def scenario(inspection: Inspection, enforcement: Enforcement) -> None:
        enforcement.request(flow)  # as when Inspection raised before writing its report

    _run(settings, inspection, scenario)
    assert flow.response is not None and flow.response.status_code == 403
    assert b"could not be inspected" in flow.response.content  # type: ignore[operator]


def test_a_body_too_large_to_inspect_fails_closed(
    settings: Settings, inspection: Inspection
) -> None:
    flow = _ai_flow("www.perplexity.ai", "perplexity", method="POST")
    flow.request.stream = True  # Discovery streams what is larger than the DLP limit

    async def scenario(inspection: Inspection, enforcement: Enforcement) -> None:
        enforcement.requestheaders(flow)

    _run(settings, inspection, scenario)
    assert flow.response is not None and flow.response.status_code == 403
    assert b"could not be inspected" in flow.response.content  # type: ignore[operator]


@pytest.mark.parametrize(
    ("padding", "encoding", "content_type", "on_loop"),
    [
        (0, None, "application/json", True),
        (70_000, None, "application/json", False),  # over 64 KiB
        (0, "gzip", "application/json", False),  # may inflate
        (0, None, "application/octet-stream", False),  # a Word document: it may inflate
        (0, None, "application/octet-stream", True),  # JSON, whatever it was labelled
    ],
)
def test_small_plain_bodies_are_scanned_on_the_loop_the_rest_in_a_thread(
    settings: Settings,
    inspection: Inspection,
    padding: int,
    encoding: str | None,
    content_type: str,
    on_loop: bool,
) -> None:
    text = json.dumps({"messages": [{"content": f"key {AWS} " + "x" * padding}]}).encode()
    if content_type == "application/octet-stream" and not on_loop:
        text = word_document([f"key {AWS}"])
    flow = _ai_flow("api.openai.com", "openai-api", method="POST")
    flow.request.headers["content-type"] = content_type
    if encoding:
        flow.request.headers["content-encoding"] = encoding
    flow.request.raw_content = gzip.compress(text) if encoding else text
    threads: list[threading.Thread] = []
    scan = inspection.scanner.scan

    def spied(body: str) -> list[Finding]:
        threads.append(threading.current_thread())
        return scan(body)

    async def scenario(inspection: Inspection, enforcement: Enforcement) -> None:
        inspection.scanner.scan = spied  # type: ignore[method-assign, assignment]
        try:
            await inspection.request(flow)
        finally:
            del inspection.scanner.scan

    _run(settings, inspection, scenario)
    report = state_of(flow).report
    assert report is not None
    assert [f.detector for f in report.findings] == ["aws-access-key-id"]
    assert {t is threading.main_thread() for t in threads} == {on_loop}


def test_secrets_in_the_query_string_are_scanned_and_masked(
    settings: Settings, inspection: Inspection
) -> None:
    flow = _ai_flow("api.openai.com", "openai-api", path=f"/v1/models?key={AWS}&q=hi")

    async def scenario(inspection: Inspection, enforcement: Enforcement) -> None:
        enforcement.requestheaders(flow)
        await inspection.request(flow)
        enforcement.request(flow)

    _run(settings, inspection, scenario)
    assert AWS not in flow.request.url
    assert flow.request.query["q"] == "hi"
    assert flow.request.query["key"].startswith("[REDACTED:aws-access-key-id")
    decision = state_of(flow).decision
    assert decision is not None and (decision.action, decision.rule_id) == (
        "redact",
        "redact-secrets",
    )


def test_a_streamed_upload_answered_on_its_headers_is_not_streamed(
    settings: Settings, inspection: Inspection
) -> None:
    flow = _ai_flow("chat.deepseek.com", "deepseek", method="POST")
    flow.request.stream = True
    flow.request.headers["expect"] = "100-continue"

    async def scenario(inspection: Inspection, enforcement: Enforcement) -> None:
        enforcement.requestheaders(flow)

    _run(settings, inspection, scenario)
    # mitmproxy refuses a response on a streamed request; nor may the client be invited
    # to send a body that will be dropped.
    assert flow.response is not None and flow.response.status_code == 403
    assert flow.request.stream is False and "expect" not in flow.request.headers
    assert flow.response.headers["connection"] == "close"


GITHUB = "ghp_" + "Zq7XyW3vB9nM2kL5pR8tH1sD4fG6jA0cE2uI"


def _through_the_addons(settings: Settings, inspection: Inspection, flow: http.HTTPFlow) -> None:
    async def scenario(inspection: Inspection, enforcement: Enforcement) -> None:
        inspection.requestheaders(flow)
        enforcement.requestheaders(flow)
        await inspection.request(flow)
        enforcement.request(flow)

    _run(settings, inspection, scenario)


def test_a_secret_in_the_path_is_masked_before_it_is_sent_and_in_the_record(
    settings: Settings, inspection: Inspection
) -> None:
    flow = _ai_flow("api.openai.com", "openai-api", path=f"/v1/files/{GITHUB}/content?q=hi")
    _through_the_addons(settings, inspection, flow)
    assert flow.response is None  # forwarded, masked
    assert GITHUB not in flow.request.url
    assert flow.request.path.startswith("/v1/files/%5BREDACTED%3Agithub")
    assert flow.request.path.endswith("/content?q=hi")
    event = detection_event(flow, state_of(flow).match)  # type: ignore[arg-type]
    assert event.path.startswith("/v1/files/[REDACTED:github") and GITHUB not in event.path
    [finding] = event.findings
    assert (finding.location, finding.detector) == ("path", "github-pat")
    assert GITHUB not in finding.preview and event.action == "redact"


@pytest.mark.parametrize("escaped", ["%67", "%2567", "%252567"])
def test_a_percent_encoded_secret_in_the_path_is_found_and_blocked(
    settings: Settings, inspection: Inspection, escaped: str
) -> None:
    # %67 is "g" (and %2567 is %67): no escape may hide the token, and since the masked path
    # could not be sent as the client spelt it, the request is blocked rather than sent.
    flow = _ai_flow("api.openai.com", "openai-api", path=f"/v1/files/{escaped}{GITHUB[1:]}")
    _through_the_addons(settings, inspection, flow)
    assert flow.response is not None and flow.response.status_code == 403
    decision = state_of(flow).decision
    assert decision is not None and decision.action == "block"
    assert decision.reason.startswith("unredactable")
    event = detection_event(flow, state_of(flow).match)  # type: ignore[arg-type]
    assert GITHUB[1:] not in event.path and "[REDACTED:github" in event.path


def test_ids_in_a_path_are_not_taken_for_personal_data(
    settings: Settings, inspection: Inspection
) -> None:
    # A 16-digit order id passes the Luhn check; in a path, only secrets are looked for.
    path = "/backend-api/conversation/4539148803436467/stream"
    flow = _ai_flow("chatgpt.com", "chatgpt", path=path)
    _through_the_addons(settings, inspection, flow)
    assert state_of(flow).path_scan is None and flow.request.path == path
    assert detection_event(flow, state_of(flow).match).path == path  # type: ignore[arg-type]
