"""Inventory benchmarks: writer throughput and API latency on SQLite and PostgreSQL.

Run:
  .venv/bin/python bench/inventory_bench.py writer [--events 100000] [--db sqlite,postgresql]
  .venv/bin/python bench/inventory_bench.py api [--detections 5000000] [--requests 200]

``writer`` pushes events through a real :class:`InventoryWriter` into a real :class:`Core`
(migrated database, idempotent insert, service counters, users, rollups) as fast as the
queue takes them, and prints sustained detections per second from the first submit until the
queue is drained. A tenth of the events carry a DLP finding. Alongside, in the same run, it
prints the rate of a bare bulk INSERT of the same detection rows (no idempotency, no
aggregates, no queue: the floor the database sets) and how late a 1 ms timer fired on the
writer's event loop meanwhile. The prepared events are frozen out of the garbage collector
first, as the proxy's startup heap is (``addons/heapfreezer.py``).

``api`` fills a fresh database with N detections by bulk SQL inside the database
(``generate_series`` on PostgreSQL, a recursive CTE on SQLite), builds the services, users and
rollups from them with the same statements as migration 0005's backfill, then times
``/api/v1/summary`` (7 days), ``/api/v1/services`` and a filtered ``/api/v1/detections`` page
through the real FastAPI app in-process, and prints p50 and p95 in milliseconds. With
``--explain`` it prints the query plans of the detections page.

PostgreSQL is the server at SHADOWLENS_TEST_POSTGRES_URL (default postgres@127.0.0.1:5432);
each run creates a throwaway database and drops it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import secrets
import statistics
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path

from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from shadowlens.addons.heapfreezer import HeapFreezer
from shadowlens.proxy.inventory.bulk import BulkInsert
from shadowlens.proxy.inventory.events import DETECTION_COLUMNS, DetectionEvent, FindingRecord
from shadowlens.proxy.inventory.models import Detection
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import Settings

ADMIN_URL = os.environ.get(
    "SHADOWLENS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
START = datetime(2026, 8, 1, tzinfo=UTC)
SPAN_DAYS = 90
USERS = 5000
SERVICES = 50


@contextmanager
def database(kind: str) -> Iterator[str]:
    """A fresh, empty database URL of ``kind``, removed afterwards."""
    if kind == "sqlite":
        with tempfile.TemporaryDirectory() as folder:
            yield f"sqlite:///{folder}/bench.db"
        return
    name = f"shadowlens_bench_{secrets.token_hex(4)}"
    admin = create_engine(ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _core(url: str, data_dir: Path, queue: int = 10_000) -> Core:
    settings = Settings(
        data_dir=data_dir, database_url=url, api_tokens="bench", writer_queue_size=queue
    )
    return Core.open(settings)


# -- writer ------------------------------------------------------------------------------------


def _events(count: int, rng: random.Random) -> list[DetectionEvent]:
    finding = FindingRecord("email", "pii", "medium", 1, "a***@x.com", "e" * 64, "/m/0")
    now = datetime.now(UTC)
    return [
        DetectionEvent(
            ts=now + timedelta(milliseconds=n),
            client_ip="10.0.0.1",
            user=f"user{rng.randrange(USERS)}",
            service_id=f"svc{rng.randrange(SERVICES)}",
            service_name="Bench",
            vendor="Bench",
            category="chat_assistant",
            evidence="host",
            method="POST",
            host="bench.example",
            path="/v1/chat",
            request_bytes=rng.randrange(100, 5000),
            status=200,
            action="monitor",
            findings=(finding,) if n % 10 == 0 else (),
        )
        for n in range(count)
    ]


async def _push(core: Core, events: list[DetectionEvent]) -> tuple[float, list[float]]:
    """Seconds to write ``events`` through the writer, and the event loop's lags meanwhile."""
    writer = core.writer()
    writer.start()
    lags: list[float] = []
    ticker = asyncio.create_task(_tick(lags))
    started = time.perf_counter()
    for start in range(0, len(events), 1000):  # as a busy proxy would: a burst, then the loop
        for event in events[start : start + 1000]:  # the queue holds them all: never drops
            assert writer.submit(event)
        await asyncio.sleep(0)
    await writer.close(grace=600)
    elapsed = time.perf_counter() - started
    ticker.cancel()
    return elapsed, lags


async def _tick(lags: list[float]) -> None:
    """Record how late a 1 ms timer fires: what a proxy's hooks would wait."""
    while True:
        due = time.perf_counter() + 0.001
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - due)


def _bare_rate(kind: str, events: list[DetectionEvent], batch: int) -> float:
    """Detections/s of the detection rows alone, plain bulk INSERT per batch: the floor."""
    bare = BulkInsert(Detection, DETECTION_COLUMNS)
    with database(kind) as url, tempfile.TemporaryDirectory() as data:
        core = _core(url, Path(data))
        core.ensure_schema()
        started = time.perf_counter()
        for start in range(0, len(events), batch):
            with core.sessions.begin() as session:
                bare.run(session, [e.detection_values() for e in events[start : start + batch]])
        elapsed = time.perf_counter() - started
        core.close()
    return len(events) / elapsed


def bench_writer(kinds: list[str], count: int, rounds: int) -> None:
    rng = random.Random(1)
    batch = Settings().writer_batch_size
    for kind in kinds:
        rates, floors, lags = [], [], []
        for _ in range(rounds):
            events = _events(count, rng)
            # As the proxy does once running; else every full collection walks the prepared
            # events, an artefact of this harness that costs up to 100 ms a time.
            HeapFreezer().running()
            with database(kind) as url, tempfile.TemporaryDirectory() as data:
                core = _core(url, Path(data), queue=count)
                try:
                    elapsed, round_lags = asyncio.run(_push(core, events))
                finally:
                    core.close()
            rates.append(count / elapsed)
            lags.extend(round_lags)
            floors.append(_bare_rate(kind, _events(count, rng), batch))
        rate, floor = statistics.median(rates), statistics.median(floors)
        lags.sort()
        print(
            f"writer {kind}: {rate:,.0f} detections/s (median of {rounds}; {count:,} events, "
            f"batch {batch}; runs {', '.join(f'{r:,.0f}' for r in rates)})\n"
            f"  bare detection INSERT, same run: {floor:,.0f}/s; writer/bare {rate / floor:.2f}\n"
            f"  event-loop lag while writing: p50 {lags[len(lags) // 2] * 1000:.2f} ms, "
            f"p99 {lags[len(lags) * 99 // 100] * 1000:.2f} ms, max {lags[-1] * 1000:.1f} ms",
            flush=True,
        )


# -- api ---------------------------------------------------------------------------------------

_DETECTIONS_PG = """
INSERT INTO detections (id, ts, client_ip, "user", service_id, evidence, confidence, signals,
  method, host, path, request_bytes, response_bytes, status, action, data_classes, groups,
  tenant_restricted, enforced)
SELECT lpad(to_hex(i), 32, '0'),
  timestamptz '2026-08-01 00:00:00+00' + (i::bigint * :step) * interval '1 millisecond',
  '10.0.0.1', 'user' || (i % 5000), 'svc' || (i % 50), 'host', 0.9, 'host', 'POST',
  'bench.example', '/v1/chat', 1000 + i % 4000, 0, 200,
  CASE WHEN i % 100 = 0 THEN 'block' WHEN i % 50 = 1 THEN 'redact' ELSE 'monitor' END,
  '', 'group' || (i % 20), false, true
FROM generate_series(1, :n) AS i
"""

_DETECTIONS_SQLITE = """
WITH RECURSIVE seq(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM seq WHERE i < :n)
INSERT INTO detections (id, ts, client_ip, "user", service_id, evidence, confidence, signals,
  method, host, path, request_bytes, response_bytes, status, action, data_classes, groups,
  tenant_restricted, enforced)
SELECT printf('%032x', i),
  strftime('%Y-%m-%d %H:%M:%f000', 1785542400 + (i * :step) / 1000.0, 'unixepoch'),
  '10.0.0.1', 'user' || (i % 5000), 'svc' || (i % 50), 'host', 0.9, 'host', 'POST',
  'bench.example', '/v1/chat', 1000 + i % 4000, 0, 200,
  CASE WHEN i % 100 = 0 THEN 'block' WHEN i % 50 = 1 THEN 'redact' ELSE 'monitor' END,
  '', 'group' || (i % 20), 0, 1
FROM seq
"""


def _fill(core: Core, count: int) -> float:
    """Bulk-load ``count`` detections and their aggregates; returns seconds taken."""
    postgres = core.engine.dialect.name == "postgresql"
    step = SPAN_DAYS * 86_400_000 // count  # milliseconds between detections
    started = time.perf_counter()
    with core.engine.begin() as conn:
        if postgres:
            conn.execute(text("SET LOCAL synchronous_commit = off"))
        conn.execute(
            text(_DETECTIONS_PG if postgres else _DETECTIONS_SQLITE), {"n": count, "step": step}
        )
        conn.execute(
            text(
                "INSERT INTO services (id, name, vendor, category, first_seen, last_seen, "
                "requests, bytes_up, bytes_down, users) SELECT service_id, service_id, 'Bench', "
                "'chat_assistant', min(ts), max(ts), count(*), sum(request_bytes), 0, 0 "
                "FROM detections GROUP BY service_id"
            )
        )
    _backfill(core)
    with core.engine.begin() as conn:
        conn.execute(text("ANALYZE"))
    return time.perf_counter() - started


def _backfill(core: Core) -> None:
    """Migrations 0005 and 0006's backfills, run on the loaded detections."""
    import importlib.util

    from alembic.migration import MigrationContext
    from alembic.operations import Operations

    versions = Path(__file__).resolve().parent.parent / "proxy/inventory/migrations/versions"
    for name, function in (
        ("0005_governance_and_rollups", "_backfill"),
        ("0006_summary_rollups", "backfill"),
    ):
        spec = importlib.util.spec_from_file_location(name, versions / f"{name}.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        spec.loader.exec_module(module)
        with core.engine.begin() as conn, Operations.context(MigrationContext.configure(conn)):
            getattr(module, function)()


def _timed(client: object, path: str, params: dict[str, str], requests: int) -> list[float]:
    get = client.get  # type: ignore[attr-defined]
    for _ in range(5):
        assert get(path, params=params).status_code == 200
    times = []
    for _ in range(requests):
        started = time.perf_counter()
        response = get(path, params=params)
        times.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 200, response.text
    return times


def bench_api(kinds: list[str], count: int, requests: int, explain: bool) -> None:
    from fastapi.testclient import TestClient

    from shadowlens.api.app import create_app

    end = START + timedelta(days=SPAN_DAYS)
    cases = {
        "/api/v1/summary (7 days)": (
            "/api/v1/summary",
            {"since": (end - timedelta(days=7)).isoformat(), "until": end.isoformat()},
        ),
        "/api/v1/services": ("/api/v1/services", {}),
        "/api/v1/detections?user&since&until&limit=100": (
            "/api/v1/detections",
            {
                "user": "user42",
                "since": (end - timedelta(days=30)).isoformat(),
                "until": end.isoformat(),
                "limit": "100",
            },
        ),
        "/api/v1/detections?service&action=block&limit=100": (
            "/api/v1/detections",
            {"service": "svc0", "action": "block", "limit": "100"},
        ),
    }
    for kind in kinds:
        with database(kind) as url, tempfile.TemporaryDirectory() as data:
            core = _core(url, Path(data))
            try:
                seconds = _fill(core, count)
                print(f"api {kind}: loaded {count:,} detections in {seconds:.0f} s", flush=True)
                app = create_app(sessions=core.sessions, tokens=frozenset({"bench"}))
                with TestClient(app, headers={"Authorization": "Bearer bench"}) as client:
                    for label, (path, params) in cases.items():
                        times = sorted(_timed(client, path, params, requests))
                        p95 = times[int(len(times) * 0.95) - 1]
                        print(
                            f"api {kind}: {label}: p50 {statistics.median(times):.1f} ms, "
                            f"p95 {p95:.1f} ms ({requests} requests)",
                            flush=True,
                        )
                if explain:
                    _explain(core, end)
            finally:
                core.close()


def _explain(core: Core, end: datetime) -> None:
    from sqlalchemy.dialects import postgresql, sqlite

    from shadowlens.proxy.inventory import store

    filters = store.DetectionFilter(user="user42", since=end - timedelta(days=30), until=end)
    query = store.detections_query(filters).limit(101)
    postgres = core.engine.dialect.name == "postgresql"
    compiled = query.compile(
        dialect=postgresql.dialect() if postgres else sqlite.dialect(),
        compile_kwargs={"literal_binds": True},
    )
    prefix = "EXPLAIN ANALYZE " if postgres else "EXPLAIN QUERY PLAN "
    with core.engine.connect() as conn:
        for row in conn.execute(text(prefix + str(compiled))):
            print("   ", " ".join(str(c) for c in row))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawTextHelpFormatter
    )
    parser.add_argument("mode", choices=("writer", "api"))
    parser.add_argument("--db", default="sqlite,postgresql")
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--detections", type=int, default=5_000_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--explain", action="store_true")
    args = parser.parse_args()
    kinds = args.db.split(",")
    if args.mode == "writer":
        bench_writer(kinds, args.events, args.rounds)
    else:
        bench_api(kinds, args.detections, args.requests, args.explain)


if __name__ == "__main__":
    main()
