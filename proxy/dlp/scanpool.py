"""Scan workers: inspect uploads in processes of their own, off the proxy's event loop.

The proxy runs on one core. Scanning an 8 KB prompt there took 0.35 to 0.6 ms of the 2.9 ms
that core spent on each such AI request; a worker process takes it onto another core, and
the loop only pickles the body out and the report back (BENCHMARKS.md, "Scan workers").
"""

from __future__ import annotations

import asyncio
import contextlib
import io
import itertools
import logging
import os
import pickle
import sys
from dataclasses import dataclass, field
from typing import Any

from shadowlens.proxy import metrics
from shadowlens.proxy.dlp.engine import ScannerRecipe
from shadowlens.proxy.dlp.model import BodyReport, DlpLimits, Finding
from shadowlens.proxy.dlp.scanworker import HEADER, READY, frame, report_from_values

log = logging.getLogger(__name__)

COMMAND = (sys.executable, "-m", "shadowlens.proxy.dlp.scanworker")
SETTINGS_PREFIX = "SHADOWLENS_"
FIRST_RETRY_SECONDS = 0.5
LAST_RETRY_SECONDS = 30.0


class WorkerLostError(Exception):
    """The worker holding a request stopped before answering it."""


@dataclass
class _Worker:
    process: asyncio.subprocess.Process
    pending: dict[int, asyncio.Future[BodyReport]] = field(default_factory=dict)
    ready: bool = False
    retiring: bool = False  # asked to stop (a reload, or the proxy stopping): not a failure
    fault: str = ""  # why we killed it: "timeout", or "protocol" for an answer not understood


class ScanPool:
    """``count`` scan workers, each kept running: one that stops unasked is started again.

    A request goes to the ready worker with the fewest pending. While none is ready
    (starting, restarting, or ``count`` is 0) :meth:`inspect_body` answers None and the
    caller scans in its own process, as it would without workers.

    Fails closed: a request whose worker dies, or that is not answered within ``timeout``
    seconds (the worker is then killed), gets an incomplete report, which the policy treats
    as a scan error. It is not scanned again in the proxy: the body may be what killed it.
    """

    def __init__(
        self,
        recipe: ScannerRecipe,
        limits: DlpLimits,
        *,
        count: int,
        timeout: float,
        command: tuple[str, ...] = COMMAND,
    ) -> None:
        self.recipe = recipe
        self.limits = limits
        self.timeout = timeout
        self.command = command
        self.workers: list[_Worker | None] = [None] * count
        self._slots: list[asyncio.Task[None]] = []
        self._ids = itertools.count()
        self._closing = False
        self._loop: asyncio.AbstractEventLoop | None = None

    def start(self) -> None:
        """Start the workers; call from the running event loop."""
        self._loop = asyncio.get_running_loop()
        self._slots = [asyncio.create_task(self._keep(slot)) for slot in range(len(self.workers))]

    @property
    def ready(self) -> int:
        return len(self._ready())

    async def inspect_body(
        self, body: bytes, *, content_type: str | None, content_encoding: str | None
    ) -> BodyReport | None:
        """The report of :func:`~proxy.dlp.body.inspect_body` from a worker, or None."""
        options: dict[str, object] = {
            "content_type": content_type,
            "content_encoding": content_encoding,
        }
        return await self._ask("body", body, options)

    async def inspect_text(self, text: str, *, location: str = "") -> BodyReport | None:
        """The report of :func:`~proxy.dlp.body.inspect_text` from a worker, or None."""
        return await self._ask("text", text, {"location": location})

    def reload(self, recipe: ScannerRecipe) -> None:
        """Workers with the new rules replace the running ones, which finish what they hold.
        Safe from any thread (rules are reloaded in one)."""
        self.recipe = recipe
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._retire_all)

    async def close(self) -> None:
        """Let each worker answer what it holds, then stop it."""
        self._closing = True
        self._retire_all()
        await asyncio.gather(*self._slots, return_exceptions=True)

    def _retire_all(self) -> None:
        for worker in self.workers:
            if worker is not None:
                _retire(worker)

    async def _ask(
        self, kind: str, payload: bytes | str, options: dict[str, object]
    ) -> BodyReport | None:
        worker = self._pick()
        if worker is None:
            return None
        ident = next(self._ids)
        answer: asyncio.Future[BodyReport] = asyncio.get_running_loop().create_future()
        worker.pending[ident] = answer
        assert worker.process.stdin is not None
        worker.process.stdin.write(frame((ident, kind, payload, options)))
        try:
            return await asyncio.wait_for(answer, self.timeout)
        except TimeoutError:
            log.error("dlp: a scan worker took over %gs on one upload; stopping it", self.timeout)
            _kill(worker, "timeout")
            return self._failed("worker-timeout")
        except WorkerLostError:
            return self._failed("worker-lost")

    def _ready(self) -> list[_Worker]:
        return [w for w in self.workers if w is not None and w.ready and not w.retiring]

    def _pick(self) -> _Worker | None:
        return min(self._ready(), key=lambda w: len(w.pending), default=None)

    def _failed(self, flag: str) -> BodyReport:
        internal = Finding("dlp-internal-error", "limit", "medium", 0, 0, "", "")
        return BodyReport(findings=[internal], flags=[flag], complete=False, limits=self.limits)

    async def _keep(self, slot: int) -> None:
        """Run a worker in ``slot`` until the pool closes, starting it again when it stops."""
        delay = FIRST_RETRY_SECONDS
        while not self._closing:
            retired = await self._run(slot)
            if self._closing:
                return
            if retired:
                delay = FIRST_RETRY_SECONDS
                continue
            await asyncio.sleep(delay)
            delay = min(delay * 2, LAST_RETRY_SECONDS)

    async def _run(self, slot: int) -> bool:
        """One worker's life; True when it was asked to stop and did."""
        try:
            process = await asyncio.create_subprocess_exec(
                *self.command,
                stdin=asyncio.subprocess.PIPE,
                stdout=asyncio.subprocess.PIPE,
                env=_worker_environment(),
            )
        except OSError as exc:
            log.error("dlp: could not start a scan worker: %s", exc)
            return False
        worker = self.workers[slot] = _Worker(process)
        assert process.stdin is not None and process.stdout is not None
        process.stdin.write(frame((self.recipe, self.limits)))
        try:
            await self._read(worker, process.stdout)
        except (asyncio.IncompleteReadError, ConnectionError):
            _close_stdin(worker)  # it is gone; its exit code says why
        except Exception:  # an answer we do not understand: whatever sent it is not trusted
            _kill(worker, "protocol")
        finally:
            self.workers[slot] = None
            for answer in worker.pending.values():
                if not answer.done():
                    answer.set_exception(WorkerLostError())
        try:  # a worker may take ``timeout`` to answer; one that takes longer to stop is stuck
            code = await asyncio.wait_for(process.wait(), self.timeout)
        except TimeoutError:
            _kill(worker, "timeout")
            code = await process.wait()
        if worker.retiring and not worker.fault and code == 0:
            return True
        reason = worker.fault or ("" if worker.retiring else "crashed")
        if reason:
            metrics.DLP_WORKER_EXITS.labels(reason=reason).inc()
        log.error("dlp: scan worker %s stopped (exit code %s)", process.pid, code)
        return False

    async def _read(self, worker: _Worker, stream: asyncio.StreamReader) -> None:
        if await _message(stream) != READY:
            raise ValueError("scan worker did not start")
        worker.ready = True
        log.info("dlp: scan worker %s ready", worker.process.pid)
        while worker.pending or not worker.retiring:
            ident, values = await _message(stream)
            answer = worker.pending.pop(ident, None)
            if answer is not None and not answer.done():
                answer.set_result(report_from_values(values, self.limits))
        _close_stdin(worker)


async def _message(stream: asyncio.StreamReader) -> Any:
    size = HEADER.unpack(await stream.readexactly(HEADER.size))[0]
    return _BuiltinsUnpickler(io.BytesIO(await stream.readexactly(size))).load()


class _BuiltinsUnpickler(pickle.Unpickler):
    """Builds no class at all: a worker reads hostile uploads, so whatever happened to it,
    what it sends back is plain values (numbers, strings, lists, tuples)."""

    def find_class(self, module: str, name: str) -> type:
        raise pickle.UnpicklingError(f"a scan worker sent {module}.{name}")


def _worker_environment() -> dict[str, str]:
    """The proxy's environment without its settings: tokens and keys stay out of a process
    that reads hostile uploads (the recipe brings the one key it needs)."""
    return {k: v for k, v in os.environ.items() if not k.startswith(SETTINGS_PREFIX)}


def _retire(worker: _Worker) -> None:
    worker.retiring = True
    if not worker.pending:
        _close_stdin(worker)


def _close_stdin(worker: _Worker) -> None:
    stdin = worker.process.stdin
    if stdin is not None and not stdin.is_closing():
        stdin.close()


def _kill(worker: _Worker, fault: str) -> None:
    worker.fault = worker.fault or fault
    with contextlib.suppress(ProcessLookupError):
        worker.process.kill()
