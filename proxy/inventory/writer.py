"""The writer: a bounded queue drained in batches off the event loop.

The proxy's hooks only call :meth:`InventoryWriter.submit`, which never blocks. A
background task collects batches and hands each to a blocking sink in a worker thread.

With a :class:`~proxy.inventory.spool.Spool`, a batch the database refuses is appended to
the spool file (fsynced) and the writer moves on; the spool is replayed in order, before any
newer batch, as soon as the database takes writes again, and at start after a crash. Only a
batch that would take the spool past its cap is dropped, counted and logged. Without a spool,
a failed batch is kept and retried with backoff until the queue itself is full.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence

from proxy import metrics
from proxy.inventory.events import DetectionEvent
from proxy.inventory.spool import Spool, SpoolFullError

log = logging.getLogger(__name__)

Sink = Callable[[Sequence[DetectionEvent]], int]

_MAX_BACKOFF = 5.0


class InventoryWriter:
    """Queues detection events and writes them in batches through ``sink``."""

    def __init__(
        self,
        sink: Sink,
        *,
        queue_size: int,
        batch_size: int,
        flush_seconds: float,
        spool: Spool | None = None,
    ) -> None:
        self._sink = sink
        self._spool = spool
        self._spooled = False  # batches wait in the spool (known without touching the disk)
        self._retry_at = 0.0  # monotonic time of the next replay attempt
        self._backoff = 0.1
        self._in_flight_batch: list[DetectionEvent] = []
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
        timed_out = False
        try:
            await asyncio.wait_for(self._queue.join(), grace)
        except TimeoutError:
            timed_out = True
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        if timed_out:
            left = self._in_flight_batch + self._take(self._queue.qsize())
            if self._spool is not None and left:
                # The in-flight batch may still commit in its thread: replay is idempotent.
                await self._to_spool(left)
            elif left:
                metrics.EVENTS_DROPPED.labels(reason="shutdown").inc(len(left))
                log.error("inventory writer stopped with %d events unwritten", len(left))

    async def _run(self) -> None:
        if self._spool is not None:
            self._spooled = await asyncio.to_thread(self._spool.pending)
            if self._spooled:
                log.warning("replaying the inventory spool left at %s", self._spool.path)
        while True:
            first = await self._next_event()
            if first is None:
                continue
            batch = await self._fill([first])
            self._in_flight = len(batch)
            self._in_flight_batch = batch
            if self._spool is None:
                await self._write_until_done(batch)
            else:
                await self._deliver(batch)
            self._in_flight = 0
            self._in_flight_batch = []
            for _ in batch:
                self._queue.task_done()

    async def _fill(self, batch: list[DetectionEvent]) -> list[DetectionEvent]:
        """Top ``batch`` up from the queue; wait for more only while it is empty, and briefly."""
        deadline = time.monotonic() + self._flush_seconds
        while len(batch) < self._batch_size:
            batch.extend(self._take(self._batch_size - len(batch)))
            remaining = deadline - time.monotonic()
            if len(batch) >= self._batch_size or remaining <= 0:
                break
            try:
                batch.append(await asyncio.wait_for(self._queue.get(), remaining))
            except TimeoutError:
                break
        return batch

    async def _next_event(self) -> DetectionEvent | None:
        """The next queued event; None after trying the spool when it is due first."""
        if not self._spooled:
            return await self._queue.get()
        wait = max(0.0, self._retry_at - time.monotonic())
        try:
            return await asyncio.wait_for(self._queue.get(), wait)
        except TimeoutError:
            await self._replay()
            return None

    async def _deliver(self, batch: list[DetectionEvent]) -> None:
        """Write ``batch`` after the spool; spool it when the database refuses it."""
        if self._spooled and time.monotonic() >= self._retry_at:
            await self._replay()
        if not self._spooled and await self._write(batch):
            return
        await self._to_spool(batch)

    async def _to_spool(self, batch: list[DetectionEvent]) -> None:
        assert self._spool is not None
        try:
            await asyncio.to_thread(self._spool.append, batch)
        except (SpoolFullError, OSError) as exc:
            metrics.EVENTS_DROPPED.labels(reason="spool_full").inc(len(batch))
            log.error("inventory spool cannot take %d events, dropped: %s", len(batch), exc)
            return
        if not self._spooled:
            self._retry_at = time.monotonic() + self._backoff
        self._spooled = True
        metrics.EVENTS_SPOOLED.inc(len(batch))
        metrics.SPOOL_BYTES.set(self._spool.size)

    async def _replay(self) -> None:
        """Hand the spooled batches to the sink in order, until one fails or none is left."""
        assert self._spool is not None
        try:
            replayed = await asyncio.to_thread(self._replay_blocking, self._spool)
        except Exception as exc:
            metrics.WRITE_ERRORS.inc()
            self._retry_at = time.monotonic() + self._backoff
            log.warning("inventory database still refuses writes (%s); spool kept", exc)
            self._backoff = min(self._backoff * 2, _MAX_BACKOFF)
            metrics.SPOOL_BYTES.set(self._spool.size)
            return
        self._spooled = False
        self._backoff = 0.1
        metrics.SPOOL_BYTES.set(0)
        log.warning("inventory spool replayed: %d events written", replayed)

    def _replay_blocking(self, spool: Spool) -> int:
        replayed = 0
        for offset, events in spool.batches():
            started = time.perf_counter()
            self._sink(events)
            metrics.WRITE_SECONDS.observe(time.perf_counter() - started)
            metrics.EVENTS_WRITTEN.inc(len(events))
            spool.mark_replayed(offset)
            replayed += len(events)
        spool.mark_replayed(spool.read_to)  # removes the file, unless a batch came meanwhile
        return replayed

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
            then = "spooling it" if self._spool is not None else "will retry"
            log.exception("inventory write of %d events failed; %s", len(batch), then)
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
