"""Users, per-service sets and hourly rollups, upserted by the writer on both databases."""

from __future__ import annotations

import threading
from datetime import datetime, timedelta

from sqlalchemy import select, text

from shadowlens.proxy.inventory import store
from shadowlens.proxy.inventory.events import FindingRecord
from shadowlens.proxy.inventory.migrate import upgrade
from shadowlens.proxy.inventory.models import (
    FindingRollup,
    HourlyRollup,
    ServiceDataClass,
    ServiceRollup,
    ServiceSeen,
    UserRollup,
    UserSeen,
)
from shadowlens.proxy.runtime import Core
from tests.factories import T0, detection_event


def _finding(detector: str = "email", category: str = "pii", severity: str = "medium"):
    return FindingRecord(detector, category, severity, 1, "a***@x.com", "f" * 64, "/m/0")


def test_a_batch_updates_users_rollups_and_service_sets(core: Core) -> None:
    events = [
        detection_event(0, user="alice", groups="eng", response_bytes=1000),
        detection_event(1, user="alice", findings=(_finding(), _finding("iban", "pii", "high"))),
        detection_event(2, user="bob", action="block"),
        detection_event(3600, user="bob", findings=(_finding("aws-key", "secret", "critical"),)),
        detection_event(5, user=None),
    ]
    core.record(events)
    core.record(events)  # a replay changes nothing
    with core.sessions() as session:
        chatgpt = session.get(ServiceSeen, "chatgpt")
        assert chatgpt is not None
        assert (chatgpt.users, chatgpt.requests, chatgpt.bytes_down) == (2, 5, 1000)
        alice = session.get(UserSeen, "alice")
        assert alice is not None
        assert (alice.requests, alice.bytes_up, alice.groups) == (2, 200, "eng")
        assert (alice.first_seen, alice.last_seen) == (T0, T0 + timedelta(seconds=1))
        rollups = {
            (r.hour, r.user, r.action): (r.requests, r.bytes_down, r.findings)
            for r in session.scalars(select(HourlyRollup))
        }
        assert rollups == {
            (T0, "alice", "monitor"): (2, 1000, 2),
            (T0, "bob", "block"): (1, 0, 0),
            (T0, "", "monitor"): (1, 0, 0),
            (T0 + timedelta(hours=1), "bob", "monitor"): (1, 0, 1),
        }
        findings = {
            (r.detector, r.severity): r.findings for r in session.scalars(select(FindingRollup))
        }
        assert findings == {("email", "medium"): 1, ("iban", "high"): 1, ("aws-key", "critical"): 1}
        classes = set(session.scalars(select(ServiceDataClass.category)))
        assert classes == {"pii", "secret"}
        by_service = {
            (r.hour, r.action): (r.requests, r.findings)
            for r in session.scalars(select(ServiceRollup))
        }
        assert by_service == {
            (T0, "monitor"): (3, 2),
            (T0, "block"): (1, 0),
            (T0 + timedelta(hours=1), "monitor"): (1, 1),
        }
        daily = {(r.day, r.user): r.requests for r in session.scalars(select(UserRollup))}
        assert daily == {(T0.replace(hour=0), "alice"): 2, (T0.replace(hour=0), "bob"): 2}


def test_two_concurrent_writers_lose_no_update(core: Core) -> None:
    users = [f"user{n}" for n in range(5)]
    batches = [
        [
            detection_event(n, user=users[(w + b + n) % 5], service_id=("chatgpt", "claude")[n % 2])
            for n in range(50)
        ]
        for w in range(2)
        for b in range(10)
    ]
    errors: list[BaseException] = []

    def work(mine: list[list]) -> None:
        try:
            for batch in mine:
                core.record(batch)
        except BaseException as exc:  # surfaced below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(batches[w::2],)) for w in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    everything = [e for batch in batches for e in batch]
    with core.sessions() as session:
        services = {s.id: s for s in store.list_services(session)}
        assert services["chatgpt"].requests + services["claude"].requests == len(everything)
        assert services["chatgpt"].users == 5 and services["claude"].users == 5
        requests = {u.id: u.requests for u in session.scalars(select(UserSeen))}
        assert requests == {u: sum(e.user == u for e in everything) for u in users}
        total = sum(session.scalars(select(HourlyRollup.requests)))
        assert total == len(everything)


def _stored(core: Core, ts: datetime) -> object:
    """``ts`` as SQLAlchemy stores it (SQLite: naive UTC text)."""
    if core.engine.dialect.name == "sqlite":
        return ts.replace(tzinfo=None).isoformat(sep=" ", timespec="microseconds")
    return ts


def test_upgrading_an_inventory_backfills_the_aggregates(core: Core) -> None:
    from shadowlens.proxy.inventory.models import Base

    new_tables = ("api_tokens", "audit_log", "finding_rollups_hourly", "rollups_hourly",
                  "users", "governance", "service_data_classes", "service_users")  # fmt: skip
    with core.engine.begin() as conn:  # back to before 0005, data written the old way
        for name in new_tables:
            conn.execute(Base.metadata.tables[name].delete())
    from alembic import command

    from shadowlens.proxy.inventory.migrate import alembic_config

    config = alembic_config(core.engine)
    with core.engine.begin() as conn:
        config.attributes["connection"] = conn
        command.downgrade(config, "0004")
    with core.engine.begin() as conn:
        for n, user in enumerate(["alice", "alice", "bob"]):
            conn.execute(
                text(
                    'INSERT INTO detections (id, ts, client_ip, "user", service_id, evidence, '
                    "method, host, path, request_bytes, confidence, signals, action, "
                    "data_classes, groups, tenant_restricted, enforced) VALUES (:id, :ts, "
                    "'10.0.0.1', :user, 'chatgpt', 'host', 'POST', 'chatgpt.com', '/', 10, 0, "
                    "'', 'monitor', '', '', false, true)"
                ),
                {"id": f"{n:032x}", "ts": _stored(core, T0 + timedelta(minutes=n)), "user": user},
            )
        conn.execute(
            text(
                "INSERT INTO services (id, name, vendor, category, first_seen, last_seen, "
                "requests, bytes_up) VALUES ('chatgpt', 'ChatGPT', 'OpenAI', 'chat_assistant', "
                ":ts, :ts, 3, 30)"
            ),
            {"ts": _stored(core, T0)},
        )
    upgrade(core.engine)
    with core.sessions() as session:
        service = session.get(ServiceSeen, "chatgpt")
        assert service is not None and service.users == 2
        assert session.get(UserSeen, "alice").requests == 2  # type: ignore[union-attr]
        rollups = {
            (r.hour, r.user): (r.requests, r.bytes_up)
            for r in session.scalars(select(HourlyRollup))
        }
        assert rollups == {(T0, "alice"): (2, 20), (T0, "bob"): (1, 10)}
        [by_service] = session.scalars(select(ServiceRollup)).all()
        assert (by_service.hour, by_service.requests, by_service.bytes_up) == (T0, 3, 30)
        daily = {r.user: r.requests for r in session.scalars(select(UserRollup))}
        assert daily == {"alice": 2, "bob": 1}
