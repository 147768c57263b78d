"""Retention purges old detections, findings and justifications; rollups and governance stay."""

from __future__ import annotations

import asyncio
from datetime import timedelta

from prometheus_client import REGISTRY
from sqlalchemy import func, select

from shadowlens.proxy.inventory import retention
from shadowlens.proxy.inventory.events import FindingRecord
from shadowlens.proxy.inventory.models import (
    Detection,
    FindingRow,
    HourlyRollup,
    Justification,
    ServiceSeen,
)
from shadowlens.proxy.runtime import Core
from tests.factories import T0, detection_event

FINDING = FindingRecord("email", "pii", "medium", 1, "a***@x.com", "c" * 64, "/")
DAY = 86_400


def _count(core: Core, model: type) -> int:
    with core.sessions() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def _purged(table: str) -> float:
    value = REGISTRY.get_sample_value("shadowlens_retention_purged_total", {"table": table})
    return value or 0.0


def _record_days(core: Core) -> None:
    core.record(
        [
            detection_event(n * DAY, findings=(FINDING,), justification="need it",
                            allowed_until=T0 + timedelta(days=n, hours=1))
            for n in range(10)
        ]
    )  # fmt: skip


def test_each_table_keeps_its_own_number_of_days(core: Core) -> None:
    _record_days(core)
    now = T0 + timedelta(days=10)
    before = _purged("findings")
    days = retention.RetentionDays(detections=7, findings=3, justifications=5)
    done = retention.purge(core.sessions, days=days, now=now)
    assert done == {"findings": 7, "justifications": 5, "detections": 3}
    assert _purged("findings") - before == 7
    assert (_count(core, Detection), _count(core, FindingRow), _count(core, Justification)) == (
        7, 3, 5
    )  # fmt: skip
    with core.sessions() as session:
        oldest = session.scalar(select(func.min(Detection.ts)))
        assert oldest == T0 + timedelta(days=3)
        assert session.scalar(select(func.sum(HourlyRollup.requests))) == 10  # rollups kept
        service = session.get(ServiceSeen, "chatgpt")
        assert service is not None and service.requests == 10


def test_zero_days_keeps_everything(core: Core) -> None:
    _record_days(core)
    assert (
        retention.purge(core.sessions, days=retention.RetentionDays(), now=T0 + timedelta(999))
        == {}
    )
    assert _count(core, Detection) == 10


def test_the_background_task_purges_and_stops(core: Core) -> None:
    core.record([detection_event(0, findings=(FINDING,))])  # T0 is long past
    core.settings.retention_detections_days = 1
    core.settings.retention_interval_seconds = 0.05

    async def scenario() -> None:
        task = core.retention()
        task.start()
        for _ in range(100):
            if _count(core, Detection) == 0:
                break
            await asyncio.sleep(0.05)
        await task.stop()

    asyncio.run(scenario())
    assert (_count(core, Detection), _count(core, FindingRow)) == (0, 0)


def test_without_any_retention_the_task_does_not_start(core: Core) -> None:
    task = core.retention()
    assert (task.enabled, task.interval) == (False, core.settings.retention_interval_seconds)
