"""No loss: batches the database refuses go to the spool file and are replayed in order."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from prometheus_client import REGISTRY

from shadowlens.proxy.inventory.events import FindingRecord
from shadowlens.proxy.inventory.spool import Spool, event_from_json, event_to_json
from shadowlens.proxy.inventory.writer import InventoryWriter
from tests.factories import T0, detection_event
from tests.test_writer import RecordingSink


def _dropped(reason: str) -> float:
    value = REGISTRY.get_sample_value("shadowlens_events_dropped_total", {"reason": reason})
    return value or 0.0


def _writer(sink: RecordingSink, spool: Spool, **kwargs: float) -> InventoryWriter:
    options = {"queue_size": 100, "batch_size": 10, "flush_seconds": 0.05} | kwargs
    return InventoryWriter(sink, spool=spool, **options)  # type: ignore[arg-type]


def test_an_event_survives_the_round_trip_through_json() -> None:
    finding = FindingRecord("email", "pii", "medium", 2, "a***@x.com", "ab" * 32, "/m/0")
    event = detection_event(
        3,
        findings=(finding,),
        groups="eng,sec",
        tenant_restricted=True,
        justification="quarterly report",
        allowed_until=T0,
    )
    assert event_from_json(json.loads(json.dumps(event_to_json(event)))) == event


def test_failed_batches_are_spooled_then_replayed_in_order(tmp_path: Path) -> None:
    sink = RecordingSink(failures=3)
    spool = Spool(tmp_path / "s.spool", max_bytes=10_000_000)
    events = [detection_event(n) for n in range(40)]

    async def scenario() -> None:
        writer = _writer(sink, spool)
        writer.start()
        for event in events:
            writer.submit(event)
            await asyncio.sleep(0.002)
        for _ in range(200):
            if len(sink.ids) == len(events):
                break
            await asyncio.sleep(0.05)
        await writer.close()

    asyncio.run(scenario())
    assert sink.ids == [e.id for e in events]  # each once, in the order submitted
    assert not spool.path.exists()


def test_a_spool_left_by_a_crash_is_replayed_at_start(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.spool", max_bytes=10_000_000)
    old = [detection_event(n) for n in range(5)]
    spool.append(old[:3])
    spool.append(old[3:])
    with spool.path.open("ab") as handle:
        handle.write(b'{"v":1,"events":[{"torn')  # the process died mid-append
    sink = RecordingSink()
    new = detection_event(9)

    async def scenario() -> None:
        writer = _writer(sink, spool)
        writer.start()
        writer.submit(new)
        await asyncio.sleep(0.3)
        await writer.close()

    asyncio.run(scenario())
    assert sink.ids == [e.id for e in old] + [new.id]
    assert not spool.path.exists()


def test_a_batch_appended_after_a_torn_line_is_kept(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.spool", max_bytes=10_000_000)
    spool.append([detection_event(0)])
    with spool.path.open("ab") as handle:
        handle.write(b'{"v":1,"events":[{"to')  # killed mid-append
    spool.append([detection_event(1)])
    assert [[e.ts.second for e in b] for _, b in spool.batches()] == [[0], [1]]
    spool.mark_replayed(spool.read_to)
    assert not spool.path.exists()


def test_replay_resumes_after_the_last_batch_written(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "s.spool", max_bytes=10_000_000)
    spool.append([detection_event(0)])
    spool.append([detection_event(1)])
    offset, _ = next(spool.batches())
    spool.mark_replayed(offset)
    assert [[e.ts.second for e in b] for _, b in spool.batches()] == [[1]]
    assert spool.pending()


def test_past_the_cap_events_are_dropped_and_counted(tmp_path: Path) -> None:
    sink = RecordingSink(failures=1000)
    one_batch = len(json.dumps(event_to_json(detection_event(0)))) + 30
    spool = Spool(tmp_path / "s.spool", max_bytes=one_batch * 2)
    before = _dropped("spool_full")

    async def scenario() -> None:
        writer = _writer(sink, spool, batch_size=1)
        writer.start()
        for n in range(5):
            writer.submit(detection_event(n))
            await asyncio.sleep(0.02)
        await writer.close(grace=2)

    asyncio.run(scenario())
    kept = sum(len(b) for _, b in spool.batches())
    assert kept == 2
    assert _dropped("spool_full") - before == 3
    assert spool.path.stat().st_mode & 0o777 == 0o600


def test_close_spools_what_the_database_did_not_take(tmp_path: Path) -> None:
    sink = RecordingSink()
    sink.gate.clear()  # the database hangs
    spool = Spool(tmp_path / "s.spool", max_bytes=10_000_000)
    events = [detection_event(n) for n in range(3)]
    before = _dropped("shutdown")

    async def scenario() -> None:
        writer = _writer(sink, spool)
        writer.start()
        for event in events:
            writer.submit(event)
        await writer.close(grace=0.3)

    asyncio.run(scenario())
    sink.gate.set()
    assert [e.id for _, b in spool.batches() for e in b] == [e.id for e in events]
    assert _dropped("shutdown") == before
