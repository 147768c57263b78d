"""The wall clock jumps back: event ids stay unique and in creation order, writes go on."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import time
from pathlib import Path

import pytest
from sqlalchemy import select

from shadowlens.proxy.inventory.events import new_event_id
from shadowlens.proxy.inventory.models import Detection
from shadowlens.proxy.runtime import Core
from tests.e2e.conftest import start_shadowlens, stop_shadowlens
from tests.factories import detection_event
from tests.faults.harness import Load, fault_upstream, routed, wait_recorded

HOUR_NS = 3600 * 10**9
LIBFAKETIME = Path("/usr/lib/x86_64-linux-gnu/faketime/libfaketime.so.1")


class _SteppedClock:
    """``time.time_ns`` that runs normally, then an hour behind once ``step()`` is called."""

    def __init__(self) -> None:
        self.real = time.time_ns
        self.offset = 0

    def step(self) -> None:
        self.offset -= HOUR_NS

    def __call__(self) -> int:
        return self.real() + self.offset


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> _SteppedClock:
    stepped = _SteppedClock()
    monkeypatch.setattr(time, "time_ns", stepped)
    return stepped


def test_ids_made_after_the_clock_jumps_back_still_sort_after_earlier_ones(
    clock: _SteppedClock,
) -> None:
    before = [new_event_id() for _ in range(500)]
    clock.step()
    after = [new_event_id() for _ in range(500)]
    ids = before + after
    assert len(set(ids)) == len(ids)
    millis = [i[:12] for i in ids]  # ids sort by these first: they must never go back
    assert millis == sorted(millis)


def test_events_across_a_jump_back_are_all_written(clock: _SteppedClock, core: Core) -> None:
    early = [detection_event(n) for n in range(50)]
    clock.step()
    late = [detection_event(n) for n in range(50, 100)]

    async def scenario() -> None:
        writer = core.writer()
        writer.start()
        for event in early + late:
            writer.submit_durable(event)
        await writer.close()

    asyncio.run(scenario())
    with core.sessions() as session:
        stored = set(session.scalars(select(Detection.id)))
    assert stored == {e.id for e in early + late}


@pytest.mark.e2e
def test_the_proxy_goes_on_when_its_clock_jumps_back(tmp_path: Path) -> None:
    if not LIBFAKETIME.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{LIBFAKETIME} must be installed under CI (apt-get install faketime)")
        pytest.skip(f"{LIBFAKETIME} missing (apt-get install faketime)")
    offset = tmp_path / "faketime"
    offset.write_text("+0\n")
    env = {
        "LD_PRELOAD": str(LIBFAKETIME),
        "FAKETIME_TIMESTAMP_FILE": str(offset),
        "FAKETIME_CACHE_DURATION": "1",  # the file is read again every second
        "FAKETIME_DONT_FAKE_MONOTONIC": "1",  # the wall clock jumps; elapsed time does not
    }
    database = tmp_path / "data" / "shadowlens.db"
    with fault_upstream() as port:
        running = start_shadowlens(tmp_path / "data", routed(port), env)
        try:
            with Load(running.proxy_url, clients=4) as load:
                load.wait_for(50)
                offset.write_text("-1h\n")
                time.sleep(2.5)
                jumped = len(load.answered)
                load.wait_for(jumped + 50)
        finally:
            assert stop_shadowlens(running) == 0, "".join(running.output)
    answered = set(load.answered)
    assert wait_recorded(database, answered) == answered
    with contextlib.closing(sqlite3.connect(database)) as db:
        rows = db.execute("SELECT id, ts, path FROM detections").fetchall()
    by_request = {path.rpartition("/")[2]: (id_, ts) for id_, ts, path in rows}
    early = [by_request[r] for r in load.answered[:50]]
    late = [by_request[r] for r in load.answered[jumped:]]
    assert min(ts for _, ts in late) < min(ts for _, ts in early)  # the clock did jump back
    assert min(id_[:12] for id_, _ in late) >= max(id_[:12] for id_, _ in early)
    assert "Traceback" not in "".join(running.output)
