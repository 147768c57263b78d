"""The writer's driver-level bulk inserts agree with what SQLAlchemy stores and reads."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import create_engine, insert, select, text

from shadowlens.proxy import metrics
from shadowlens.proxy.inventory import store
from shadowlens.proxy.inventory.bulk import sqlite_time
from shadowlens.proxy.inventory.events import FindingRecord
from shadowlens.proxy.inventory.models import Detection, FindingRow, UserSeen
from shadowlens.proxy.inventory.store import DetectionFilter
from shadowlens.proxy.runtime import Core
from tests.factories import T0, detection_event


def test_a_partly_replayed_batch_larger_than_a_chunk_counts_only_new_rows(core: Core) -> None:
    events = [detection_event(n, user=f"u{n % 7}") for n in range(1300)]
    assert core.record(events[::2]) == 650
    assert core.record(events) == 650
    with core.sessions() as session:
        [service] = store.list_services(session)
        stored = session.scalar(select(text("count(*)")).select_from(Detection))
    assert (stored, service.requests, service.users) == (1300, 1300, 7)


def test_every_column_reads_back_as_written(core: Core) -> None:
    finding = FindingRecord("aws-key", "secret", "high", 2, "AKIA****MPLE", "f" * 64, "/m/0")
    event = detection_event(
        3, status=None, model="gpt-4o", confidence=0.75, tenant_restricted=True,
        enforced=False, groups="eng,sec", findings=(finding,), error=None,
    )  # fmt: skip
    core.record([event])
    with core.sessions() as session:
        row = session.get(Detection, event.id)
        [found] = session.scalars(select(FindingRow)).all()
    assert row is not None
    assert (row.ts, row.status, row.model, row.confidence) == (event.ts, None, "gpt-4o", 0.75)
    assert (row.tenant_restricted, row.enforced, row.groups) == (True, False, "eng,sec")
    assert (row.data_classes, found.detector, found.count, found.ts) == (
        "secret",
        "aws-key",
        2,
        event.ts,
    )


def test_times_in_other_zones_are_stored_in_utc_and_filter_exactly(core: Core) -> None:
    plus_two = timezone(timedelta(hours=2))
    event = detection_event(ts=datetime(2026, 11, 2, 11, 0, 0, 250, tzinfo=plus_two))
    core.record([event])
    utc = datetime(2026, 11, 2, 9, 0, 0, 250, tzinfo=UTC)
    with core.sessions() as session:
        at, _ = store.list_detections(session, filters=DetectionFilter(since=utc), limit=5)
        after, _ = store.list_detections(
            session, filters=DetectionFilter(since=utc + timedelta(microseconds=1)), limit=5
        )
    assert [d.ts for d in at] == [utc] and after == []


def test_sqlite_time_is_what_sqlalchemy_stores() -> None:
    engine = create_engine("sqlite://")
    FindingRow.metadata.create_all(engine)
    for ts in (T0, T0 + timedelta(microseconds=7), datetime(2026, 1, 1, 0, 0, tzinfo=UTC)):
        row = {
            "detection_id": "d", "seq": 0, "ts": ts, "detector": "x", "category": "pii",
            "severity": "low", "count": 1, "preview": "", "fingerprint": "", "location": "",
        }  # fmt: skip
        with engine.begin() as conn:
            conn.execute(text("DELETE FROM findings"))
            conn.execute(insert(FindingRow), row)
            assert conn.execute(text("SELECT ts FROM findings")).scalar() == sqlite_time(ts)


def test_sqlite_time_refuses_a_naive_datetime() -> None:
    with pytest.raises(ValueError, match="naive"):
        sqlite_time(datetime(2026, 1, 1))


def test_client_text_is_stored_without_nul_lone_surrogate_or_overflow(core: Core) -> None:
    event = detection_event(user="al\x00ice", path="/chat/\ud800x", model="m" * 300)
    assert core.record([event]) == 1
    with core.sessions() as session:
        row = session.get(Detection, event.id)
        [user] = session.scalars(select(UserSeen)).all()
    assert row is not None
    assert (row.user, row.path, row.model) == ("alice", "/chat/?x", "m" * 200)
    assert user.id == "alice"


def test_an_event_the_database_refuses_is_dropped_alone(core: Core) -> None:
    events = [detection_event(n) for n in range(10)]
    events[3].request_bytes = 2**70  # beyond any integer column
    dropped = metrics.EVENTS_DROPPED.labels(reason="refused")
    before = dropped._value.get()
    assert core.record(events) == 9
    assert dropped._value.get() == before + 1
    with core.sessions() as session:
        stored = set(session.scalars(select(Detection.id)))
    assert stored == {e.id for e in events} - {events[3].id}
