"""The core objects a running process shares: settings, catalog, database and writer."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from proxy import metrics
from proxy.catalog import HostIndex, load_catalog
from proxy.errors import RulesError
from proxy.inventory import store
from proxy.inventory.db import make_engine, session_factory
from proxy.inventory.events import DetectionEvent
from proxy.inventory.migrate import upgrade
from proxy.inventory.writer import InventoryWriter
from proxy.settings import Settings


class CatalogRef:
    """The catalog in force. A reload swaps it whole, so no reader sees half of one."""

    def __init__(self, catalog: HostIndex) -> None:
        self.current = catalog


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

    @classmethod
    def open(cls, settings: Settings, *, migrate: bool = True) -> Core:
        """Connect to the inventory, bringing its schema up to date unless told not to."""
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        engine = make_engine(settings.effective_database_url)
        if migrate:
            upgrade(engine)
        return cls(settings=settings, engine=engine, sessions=session_factory(engine))

    def catalog(self) -> HostIndex:
        """The service catalog from the settings' rules dir."""
        return load_catalog_counted(self.settings.rules_dir)

    def record(self, events: Sequence[DetectionEvent]) -> int:
        """Write a batch of events in one transaction; the writer's sink."""
        with self.sessions.begin() as session:
            return store.record_detections(session, events=events)

    def writer(self) -> InventoryWriter:
        """A writer feeding this core's database, sized by the settings."""
        return InventoryWriter(
            self.record,
            queue_size=self.settings.writer_queue_size,
            batch_size=self.settings.writer_batch_size,
            flush_seconds=self.settings.writer_flush_seconds,
        )

    def close(self) -> None:
        self.engine.dispose()
