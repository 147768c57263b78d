"""The writer: never blocks the caller, batches, retries, drops only when full, drains."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence

from prometheus_client import REGISTRY

from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.writer import InventoryWriter
from tests.factories import detection_event


class RecordingSink:
    """A sink that keeps what it is given and can be told to fail or stall."""

    def __init__(self, failures: int = 0) -> None:
        self.batches: list[list[str]] = []
        self.failures = failures
        self.gate = threading.Event()
        self.gate.set()

    def __call__(self, events: Sequence[DetectionEvent]) -> int:
        self.gate.wait(5)
        if self.failures:
            self.failures -= 1
            raise ConnectionError("database away")
        self.batches.append([e.id for e in events])
        return len(events)

    @property
    def ids(self) -> list[str]:
        return [i for batch in self.batches for i in batch]


def _dropped(reason: str) -> float:
    value = REGISTRY.get_sample_value("shadowlens_events_dropped_total", {"reason": reason})
    return value or 0.0


def _writer(sink: RecordingSink, **kwargs: float) -> InventoryWriter:
    options = {"queue_size": 100, "batch_size": 10, "flush_seconds": 0.05} | kwargs
    return InventoryWriter(sink, **options)  # type: ignore[arg-type]


def test_events_are_written_in_batches_and_drained_on_close() -> None:
    sink = RecordingSink()
    events = [detection_event(n) for n in range(35)]

    async def scenario() -> None:
        writer = _writer(sink)
        writer.start()
        for event in events:
            assert writer.submit(event)
        await writer.close()

    asyncio.run(scenario())
    assert sink.ids == [e.id for e in events]
    assert max(len(b) for b in sink.batches) <= 10


def test_a_failed_write_is_retried_and_nothing_is_lost() -> None:
    sink = RecordingSink(failures=2)
    events = [detection_event(n) for n in range(5)]

    async def scenario() -> None:
        writer = _writer(sink)
        writer.start()
        for event in events:
            writer.submit(event)
        await writer.close()

    asyncio.run(scenario())
    assert sink.ids == [e.id for e in events]


def test_a_full_queue_drops_and_counts_without_blocking() -> None:
    sink = RecordingSink()
    sink.gate.clear()  # the database stalls: nothing leaves the queue
    before = _dropped("queue_full")

    async def scenario() -> list[bool]:
        writer = _writer(sink, queue_size=5, batch_size=1)
        writer.start()
        await asyncio.sleep(0)
        accepted = [writer.submit(detection_event(n)) for n in range(8)]
        sink.gate.set()
        await writer.close()
        return accepted

    accepted = asyncio.run(scenario())
    assert accepted.count(False) >= 2
    assert _dropped("queue_full") - before == accepted.count(False)
    assert len(sink.ids) == accepted.count(True)


def test_close_gives_up_after_the_grace_period_and_counts_the_loss() -> None:
    sink = RecordingSink(failures=1000)
    before = _dropped("shutdown")

    async def scenario() -> None:
        writer = _writer(sink)
        writer.start()
        for n in range(3):
            writer.submit(detection_event(n))
        await writer.close(grace=0.3)

    asyncio.run(scenario())
    assert sink.ids == []
    assert _dropped("shutdown") - before == 3
