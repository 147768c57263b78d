"""Scan workers: real worker processes, killed, stalled, reloaded and impersonated."""

from __future__ import annotations

import asyncio
import io
import json
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
from dlp_support import KEY, KEYWORDS, RULES_DIR
from mitmproxy import http
from mitmproxy.test import tflow, tutils
from PIL import Image
from prometheus_client import REGISTRY

from shadowlens.addons.flowstate import FlowState
from shadowlens.addons.inspection import WORKER_MIN_BYTES, Inspection
from shadowlens.proxy import metrics
from shadowlens.proxy.dlp import BodyReport, DlpLimits, inspect_body
from shadowlens.proxy.dlp.engine import ScannerRecipe
from shadowlens.proxy.dlp.scanpool import ScanPool, _Worker
from shadowlens.proxy.policy.enforce import Inspected, RequestView, upload_of

RECIPE = ScannerRecipe(RULES_DIR.parent, KEY, "auto", KEYWORDS)
LIMITS = DlpLimits()
TOKEN = "ghp_" + "Zq7XyW3vB9nM2kL5pR8tH1sD4fG6jA0cE2uI"  # a GitHub token, made up
JSON = "application/json"


def _chat(content: str) -> bytes:
    return json.dumps({"model": "m", "messages": [{"role": "user", "content": content}]}).encode()


SECRET_BODY = _chat("deploy with " + TOKEN + " please. " + "Some prose to pad it. " * 80)
# Large enough that a worker takes a while on it: time to kill it, or to run out of time.
SLOW_BODY = _chat("a@b.example 4111 1111 1111 1111 " * 5_000)  # about 0.3 s


def _run(scenario: Callable[[ScanPool], Awaitable[None]], **options: object) -> None:
    async def run() -> None:
        pool = ScanPool(RECIPE, LIMITS, **{"count": 1, "timeout": 30.0, **options})  # type: ignore[arg-type]
        pool.start()
        try:
            await _until(lambda: pool.ready == len(pool.workers))
            await scenario(pool)
        finally:
            await pool.close()

    asyncio.run(run())


async def _until(condition: Callable[[], bool], seconds: float = 60) -> None:
    for _ in range(int(seconds / 0.02)):
        if condition():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("condition not met in time")


async def _slow_scan(pool: ScanPool) -> tuple[_Worker, asyncio.Task[BodyReport | None]]:
    """The worker, once it holds a scan that takes a while, and that scan."""
    worker = pool.workers[0]
    assert worker is not None
    scan = asyncio.create_task(
        pool.inspect_body(SLOW_BODY, content_type=JSON, content_encoding=None)
    )
    await _until(lambda: bool(worker.pending))
    return worker, scan


def _summary(report: BodyReport) -> tuple[object, ...]:
    return (
        [(f.detector, f.start, f.end, f.fingerprint, f.location) for f in report.findings],
        report.flags, report.complete, report.truncated, report.decoded_bytes, report.segments,
        report.media,
    )  # fmt: skip


def _exits(reason: str) -> float:
    return metrics.DLP_WORKER_EXITS.labels(reason=reason)._value.get()


def test_a_worker_reports_what_the_proxy_would() -> None:
    local = RECIPE.build()
    bodies = [
        (SECRET_BODY, JSON, None),
        (b"name=Ann&card=4111111111111111", "application/x-www-form-urlencoded", None),
        (b'{"broken": ', JSON, None),
        (b"\x1f\x8b not really gzip", JSON, "gzip"),
    ]

    async def scenario(pool: ScanPool) -> None:
        for body, content_type, encoding in bodies:
            remote = await pool.inspect_body(
                body, content_type=content_type, content_encoding=encoding
            )
            assert remote is not None and remote.limits == LIMITS
            here = inspect_body(body, content_type=content_type, content_encoding=encoding,
                                scanner=local, limits=LIMITS)  # fmt: skip
            assert _summary(remote) == _summary(here)
        text = await pool.inspect_text("key " + TOKEN, location="ws")
        assert text is not None and [f.location for f in text.findings] == ["ws"]

    _run(scenario)


def test_a_worker_killed_mid_scan_fails_its_upload_closed_and_is_replaced() -> None:
    before = _exits("crashed")

    async def scenario(pool: ScanPool) -> None:
        worker, scan = await _slow_scan(pool)
        worker.process.send_signal(signal.SIGKILL)
        report = await scan
        assert report is not None and not report.complete and report.flags == ["worker-lost"]
        # the policy sees a scan error, so its fail mode decides: nothing goes through unseen
        request = RequestView("POST", "https://ai.example/", "ai.example", "/", {}, SLOW_BODY)
        assert upload_of(request, Inspected(report)).failure == "scan_error"
        await _until(lambda: pool.ready == 1)
        assert pool.workers[0] is not worker
        again = await pool.inspect_body(SECRET_BODY, content_type=JSON, content_encoding=None)
        assert again is not None and "github-pat" in {f.detector for f in again.findings}

    _run(scenario)
    assert _exits("crashed") == before + 1


def test_a_scan_over_the_timeout_fails_closed_and_its_worker_is_stopped() -> None:
    before = _exits("timeout")

    async def scenario(pool: ScanPool) -> None:
        stuck = pool.workers[0]
        assert stuck is not None
        report = await pool.inspect_body(SLOW_BODY, content_type=JSON, content_encoding=None)
        assert report is not None and not report.complete and report.flags == ["worker-timeout"]
        assert await stuck.process.wait() == -signal.SIGKILL
        await _until(lambda: pool.ready == 1)
        pool.timeout = 30.0
        assert await pool.inspect_body(SECRET_BODY, content_type=JSON, content_encoding=None)

    crashed = _exits("crashed")
    _run(scenario, timeout=0.05)
    assert _exits("timeout") == before + 1 and _exits("crashed") == crashed


def test_closing_lets_a_worker_answer_what_it_holds_and_stop_cleanly() -> None:
    async def scenario(pool: ScanPool) -> None:
        worker, scan = await _slow_scan(pool)
        await pool.close()
        report = await scan
        assert report is not None and report.complete and report.findings
        assert worker.process.returncode == 0
        assert await pool.inspect_body(b"{}", content_type=JSON, content_encoding=None) is None

    _run(scenario)


def test_a_reload_brings_workers_with_the_new_rules() -> None:
    body = _chat("the Zebra Initiative budget")

    async def scenario(pool: ScanPool) -> None:
        first = await pool.inspect_body(body, content_type=JSON, content_encoding=None)
        assert first is not None and not first.findings
        old = pool.workers[0]
        pool.reload(ScannerRecipe(RECIPE.rules_dir, KEY, "auto", ("Zebra Initiative",)))
        await _until(lambda: pool.ready == 1 and pool.workers[0] is not old)
        second = await pool.inspect_body(body, content_type=JSON, content_encoding=None)
        assert second is not None and [f.category for f in second.findings] == ["keyword"]
        assert old is not None and await old.process.wait() == 0  # retired, not killed

    _run(scenario)


def test_without_a_ready_worker_the_caller_scans_itself() -> None:
    async def scenario() -> None:
        idle = ScanPool(RECIPE, LIMITS, count=0, timeout=1.0)
        idle.start()
        assert (
            await idle.inspect_body(SECRET_BODY, content_type=JSON, content_encoding=None) is None
        )
        starting = ScanPool(RECIPE, LIMITS, count=1, timeout=1.0)
        starting.start()  # building its scanner takes a while: not ready yet
        assert await starting.inspect_text("hi") is None
        await starting.close()

    asyncio.run(scenario())


def test_a_worker_ignores_sigterm_and_keeps_secrets_off_its_command_line_and_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SHADOWLENS_API_TOKENS", "admin:planted-api-token")

    async def scenario(pool: ScanPool) -> None:
        worker = pool.workers[0]
        assert worker is not None
        worker.process.send_signal(signal.SIGTERM)  # as a container stop sends to the group
        report = await pool.inspect_body(SECRET_BODY, content_type=JSON, content_encoding=None)
        assert report is not None and report.complete and report.findings
        assert pool.workers[0] is worker
        for seen in ("cmdline", "environ"):
            text = await asyncio.to_thread(Path(f"/proc/{worker.process.pid}/{seen}").read_bytes)
            assert KEY not in text and KEY.hex().encode() not in text
            assert b"planted-api-token" not in text

    _run(scenario)


IMPOSTOR = """
import os, pickle, struct, sys
class Evil:
    def __reduce__(self):
        return (os.system, ("touch {marker}",))
def send(message):
    data = pickle.dumps(message)
    sys.stdout.buffer.write(struct.pack(">I", len(data)) + data)
    sys.stdout.buffer.flush()
def receive():
    size = struct.unpack(">I", sys.stdin.buffer.read(4))[0]
    return sys.stdin.buffer.read(size)
receive()
send("ready")
receive()
send((0, Evil()))
sys.stdin.buffer.read()
"""


def test_a_subverted_worker_cannot_run_code_in_the_proxy(tmp_path: Path) -> None:
    """A worker reads hostile uploads; what it answers must not be able to build objects."""
    marker = tmp_path / "pwned"
    command = (sys.executable, "-c", IMPOSTOR.format(marker=marker))

    async def scenario(pool: ScanPool) -> None:
        report = await pool.inspect_body(SECRET_BODY, content_type=JSON, content_encoding=None)
        assert report is not None and not report.complete and report.flags == ["worker-lost"]

    before = _exits("protocol")
    _run(scenario, command=command)
    assert not marker.exists()
    assert _exits("protocol") >= before + 1


def _upload_flow(body: bytes, *, content_type: str = JSON) -> http.HTTPFlow:
    request = tutils.treq(host="api.openai.com", port=443, path=b"/v1/chat/completions")
    request.method, request.content = "POST", body
    request.headers["content-type"] = content_type
    flow = tflow.tflow(req=request)
    flow.metadata["shadowlens"] = FlowState(match=object())  # type: ignore[arg-type]
    return flow


@pytest.mark.parametrize("workers", [0, 1])
def test_inspection_hands_uploads_over_1_kib_to_a_ready_worker(workers: int) -> None:
    """The workers' scanner knows a keyword the proxy's own does not: whose report it is
    shows who scanned."""
    local = ScannerRecipe(RECIPE.rules_dir, KEY, "auto", ()).build()
    large = _chat("Project Bluebird " + "notes " * 200)
    small = _chat("Project Bluebird")
    assert len(small) <= WORKER_MIN_BYTES < len(large)

    async def scenario() -> None:
        pool = ScanPool(RECIPE, LIMITS, count=workers, timeout=30.0)
        addon = Inspection(local, LIMITS, pool=pool)
        addon.running()
        await _until(lambda: pool.ready == workers)
        found = []
        for body in (large, small):
            flow = _upload_flow(body)
            await addon.request(flow)
            found.append([f.category for f in flow.metadata["shadowlens"].report.findings])
        await addon.done()
        assert found == [["keyword"] if workers else [], []]

    asyncio.run(scenario())


def test_an_image_a_worker_did_not_read_is_counted_by_the_proxy() -> None:
    """The proxy serves the metrics: a skip in a worker must be counted where it comes back."""
    image = io.BytesIO()
    Image.effect_noise((200, 200), 60).convert("RGB").save(image, "PNG")  # noise: no text
    png = image.getvalue()
    assert len(png) > WORKER_MIN_BYTES
    limits = DlpLimits(ocr_max_pixels=1000)  # under this image's, if tesseract is installed

    async def scenario() -> str:
        pool = ScanPool(RECIPE, limits, count=1, timeout=30.0)
        addon = Inspection(RECIPE.build(), limits, pool=pool)
        addon.running()
        await _until(lambda: pool.ready == 1)
        flow = _upload_flow(png, content_type="image/png")
        await addon.request(flow)
        await addon.done()
        [flag] = [f for f in flow.metadata["shadowlens"].report.flags if f.startswith("ocr-")]
        return flag.split(":")[1]  # too_many_pixels, or unavailable without tesseract

    counted = REGISTRY.get_sample_value
    before = {r: counted("shadowlens_dlp_ocr_skipped_total", {"reason": r}) or 0.0
              for r in ("too_many_pixels", "unavailable")}  # fmt: skip
    reason = asyncio.run(scenario())
    after = counted("shadowlens_dlp_ocr_skipped_total", {"reason": reason})
    assert after == before[reason] + 1
