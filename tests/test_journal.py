"""The journal: an event is on disk before its answer, and kept until the inventory has it."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from shadowlens.proxy.inventory.journal import JOURNAL_PREFIX, Journal, left_behind_batches
from shadowlens.proxy.inventory.spool import SPOOL_NAME, Spool
from shadowlens.proxy.inventory.writer import InventoryWriter
from tests.factories import detection_event
from tests.test_writer import RecordingSink


def _writer(sink: RecordingSink, folder: Path, journal: Journal) -> InventoryWriter:
    spool = Spool(folder / SPOOL_NAME, max_bytes=1 << 30)
    return InventoryWriter(
        sink, queue_size=1000, batch_size=50, flush_seconds=0.05, spool=spool, journal=journal
    )


def _segments(folder: Path) -> list[Path]:
    return sorted(folder.glob(JOURNAL_PREFIX + "*"))


def _journaled_ids(folder: Path) -> list[str]:
    return [e.id for path in _segments(folder) for b in left_behind_batches(path) for e in b]


@pytest.mark.parametrize("sync", [False, True], ids=["write", "fsync"])
def test_an_event_is_journaled_before_submit_returns_and_gone_once_written(
    tmp_path: Path, sync: bool
) -> None:
    sink = RecordingSink()
    sink.gate.clear()  # the database does not answer yet
    events = [detection_event(n) for n in range(20)]

    async def scenario() -> None:
        writer = _writer(sink, tmp_path, Journal(tmp_path, sync=sync))
        writer.start()
        for event in events:
            if (synced := writer.submit_durable(event)) is not None:
                await synced
        assert _journaled_ids(tmp_path) == [e.id for e in events]  # on disk, not yet written
        sink.gate.set()
        await writer.close()

    asyncio.run(scenario())
    assert sink.ids == [e.id for e in events]
    assert _segments(tmp_path) == []


def test_fsync_mode_syncs_concurrent_flows_as_one_group(tmp_path: Path) -> None:
    sink = RecordingSink()
    events = [detection_event(n) for n in range(100)]

    async def scenario() -> None:
        writer = _writer(sink, tmp_path, Journal(tmp_path, sync=True))
        writer.start()
        waits = [writer.submit_durable(e) for e in events]  # a hundred flows answering at once
        await asyncio.gather(*(w for w in waits if w is not None))
        [segment] = _segments(tmp_path)
        lines = segment.read_bytes().count(b"\n")
        assert lines <= 2, f"{lines} syncs for 100 concurrent events"
        await writer.close()

    asyncio.run(scenario())
    assert sorted(sink.ids) == sorted(e.id for e in events)


def test_a_journal_left_by_a_killed_process_is_written_at_the_next_start(tmp_path: Path) -> None:
    events = [detection_event(n) for n in range(30)]
    journal = Journal(tmp_path, sync=False)
    for event in events:  # what a process journaled and answered before it was killed
        journal.append([event])
    torn = tmp_path / f"{JOURNAL_PREFIX}0"
    with torn.open("ab") as handle:
        handle.write(b'{"v":1,"events":[{"id":"torn')  # killed in the middle of a write
    sink = RecordingSink()

    async def scenario() -> None:
        writer = _writer(sink, tmp_path, Journal(tmp_path, sync=False))
        writer.start()
        for _ in range(100):
            if len(sink.ids) == len(events):
                break
            await asyncio.sleep(0.05)
        await writer.close()

    asyncio.run(scenario())
    assert sink.ids == [e.id for e in events]
    assert _segments(tmp_path) == []
    assert not (tmp_path / SPOOL_NAME).exists()


def test_sealed_segments_are_deleted_once_their_events_are_written(tmp_path: Path) -> None:
    sink = RecordingSink()
    sink.gate.clear()
    events = [detection_event(n) for n in range(40)]

    async def scenario() -> None:
        writer = _writer(sink, tmp_path, Journal(tmp_path, sync=False, segment_bytes=2000))
        writer.start()
        for event in events:
            writer.submit_durable(event)
        assert len(_segments(tmp_path)) > 5
        sink.gate.set()
        for _ in range(100):
            if len(sink.ids) == len(events):
                break
            await asyncio.sleep(0.05)
        assert len(_segments(tmp_path)) == 1  # only the active one, while the proxy runs
        await writer.close()

    asyncio.run(scenario())
    assert _segments(tmp_path) == []


def test_a_journal_write_that_fails_is_counted_and_the_event_still_written(
    tmp_path: Path,
) -> None:
    journal = Journal(tmp_path, sync=True)
    (tmp_path / f"{JOURNAL_PREFIX}0").symlink_to("/dev/full")  # its writes fail: ENOSPC
    sink = RecordingSink()
    events = [detection_event(n) for n in range(3)]
    before = REGISTRY.get_sample_value("shadowlens_journal_errors_total") or 0.0

    async def scenario() -> None:
        writer = _writer(sink, tmp_path, journal)
        writer.start()
        for event in events:
            synced = writer.submit_durable(event)
            assert synced is not None
            await asyncio.wait_for(synced, 5)  # the answer is never held for good
        await writer.close()

    asyncio.run(scenario())
    assert sink.ids == [e.id for e in events]
    # The failed segment is given up; the next events go to a new one.
    assert REGISTRY.get_sample_value("shadowlens_journal_errors_total") == before + 1


def test_the_journal_needs_the_spool_it_is_replayed_through(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="spool"):
        InventoryWriter(
            RecordingSink(),
            queue_size=1,
            batch_size=1,
            flush_seconds=1,
            journal=Journal(tmp_path, sync=False),
        )
