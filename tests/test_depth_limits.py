"""A JSON body nested 100,000 deep: classified, inspected (flagged too deep) and recorded.

The standard JSON parser recurses once per level; no part of shadowlens may let that
RecursionError out, in the proxy's addons or in the core functions the CLI runs.
"""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

import pytest
from mitmproxy.test import taddons, tflow, tutils

from shadowlens.addons.discovery import Discovery
from shadowlens.addons.flowstate import match_of, state_of
from shadowlens.addons.inspection import Inspection
from shadowlens.proxy.catalog import load_catalog
from shadowlens.proxy.catalog.classify import classify_request
from shadowlens.proxy.catalog.protocols import recognize_request
from shadowlens.proxy.dlp import DlpLimits, Scanner, inspect_body
from shadowlens.proxy.dlp import config as dlp_config
from shadowlens.proxy.dlp.validators import jwt
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.runtime import CatalogRef
from shadowlens.proxy.settings import Settings
from tests.conftest import RULES_DIR
from tests.factories import kept_events

AWS = "AKIAZ7Q2XK4M7TR3WB6P"
DEPTH = 100_000
DEEP = b"[" * DEPTH + f'"my key {AWS}"'.encode() + b"]" * DEPTH
DEEP_CHAT = b'{"model": "gpt-4o", "messages": ' + DEEP + b"}"
CATALOG = load_catalog(RULES_DIR)


def test_protocol_shapes_and_models_survive_deep_json() -> None:
    assert recognize_request("/v1/chat/completions", DEEP_CHAT) is None
    assert recognize_request("/v1/chat/completions", DEEP) is None
    headers = {"content-type": "application/json"}
    match = classify_request(CATALOG, "https://api.openai.com/v1/chat/completions",
                             method="POST", headers=headers, body=DEEP_CHAT)  # fmt: skip
    assert match is not None and match.service.id == "openai-api"
    deep_header = base64.urlsafe_b64encode(b"[" * DEPTH).decode().rstrip("=")
    assert jwt(f"{deep_header}.e30.sig") is False


def test_dlp_flags_deep_json_and_still_scans_it_as_text(scanner: Scanner) -> None:
    report = inspect_body(DEEP_CHAT, content_type="application/json", content_encoding=None,
                          scanner=scanner, limits=DlpLimits())  # fmt: skip
    detectors = {f.detector for f in report.findings}
    assert "dlp-depth-limit" in detectors and "aws-access-key-id" in detectors
    assert not report.complete and not report.truncated
    shallow = json.dumps({"messages": [{"role": "user", "content": AWS}]}).encode()
    ok = inspect_body(shallow, content_type="application/json", content_encoding=None,
                      scanner=scanner, limits=DlpLimits())  # fmt: skip
    assert ok.complete and "dlp-depth-limit" not in {f.detector for f in ok.findings}


@pytest.mark.parametrize("host", ["api.openai.com", "llm.internal.test"])
def test_the_real_addons_classify_inspect_and_record_a_deep_body(
    host: str, scanner: Scanner
) -> None:
    request = tutils.treq(host=host, port=443, scheme=b"https", path=b"/v1/chat/completions")
    request.headers.update({"host": host, "content-type": "application/json"})
    request.method = "POST"
    request.content = DEEP_CHAT
    flow = tflow.tflow(req=request)

    async def main() -> list[DetectionEvent]:
        async with kept_events() as (writer, written):
            discovery = Discovery(CatalogRef(CATALOG), writer, max_body=1 << 20)
            inspection = Inspection(scanner, DlpLimits())
            with taddons.context(discovery, inspection):
                discovery.requestheaders(flow)  # hooks in the order the launcher chains them
                discovery.request(flow)
                await inspection.request(flow)
                flow.response = tutils.tresp()
                discovery.responseheaders(flow)
                discovery.response(flow)
        return written

    written = asyncio.run(main())
    if host == "llm.internal.test":  # no protocol shape can be confirmed in such a body
        assert match_of(flow) is None and written == []
        return
    [event] = written
    assert event.service_id == "openai-api" and event.request_bytes == len(DEEP_CHAT)
    report = state_of(flow).report
    assert report is not None
    detectors = {f.detector for f in report.findings}
    assert {"dlp-depth-limit", "aws-access-key-id"} <= detectors


@pytest.fixture(scope="module")
def scanner(tmp_path_factory: pytest.TempPathFactory) -> Scanner:
    return dlp_config.scanner(Settings(data_dir=Path(tmp_path_factory.mktemp("data"))))
