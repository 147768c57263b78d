"""The writer: a bounded queue drained in batches off the event loop.

The proxy's hooks only call :meth:`InventoryWriter.submit`, which never blocks. A
background task collects batches and hands each to a blocking sink in a worker thread.

With a :class:`~proxy.inventory.spool.Spool`, a batch the database refuses is appended to
the spool file (fsynced) and the writer moves on; the spool is replayed in order, before any
newer batch, as soon as the database takes writes again, and at start after a crash. Only a
batch that would take the spool past its cap is dropped, counted and logged. Without a spool,
a failed batch is kept and retried with backoff until the queue itself is full.

With a :class:`~proxy.inventory.journal.Journal` (which needs the spool),
:meth:`InventoryWriter.submit_durable` writes an event ahead to the journal before queueing
it, so an answered flow's event survives the process being killed.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence

from shadowlens.proxy import metrics
from shadowlens.proxy.batching import fill, take
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.journal import Journal, Segment, left_behind_batches
from shadowlens.proxy.inventory.spool import Spool, SpoolFullError

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
        journal: Journal | None = None,
        tee: Callable[[DetectionEvent], object] | None = None,
    ) -> None:
        if journal is not None and spool is None:
            raise ValueError("the journal is replayed through the spool: it needs one")
        self._sink = sink
        self._tee = tee  # also handed every event submitted: the SIEM sinks and alert rules
        self._spool = spool
        self._journal = journal
        self._journaled: dict[str, Segment] = {}  # queued event id → the segment holding it
        self._group: list[DetectionEvent] = []  # fsync mode: events waiting for the next sync
        self._group_synced: asyncio.Future[None] | None = None
        self._committer: asyncio.Task[None] | None = None
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
        self._last_journal_log = 0.0

    def start(self) -> None:
        """Start the background task on the running loop."""
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="shadowlens-writer")

    def submit(self, event: DetectionEvent) -> bool:
        """Queue an event without blocking; count and drop it when the queue is full."""
        if self._tee is not None:
            self._tee(event)
        return self._put(event)

    def _put(self, event: DetectionEvent) -> bool:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            metrics.EVENTS_DROPPED.labels(reason="queue_full").inc()
            self._log_drop()
            return False
        metrics.QUEUE_DEPTH.set(self._queue.qsize())
        return True

    def submit_durable(self, event: DetectionEvent) -> Awaitable[None] | None:
        """Write ``event`` ahead to the journal, then queue it; call it before answering.

        None once that is done (``write`` mode, or no journal). In ``fsync`` mode, an
        awaitable that finishes once the group holding the event is synced: hold the answer
        until then. A journal that fails (a full disk) is counted and logged, and the event
        is queued all the same: the answer is never held back by it.
        """
        journal = self._journal
        if self._tee is not None:
            self._tee(event)
        if journal is None:
            self._put(event)
            return None
        if not journal.sync:
            self._queue_journaled([event], self._append(journal, [event]))
            return None
        self._group.append(event)
        if self._group_synced is None:
            self._group_synced = asyncio.get_running_loop().create_future()
        if self._committer is None:
            self._committer = asyncio.create_task(self._commit_groups(journal))
        return asyncio.shield(self._group_synced)

    async def _commit_groups(self, journal: Journal) -> None:
        """Sync the waiting events as one group, while the next group gathers; until none."""
        while self._group:
            group, self._group = self._group, []
            synced, self._group_synced = self._group_synced, None
            segment = await asyncio.to_thread(self._append, journal, group)
            self._queue_journaled(group, segment)
            if synced is not None:
                synced.set_result(None)
        self._committer = None

    def _append(self, journal: Journal, events: list[DetectionEvent]) -> Segment | None:
        try:
            return journal.append(events)
        except Exception as exc:  # a full disk above all; never a reason to hold an answer
            metrics.JOURNAL_ERRORS.inc(len(events))
            now = time.monotonic()
            if now - self._last_journal_log > 10:
                self._last_journal_log = now
                log.error("inventory journal write failed (%s); events queued unjournaled", exc)
            return None

    def _queue_journaled(self, events: list[DetectionEvent], segment: Segment | None) -> None:
        if segment is None:
            for event in events:
                self._put(event)
            return
        # An event the queue drops stays outstanding: its segment is kept for the next start.
        segment.outstanding += len(events)
        for event in events:
            if self._put(event):
                self._journaled[event.id] = segment

    def _release(self, batch: list[DetectionEvent]) -> None:
        """``batch`` is in the database or the spool: its journal lines are needed no more."""
        if self._journal is None:
            return
        for event in batch:
            segment = self._journaled.pop(event.id, None)
            if segment is not None:
                segment.outstanding -= 1
        self._journal.prune()

    async def close(self, grace: float = 30.0) -> None:
        """Write everything still queued, waiting at most ``grace`` seconds, then stop."""
        if self._committer is not None:
            await self._committer
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
            left = self._in_flight_batch + take(self._queue, self._queue.qsize())
            if self._spool is not None and left:
                # The in-flight batch may still commit in its thread: replay is idempotent.
                if await self._to_spool(left):
                    self._release(left)
            elif left:
                metrics.EVENTS_DROPPED.labels(reason="shutdown").inc(len(left))
                log.error("inventory writer stopped with %d events unwritten", len(left))
        if self._journal is not None:
            self._journal.close()

    async def _run(self) -> None:
        if self._journal is not None and self._journal.left_behind:
            await self._recover_journal(self._journal)
        if self._spool is not None:
            self._spooled = await asyncio.to_thread(self._spool.pending)
            if self._spooled:
                log.warning("replaying the inventory spool left at %s", self._spool.path)
        while True:
            first = await self._next_event()
            if first is None:
                continue
            batch = await fill(
                self._queue, [first], size=self._batch_size, seconds=self._flush_seconds
            )
            self._in_flight = len(batch)
            self._in_flight_batch = batch
            if self._spool is None:
                await self._write_until_done(batch)
                self._release(batch)
            elif await self._deliver(batch):
                self._release(batch)
            self._in_flight = 0
            self._in_flight_batch = []
            for _ in batch:
                self._queue.task_done()

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

    async def _deliver(self, batch: list[DetectionEvent]) -> bool:
        """Write ``batch`` after the spool, or spool it; False when neither could take it."""
        if self._spooled and time.monotonic() >= self._retry_at:
            await self._replay()
        if not self._spooled and await self._write(batch):
            return True
        return await self._to_spool(batch)

    async def _to_spool(self, batch: list[DetectionEvent]) -> bool:
        assert self._spool is not None
        try:
            await asyncio.to_thread(self._spool.append, batch)
        except (SpoolFullError, OSError) as exc:
            metrics.EVENTS_DROPPED.labels(reason="spool_full").inc(len(batch))
            log.error("inventory spool cannot take %d events, dropped: %s", len(batch), exc)
            return False
        if not self._spooled:
            self._retry_at = time.monotonic() + self._backoff
        self._spooled = True
        metrics.EVENTS_SPOOLED.inc(len(batch))
        metrics.SPOOL_BYTES.set(self._spool.size)
        return True

    async def _recover_journal(self, journal: Journal) -> None:
        """Move the events a killed process journaled into the spool, which replays them."""
        try:
            moved = await asyncio.to_thread(self._journal_to_spool, journal)
        except (SpoolFullError, OSError) as exc:
            log.error("inventory journal left for the next start: spool refused it: %s", exc)
            return
        log.warning("inventory journal of a stopped process recovered: %d events", moved)

    def _journal_to_spool(self, journal: Journal) -> int:
        assert self._spool is not None
        moved = 0
        while journal.left_behind:
            path = journal.left_behind[0]
            events = [e for batch in left_behind_batches(path) for e in batch]
            for start in range(0, len(events), self._batch_size):  # one sync a batch, not a line
                self._spool.append(events[start : start + self._batch_size])
            moved += len(events)
            path.unlink()
            journal.left_behind.pop(0)
        return moved

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
