"""The writer: a bounded queue drained in batches off the event loop.

The proxy's hooks only call :meth:`InventoryWriter.submit`, which never blocks. A
background task collects batches and hands each to a blocking sink in a worker thread.
A failed batch is kept and retried with backoff, so a database outage loses nothing
until the queue itself is full; then new events are dropped and counted.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from proxy import metrics
from proxy.inventory.events import DetectionEvent

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[DetectionEvent]], int]

_MAX_BACKOFF = 5.0


class InventoryWriter:
    """Queues detection events and writes them in batches through ``sink``."""

    def __init__(
        self, sink: Sink, *, queue_size: int, batch_size: int, flush_seconds: float
    ) -> None:
        self._sink = sink
        self._queue: asyncio.Queue[DetectionEvent] = asyncio.Queue(maxsize=queue_size)
        self._batch_size = batch_size
        self._flush_seconds = flush_seconds
        self._task: asyncio.Task[None] | None = None
        self._in_flight = 0  # events taken from the queue but not yet written
        self._last_drop_log = 0.0

    def start(self) -> None:
        """Start the background task on the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="shadowlens-writer")

    def submit(self, event: DetectionEvent) -> bool:
        """Queue an event without blocking; count and drop it when the queue is full."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            metrics.EVENTS_DROPPED.labels(reason="queue_full").inc()
            self._log_drop()
            return False
        metrics.QUEUE_DEPTH.set(self._queue.qsize())
        return True

    async def close(self, grace: float = 30.0) -> None:
        """Write everything still queued, waiting at most ``grace`` seconds, then stop."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), grace)
        except TimeoutError:
            lost = self._queue.qsize() + self._in_flight
            metrics.EVENTS_DROPPED.labels(reason="shutdown").inc(lost)
            log.error("inventory writer stopped with %d events unwritten", lost)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        while True:
            batch = [await self._queue.get()]
            deadline = time.monotonic() + self._flush_seconds
            while len(batch) < self._batch_size:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    break
                try:
                    batch.append(await asyncio.wait_for(self._queue.get(), remaining))
                except TimeoutError:
                    break
            batch.extend(self._take(self._batch_size - len(batch)))
            self._in_flight = len(batch)
            await self._write_until_done(batch)
            self._in_flight = 0
            for _ in batch:
                self._queue.task_done()

    def _take(self, most: int) -> list[DetectionEvent]:
        taken: list[DetectionEvent] = []
        while len(taken) < most and not self._queue.empty():
            taken.append(self._queue.get_nowait())
        return taken

    async def _write_until_done(self, batch: list[DetectionEvent]) -> None:
        backoff = 0.1
        while not await self._write(batch):
            await asyncio.sleep(backoff)
            backoff = min(backoff * 2, _MAX_BACKOFF)

    async def _write(self, batch: list[DetectionEvent]) -> bool:
        """Write one batch in a worker thread; False (and the error logged) when it failed."""
        started = time.perf_counter()
        try:
            await asyncio.to_thread(self._sink, batch)
        except Exception:
            metrics.WRITE_ERRORS.inc()
            log.exception("inventory write of %d events failed; will retry", len(batch))
            return False
        metrics.WRITE_SECONDS.observe(time.perf_counter() - started)
        metrics.EVENTS_WRITTEN.inc(len(batch))
        metrics.QUEUE_DEPTH.set(self._queue.qsize())
        return True

    def _log_drop(self) -> None:
        now = time.monotonic()
        if now - self._last_drop_log > 10:
            self._last_drop_log = now
            log.warning(
                "inventory queue full: dropping events (see shadowlens_events_dropped_total)"
            )
