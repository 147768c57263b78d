"""The wall clock jumps back: event ids stay unique and in creation order, writes go on."""

from __future__ import annotations

import asyncio
import time

import pytest
from sqlalchemy import select

from proxy.inventory.events import new_event_id
from proxy.inventory.models import Detection
from proxy.runtime import Core
from tests.factories import detection_event

HOUR_NS = 3600 * 10**9


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
