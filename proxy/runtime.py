"""The core objects a running process shares: settings, catalog, database and writer."""

from __future__ import annotations

import dataclasses
import functools
import logging
import secrets
import sqlite3
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import psycopg
import sqlalchemy.exc
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session, sessionmaker

from shadowlens.proxy import metrics
from shadowlens.proxy.alerts.engine import Alert, AlertMatcher, register_alerts
from shadowlens.proxy.alerts.store import raise_alerts
from shadowlens.proxy.alerts.worker import AlertWorker
from shadowlens.proxy.catalog import HostIndex, load_catalog
from shadowlens.proxy.catalog.model import Service
from shadowlens.proxy.dlp.pseudonym import Pseudonyms
from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.filemodes import private_dir
from shadowlens.proxy.governance import register as governance
from shadowlens.proxy.governance.register import list_services
from shadowlens.proxy.inventory import store
from shadowlens.proxy.inventory.db import make_engine, session_factory
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.journal import Journal
from shadowlens.proxy.inventory.migrate import upgrade
from shadowlens.proxy.inventory.models import AlertRow
from shadowlens.proxy.inventory.retention import RetentionDays, purge
from shadowlens.proxy.inventory.spool import SPOOL_NAME, Spool
from shadowlens.proxy.inventory.writer import InventoryWriter
from shadowlens.proxy.keys import configured_or_kept
from shadowlens.proxy.periodic import PeriodicTask
from shadowlens.proxy.policy import IdentityResolver, Policy, load_identities, load_policy
from shadowlens.proxy.policy.coaching import CoachGrants
from shadowlens.proxy.policy.decide import service_status
from shadowlens.proxy.policy.model import Conditions, Rule, TenantRestriction
from shadowlens.proxy.settings import Settings
from shadowlens.proxy.sinks.delivery import SinkHub, sink_workers

log = logging.getLogger(__name__)

COACH_KEY_FILE = "coach-token.key"

# What the database says of the data itself, every time it sees it; unlike its being away.
REFUSED_DATA: tuple[type[Exception], ...] = (
    psycopg.DataError,
    psycopg.IntegrityError,
    sqlite3.DataError,
    sqlite3.IntegrityError,
    sqlalchemy.exc.DataError,
    sqlalchemy.exc.IntegrityError,
    OverflowError,  # sqlite3: an integer beyond 64 bits
    UnicodeError,
)


class CatalogRef:
    """The catalog in force. A reload swaps it whole, so no reader sees half of one."""

    def __init__(self, catalog: HostIndex) -> None:
        self.current = catalog


class PolicyRef:
    """The policy, identity resolver and tenant restrictions in force; swapped whole."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.current, self.resolver, self.tenant_hosts = self.load()
        # Service statuses decided in the inventory's register; they outrank the policy file.
        self.register: dict[str, str] = {}

    def load(self) -> tuple[Policy, IdentityResolver, dict[str, list[TenantRestriction]]]:
        """Read the policy and identity files; RulesError when either is bad."""
        settings = self.settings
        policy = load_policy(settings.policy_file)
        if settings.dlp_redact_all:
            policy = dataclasses.replace(policy, rules=(REDACT_ALL, *policy.rules))
        addresses, groups = load_identities(settings.identity_file)
        resolver = IdentityResolver(
            addresses=addresses,
            groups=groups,
            trusted_proxies=settings.trusted_networks,
            user_header=settings.trusted_user_header,
        )
        tenant_hosts: dict[str, list[TenantRestriction]] = {}
        for restriction in policy.tenant_restrictions:
            for host in restriction.hosts:
                tenant_hosts.setdefault(host, []).append(restriction)
        return policy, resolver, tenant_hosts

    def apply(
        self, loaded: tuple[Policy, IdentityResolver, dict[str, list[TenantRestriction]]]
    ) -> None:
        self.current, self.resolver, self.tenant_hosts = loaded


# SHADOWLENS_DLP_REDACT_ALL, as a rule: first, and failing closed.
REDACT_ALL = Rule(
    id="dlp-redact-all",
    action="redact",
    when=Conditions(data=frozenset({"secret", "pii", "code", "keyword"})),
    on_inspection_error="block",
    description="every sensitive value is masked before it leaves",
)


def policy_status(policy: PolicyRef, catalog: CatalogRef) -> Callable[[DetectionEvent], str]:
    """The status in force for an event's service (for the alert rules): the register's,
    then the policy file's."""

    def status_of(event: DetectionEvent) -> str:
        service = catalog.current.services.get(event.service_id) or Service(
            id=event.service_id, name=event.service_name, vendor="", category=event.category
        )
        return service_status(policy.current, service, policy.register)

    return status_of


def load_catalog_counted(rules_dir: Path) -> HostIndex:
    """Load the service catalog, counting a rejected rules file before re-raising."""
    try:
        return load_catalog(rules_dir)
    except RulesError:
        metrics.RULES_ERRORS.labels(rules="services").inc()
        raise


@dataclass
class Core:
    """Everything the addons and the API need, built once per process."""

    settings: Settings
    engine: Engine
    sessions: sessionmaker[Session]
    schema_ready: bool = False
    started_catalog: HostIndex | None = None

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True, serving: bool = False) -> Core:
        """Connect to the inventory, bringing its schema up to date unless told not to.

        ``serving``: a database that does not answer yet is no reason not to start. Events
        go to the spool, and the schema is brought up to date before the first write.
        """
        private_dir(settings.data_dir)
        engine = make_engine(settings.effective_database_url)
        core = cls(settings, engine, session_factory(engine), schema_ready=not migrate)
        try:
            core.ensure_schema()
        except OperationalError as exc:
            if not serving:
                raise
            log.error(
                "inventory database unreachable at start; events spool until it answers: %s",
                exc.orig,
            )
        return core

    def ensure_schema(self) -> None:
        """Run the migrations once per process, as soon as the database answers."""
        if not self.schema_ready:
            upgrade(self.engine)
            self.schema_ready = True

    def catalog(self) -> HostIndex:
        """The service catalog from the settings' rules dir, loaded once (it takes seconds):
        the proxy, the API and the metrics of one process start from the same one."""
        if self.started_catalog is None:
            self.started_catalog = load_catalog_counted(self.settings.rules_dir)
        return self.started_catalog

    def record(self, events: Sequence[DetectionEvent]) -> int:
        """Write a batch of events in one transaction; the writer's sink.

        When the database refuses the data itself (not its availability), the batch is
        written in halves, down to the single events it refuses: those are dropped, counted
        and logged, so one bad event can neither sink its batch nor block the spool.
        """
        self.ensure_schema()
        try:
            with self.sessions.begin() as session:
                return store.record_detections(session, events=events)
        except REFUSED_DATA as exc:
            if len(events) > 1:
                half = len(events) // 2
                return self.record(events[:half]) + self.record(events[half:])
            metrics.EVENTS_DROPPED.labels(reason="refused").inc()
            log.error("inventory refused event %s (%s); dropped", events[0].id, type(exc).__name__)
            return 0

    def writer(self, hub: SinkHub | None = None) -> InventoryWriter:
        """A writer feeding this core's database, sized by the settings, with its spool.

        With a ``hub``, every event submitted also goes to the SIEM sinks and alert rules.
        """
        settings = self.settings
        spool = self.spool()
        metrics.QUEUE_CAPACITY.set(settings.writer_queue_size)
        return InventoryWriter(
            self.record,
            queue_size=settings.writer_queue_size,
            batch_size=settings.writer_batch_size,
            flush_seconds=settings.writer_flush_seconds,
            spool=spool,
            journal=self.journal() if spool is not None else None,
            tee=hub.submit if hub is not None else None,
        )

    def journal(self) -> Journal | None:
        """The write-ahead journal in the data dir, or None when the settings turn it off."""
        if self.settings.journal == "off":
            return None
        return Journal(self.settings.data_dir, sync=self.settings.journal == "fsync")

    def spool(self) -> Spool | None:
        """The spool file in the data dir, or None when the settings turn it off."""
        if self.settings.spool_max_bytes == 0:
            return None
        path = self.settings.data_dir / SPOOL_NAME
        return Spool(path, max_bytes=self.settings.spool_max_bytes)

    def retention(self) -> PeriodicTask[dict[str, int]]:
        """The background purge of what the retention settings expire."""
        days = RetentionDays.from_settings(self.settings)
        return PeriodicTask(
            "retention",
            functools.partial(purge, self.sessions, days=days),
            interval=self.settings.retention_interval_seconds,
            enabled=any((days.detections, days.findings, days.justifications)),
        )

    def coach_grants(self) -> CoachGrants:
        """Coaching grants whose form tokens every proxy sharing the token key accepts."""
        key = configured_or_kept(
            self.settings.coach_token_key, self.settings.data_dir / COACH_KEY_FILE
        )
        return CoachGrants(key)

    def pseudonyms(self) -> Pseudonyms:
        """Surrogate pairs for pseudonymised uploads: this process's memory only, never stored."""
        return Pseudonyms(secrets.token_bytes(32), ttl=self.settings.pseudonym_ttl_seconds)

    def grant_sync(
        self, grants: CoachGrants
    ) -> PeriodicTask[list[tuple[str | None, str, str, datetime]]]:
        """Reads the coaching grants other proxies wrote to the inventory into ``grants``."""

        def read() -> list[tuple[str | None, str, str, datetime]]:
            with self.sessions() as session:
                return store.running_grants(session, now=datetime.now(UTC))

        interval = self.settings.coach_sync_seconds
        return PeriodicTask(
            "grant-sync", read, interval=interval, then=grants.merge, enabled=interval > 0
        )

    def read_register(self, policy: PolicyRef) -> dict[str, str]:
        """Seed the register from the policy file's statuses, then read what it decided."""
        try:
            self.ensure_schema()
            return self._read_register(policy)
        except OperationalError:
            metrics.REGISTER_ERRORS.inc()
            raise

    def _read_register(self, policy: PolicyRef) -> dict[str, str]:
        try:
            with self.sessions.begin() as session:
                governance.seed_statuses(
                    session, statuses=policy.current.service_status, actor="policy-file"
                )
        except sqlalchemy.exc.IntegrityError:
            pass  # another node seeded the same service first; its record stands
        with self.sessions() as session:
            return governance.decided_statuses(session)

    def register_sync(self, policy: PolicyRef) -> PeriodicTask[dict[str, str]]:
        """Keeps ``policy.register`` as the inventory has it, every rules-reload interval."""
        interval = self.settings.rules_reload_seconds
        return PeriodicTask(
            "register-sync",
            functools.partial(self.read_register, policy),
            interval=interval,
            then=functools.partial(setattr, policy, "register"),
            enabled=interval > 0,
        )

    def raise_alerts(self, matcher: AlertMatcher, alerts: Sequence[Alert]) -> list[AlertRow]:
        """De-duplicate, send and record alerts under the rules in force."""
        self.ensure_schema()
        return raise_alerts(
            self.sessions, alerts=alerts, rules=matcher.rules, link_base=self.settings.api_link_base
        )

    def sink_hub(self, matcher: AlertMatcher) -> SinkHub:
        """The configured SIEM sinks and the alert rules, each a consumer of every event."""
        alerts = AlertWorker(matcher, functools.partial(self.raise_alerts, matcher))
        return SinkHub([*sink_workers(self.settings.sinks, self.settings.data_dir), alerts])

    def alert_check(self, matcher: AlertMatcher) -> PeriodicTask[list[AlertRow]]:
        """The periodic look at the register: reviews overdue, services without an owner."""

        def check() -> list[AlertRow]:
            now = datetime.now(UTC)
            self.ensure_schema()
            with self.sessions() as session:
                services = list_services(session, limit=100_000)
            return self.raise_alerts(matcher, register_alerts(matcher.rules, services, now=now))

        interval = self.settings.alert_check_seconds
        return PeriodicTask("alert-check", check, interval=interval, enabled=interval > 0)

    def close(self) -> None:
        self.engine.dispose()
