"""The database down, slow or full under load: the proxy answers throughout, nothing is lost."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text

from shadowlens.proxy.inventory.spool import SPOOL_NAME
from tests.e2e.conftest import RunningProxy, start_shadowlens, stop_shadowlens
from tests.faults.harness import LONG, Load, fault_upstream, routed, wait_recorded
from tests.pgcluster import PostgresCluster

pytestmark = pytest.mark.e2e

CLIENTS = 16 if LONG else 4
OUTAGE_SECONDS = 30.0 if LONG else 3.0


@contextlib.contextmanager
def _proxy_under_load(data_dir: Path, database_url: str) -> Iterator[tuple[RunningProxy, Load]]:
    env = {"SHADOWLENS_DATABASE_URL": database_url, "SHADOWLENS_WRITER_FLUSH_SECONDS": "0.1"}
    with fault_upstream() as port:
        running = start_shadowlens(data_dir, routed(port), env)
        try:
            with Load(running.proxy_url, clients=CLIENTS) as load:
                load.wait_for(20)
                yield running, load
        finally:
            assert stop_shadowlens(running) == 0, "".join(running.output)


def _keeps_answering(load: Load, seconds: float) -> None:
    """The load gets answers all through ``seconds``: at least one in each second."""
    for _ in range(int(seconds)):
        before = len(load.answered)
        time.sleep(1)
        assert len(load.answered) > before, "the proxy stopped answering"


def test_database_down_then_back(tmp_path: Path, own_postgres: PostgresCluster) -> None:
    with _proxy_under_load(tmp_path / "data", own_postgres.url) as (running, load):
        own_postgres.stop()
        try:
            _keeps_answering(load, OUTAGE_SECONDS)
            assert (running.data_dir / SPOOL_NAME).exists()  # what waits, waits on disk
        finally:
            own_postgres.start()
        load.wait_for(len(load.answered) + 20)
        load.stop()
        answered = set(load.answered)
        assert wait_recorded(own_postgres.url, answered) == answered


@pytest.mark.postgres
def test_database_slow_while_a_lock_is_held(tmp_path: Path, postgres_url: str) -> None:
    with _proxy_under_load(tmp_path / "data", postgres_url) as (_, load):
        engine = create_engine(postgres_url)
        with engine.connect() as locker:
            locker.execute(text("LOCK TABLE detections IN ACCESS EXCLUSIVE MODE"))
            _keeps_answering(load, OUTAGE_SECONDS)  # the writer waits; the proxy does not
            locker.rollback()  # the lock goes
        engine.dispose()
        load.stop()
        answered = set(load.answered)
        assert wait_recorded(postgres_url, answered) == answered


@pytest.fixture
def small_disk(tmp_path: Path) -> Iterator[Path]:
    """A 4 MiB tmpfs, unmounted afterwards; mounting needs root."""
    if os.geteuid() != 0 or not shutil.which("mount"):
        pytest.skip("mounting a tmpfs needs root")
    mountpoint = tmp_path / "small"
    mountpoint.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(mountpoint)], check=True)
    try:
        yield mountpoint
    finally:
        subprocess.run(["umount", "-l", str(mountpoint)], check=False)


def _fill(disk: Path) -> Path:
    filler = disk / "filler"
    with filler.open("wb") as handle, contextlib.suppress(OSError):
        while True:
            handle.write(b"\0" * 65536)
            handle.flush()
    return filler


def test_database_disk_full_then_freed(tmp_path: Path, small_disk: Path) -> None:
    database = small_disk / "inventory.db"
    with _proxy_under_load(tmp_path / "data", f"sqlite:///{database}") as (running, load):
        filler = _fill(small_disk)
        _keeps_answering(load, OUTAGE_SECONDS)
        assert (running.data_dir / SPOOL_NAME).exists()  # the batches SQLite refused
        filler.unlink()  # space returns
        load.wait_for(len(load.answered) + 20)
        load.stop()
        answered = set(load.answered)
        missing = answered - wait_recorded(database, answered)
        assert not missing, f"{len(missing)} answered, never recorded:\n" + "".join(running.output)
