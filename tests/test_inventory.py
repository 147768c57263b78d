"""The inventory store on SQLite and PostgreSQL: idempotent writes, counters, queries."""

from __future__ import annotations

import os
import subprocess
import sys
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import inspect, text

from shadowlens.proxy.inventory import store
from shadowlens.proxy.inventory.db import make_engine
from shadowlens.proxy.inventory.store import DetectionFilter
from shadowlens.proxy.runtime import Core
from tests.factories import T0, detection_event


def test_migrations_create_the_schema(core: Core) -> None:
    from alembic.script import ScriptDirectory

    from shadowlens.proxy.inventory.migrate import alembic_config, at_head, head_revision

    tables = set(inspect(core.engine).get_table_names())
    assert {"services", "detections", "alembic_version", "users", "governance"} <= tables
    assert {"rollups_hourly", "audit_log", "api_tokens"} <= tables
    head = ScriptDirectory.from_config(alembic_config(core.engine)).get_current_head()
    assert head is not None and head >= "0005"
    assert head == head_revision() and at_head(core.engine)
    with core.engine.connect() as conn:
        assert conn.execute(text("SELECT version_num FROM alembic_version")).scalar() == head


def test_sqlite_runs_in_wal_mode(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'sub' / 'wal.db'}")
    with engine.connect() as conn:
        assert conn.execute(text("PRAGMA journal_mode")).scalar() == "wal"
    engine.dispose()


def test_replayed_batch_is_written_once_and_counted_once(core: Core) -> None:
    events = [detection_event(n) for n in range(3)]
    assert core.record(events) == 3
    assert core.record(events) == 0
    with core.sessions() as session:
        [service] = store.list_services(session)
    assert (service.requests, service.bytes_up) == (3, 300)
    assert (service.first_seen, service.last_seen) == (T0, T0 + timedelta(seconds=2))


def test_service_counters_accumulate_across_batches(core: Core) -> None:
    core.record([detection_event(5, request_bytes=10)])
    core.record([detection_event(1, request_bytes=20), detection_event(9, request_bytes=30)])
    core.record([detection_event(2, service_id="claude", service_name="Claude", vendor="A")])
    with core.sessions() as session:
        services = {s.id: s for s in store.list_services(session)}
    chatgpt = services["chatgpt"]
    assert (chatgpt.requests, chatgpt.bytes_up) == (3, 60)
    assert chatgpt.first_seen == T0 + timedelta(seconds=1)
    assert chatgpt.last_seen == T0 + timedelta(seconds=9)
    assert [s.id for s in store.list_services(session)] == ["chatgpt", "claude"]


def test_filters_and_cursor_pagination_visit_every_row_once(core: Core) -> None:
    events = [detection_event(n, user="bob" if n % 3 == 0 else "alice") for n in range(25)]
    events += [detection_event(n, id=f"{n:032x}") for n in range(3)]  # same ts, other ids
    core.record(events)
    filters = DetectionFilter(user="alice", since=T0 + timedelta(seconds=2))
    seen: list[str] = []
    cursor = None
    with core.sessions() as session:
        while True:
            page, cursor = store.list_detections(session, filters=filters, limit=4, cursor=cursor)
            seen += [d.id for d in page]
            assert all(d.user == "alice" and d.ts >= filters.since for d in page)  # type: ignore[operator]
            if cursor is None:
                break
    expected = [e for e in events if e.user == "alice" and e.ts >= T0 + timedelta(seconds=2)]
    assert sorted(seen) == sorted(e.id for e in expected)
    assert len(seen) == len(set(seen))


def test_until_is_exclusive_and_service_filter_applies(core: Core) -> None:
    core.record([detection_event(n) for n in range(5)])
    core.record([detection_event(1, service_id="claude", service_name="Claude")])
    with core.sessions() as session:
        page, _ = store.list_detections(
            session,
            filters=DetectionFilter(service="chatgpt", until=T0 + timedelta(seconds=2)),
            limit=100,
        )
    assert [d.ts for d in page] == [T0 + timedelta(seconds=1), T0]


def test_malformed_cursor_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="malformed cursor"):
        store.decode_cursor("not-a-cursor!")


def test_migrations_match_the_models(core: Core) -> None:
    from alembic.autogenerate import compare_metadata
    from alembic.runtime.migration import MigrationContext

    from shadowlens.proxy.inventory.models import Base

    with core.engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
    assert diff == []


def test_nodes_starting_together_on_an_empty_postgresql_take_turns(
    postgres_url: str, tmp_path: Path
) -> None:
    """The nodes of an HA stack migrate at once at first start: they wait, none crashes."""
    env = os.environ | {"SHADOWLENS_DATABASE_URL": postgres_url}
    nodes = [
        subprocess.Popen(
            [sys.executable, "-m", "shadowlens", "db", "upgrade"],
            env=env | {"SHADOWLENS_DATA_DIR": str(tmp_path / str(n))},
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        for n in range(3)
    ]
    outputs = [node.communicate(timeout=120)[0] for node in nodes]
    assert [node.returncode for node in nodes] == [0, 0, 0], outputs
