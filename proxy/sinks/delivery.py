"""Delivery: each sink gets its own bounded queue, batches, on-disk spool and retries.

The proxy's hooks reach a sink only through :meth:`SinkWorker.submit`, a ``put_nowait``. A
background task per sink hands batches to its transport in a worker thread. A batch the
transport refuses is appended to the sink's own spool file (fsynced, mode 0600, capped) and
every later batch queues behind it there, so events arrive in order. The spool is tried
again with exponential backoff and jitter, and drained oldest first once the sink answers.
A slow or dead sink therefore never slows the proxy, the inventory or the other sinks.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from shadowlens.proxy import metrics
from shadowlens.proxy.batching import fill, take
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.spool import Spool, SpoolFullError
from shadowlens.proxy.sinkconfig import SinkConfig
from shadowlens.proxy.sinks.transports import Transport, open_transport

log = logging.getLogger(__name__)

FIRST_BACKOFF = 0.5
MAX_BACKOFF = 60.0
SPOOL_DIR = "sinks"


def spool_path(data_dir: Path, config: SinkConfig) -> Path:
    """Where a sink keeps the batches it could not deliver yet."""
    return data_dir / SPOOL_DIR / f"{config.name}.spool"


class Consumer(Protocol):
    """Anything the hub feeds: a sink, or the alert rules."""

    def submit(self, event: DetectionEvent) -> bool: ...

    def start(self) -> None: ...

    async def close(self, grace: float = 10.0) -> None: ...


class SinkWorker:
    """Delivers one sink's events, in order, without ever blocking the caller."""

    def __init__(self, transport: Transport, spool: Spool) -> None:
        config = transport.config
        self.transport = transport
        self.spool = spool
        self.labels = {"sink": config.name, "kind": config.kind}
        self._queue: asyncio.Queue[DetectionEvent] = asyncio.Queue(maxsize=config.queue_size)
        self._batch_size = config.batch_size
        self._flush_seconds = config.flush_seconds
        self._task: asyncio.Task[None] | None = None
        self._spooled = False
        self._backoff = FIRST_BACKOFF
        self._retry_at = 0.0

    def submit(self, event: DetectionEvent) -> bool:
        """Queue an event; count and drop it when the queue is full."""
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:
            metrics.SINK_DROPPED.labels(**self.labels).inc()
            return False
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name=f"shadowlens-sink-{self.name}")

    async def close(self, grace: float = 10.0) -> None:
        """Deliver what is queued within ``grace`` seconds; spool the rest for the next start."""
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), grace)
        except TimeoutError:
            log.warning("sink %s: stopping with events undelivered; spooling them", self.name)
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None
        left = take(self._queue, self._queue.qsize())
        if left:
            await asyncio.to_thread(self._append, left)
        await asyncio.to_thread(self.transport.close)

    @property
    def name(self) -> str:
        return self.labels["sink"]

    async def _run(self) -> None:
        self._spooled = await asyncio.to_thread(self.spool.pending)
        while True:
            batch = await self._collect()
            if not self._spooled and batch and await self._deliver(batch):
                self._done(batch)
                continue
            if batch:
                await asyncio.to_thread(self._append, batch)
                self._spooled = self._spooled or self._schedule_retry()
            if self._spooled and time.monotonic() >= self._retry_at:
                await self._replay()
            self._done(batch)

    async def _collect(self) -> list[DetectionEvent]:
        """The next batch; empty when a retry of the spool falls due first."""
        timeout = max(0.0, self._retry_at - time.monotonic()) if self._spooled else None
        try:
            batch = [await asyncio.wait_for(self._queue.get(), timeout)]
        except TimeoutError:
            return []
        return await fill(self._queue, batch, size=self._batch_size, seconds=self._flush_seconds)

    async def _deliver(self, batch: list[DetectionEvent]) -> bool:
        try:
            await asyncio.to_thread(self.transport.send, batch)
        except Exception as exc:
            metrics.SINK_RETRIES.labels(**self.labels).inc()
            log.warning("sink %s refused %d events (%s); spooling", self.name, len(batch), exc)
            return False
        self._delivered(batch)
        return True

    def _delivered(self, batch: Sequence[DetectionEvent]) -> None:
        metrics.SINK_EVENTS.labels(**self.labels).inc(len(batch))
        lag = (datetime.now(UTC) - batch[0].ts).total_seconds()
        metrics.SINK_LAG.labels(**self.labels).set(max(0.0, lag))

    def _append(self, batch: list[DetectionEvent]) -> None:
        """Keep ``batch`` in the spool; drop and count it past the cap. Runs in a thread."""
        try:
            self.spool.append(batch)
        except (SpoolFullError, OSError) as exc:
            metrics.SINK_DROPPED.labels(**self.labels).inc(len(batch))
            log.error(
                "sink %s: spool cannot take %d events, dropped: %s", self.name, len(batch), exc
            )
        metrics.SINK_SPOOL_BYTES.labels(**self.labels).set(self.spool.size)

    def _schedule_retry(self) -> bool:
        """Set the next try after a backoff that doubles, with jitter so retries spread out."""
        self._retry_at = time.monotonic() + self._backoff * random.uniform(0.5, 1.0)  # noqa: S311
        self._backoff = min(self._backoff * 2, MAX_BACKOFF)
        return self.spool.pending()

    async def _replay(self) -> None:
        """Deliver the spool oldest first; on a failure keep the rest and back off."""
        try:
            await asyncio.to_thread(self._replay_blocking)
        except Exception as exc:
            metrics.SINK_RETRIES.labels(**self.labels).inc()
            log.warning("sink %s still refuses delivery (%s); spool kept", self.name, exc)
            self._schedule_retry()
            self._show_lag()
            return
        self._spooled = self.spool.pending()
        self._backoff = FIRST_BACKOFF
        log.info("sink %s: spool delivered", self.name)

    def _replay_blocking(self) -> None:
        try:
            for offset, events in self.spool.batches():
                self.transport.send(events)
                self.spool.mark_replayed(offset)
                self._delivered(events)
            self.spool.mark_replayed(self.spool.read_to)
        finally:
            metrics.SINK_SPOOL_BYTES.labels(**self.labels).set(self.spool.size)

    def _show_lag(self) -> None:
        """While the sink is down: the age of the oldest event waiting for it."""
        oldest = next((events[0].ts for _, events in self.spool.batches()), None)
        if oldest is not None:
            lag = (datetime.now(UTC) - oldest).total_seconds()
            metrics.SINK_LAG.labels(**self.labels).set(max(0.0, lag))

    def _done(self, batch: list[DetectionEvent]) -> None:
        for _ in batch:
            self._queue.task_done()


class SinkHub:
    """Hands every event to each consumer's own queue; one slow consumer holds no other up."""

    def __init__(self, consumers: Sequence[Consumer]) -> None:
        self.consumers = list(consumers)

    def submit(self, event: DetectionEvent) -> None:
        for consumer in self.consumers:
            consumer.submit(event)

    def start(self) -> None:
        for consumer in self.consumers:
            consumer.start()

    async def close(self) -> None:
        await asyncio.gather(*(c.close() for c in self.consumers))


def sink_workers(configs: Sequence[SinkConfig], data_dir: Path) -> list[SinkWorker]:
    """A worker for each configured sink, each with its own spool file."""
    return [
        SinkWorker(open_transport(c), Spool(spool_path(data_dir, c), max_bytes=c.spool_max_bytes))
        for c in configs
    ]


def emit(configs: Sequence[SinkConfig], data_dir: Path, events: Iterable[DetectionEvent]) -> None:
    """Deliver events outside the proxy (a log scan), blocking, batch by batch.

    A batch a sink refuses, and everything after it for that sink, goes to the sink's spool,
    which the proxy delivers in order when it next runs with that sink.
    """
    transports = [open_transport(c) for c in configs]
    spools = [Spool(spool_path(data_dir, c), max_bytes=c.spool_max_bytes) for c in configs]
    failed = [spool.pending() for spool in spools]  # an older backlog must go first
    batch_size = min((c.batch_size for c in configs), default=1)
    try:
        for batch in _batches(events, batch_size):
            for n, transport in enumerate(transports):
                failed[n] = _emit_one(transport, spools[n], batch, failed=failed[n])
    finally:
        for transport in transports:
            transport.close()


def _emit_one(
    transport: Transport, spool: Spool, batch: list[DetectionEvent], *, failed: bool
) -> bool:
    """Send or spool one batch for one sink; True once the sink has refused one."""
    labels = {"sink": transport.config.name, "kind": transport.config.kind}
    if not failed:
        try:
            transport.send(batch)
        except Exception as exc:
            metrics.SINK_RETRIES.labels(**labels).inc()
            log.warning("sink %s refused a batch (%s); spooling", labels["sink"], exc)
        else:
            metrics.SINK_EVENTS.labels(**labels).inc(len(batch))
            return False
    try:
        spool.append(batch)
    except (SpoolFullError, OSError):
        metrics.SINK_DROPPED.labels(**labels).inc(len(batch))
    return True


def _batches(events: Iterable[DetectionEvent], size: int) -> Iterable[list[DetectionEvent]]:
    batch: list[DetectionEvent] = []
    for event in events:
        batch.append(event)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch
