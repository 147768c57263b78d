"""Shared fixtures: a fresh inventory on SQLite and on the local PostgreSQL."""

from __future__ import annotations

import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import OperationalError

from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import PROJECT_ROOT, Settings
from tests import pgcluster
from tests.ldapserver import SLAPD, LdapServer
from tests.pgcluster import PostgresCluster

POSTGRES_ADMIN_URL = os.environ.get(
    "SHADOWLENS_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
RULES_DIR = PROJECT_ROOT / "rules"


def _postgres_or_skip() -> str:
    """The admin URL if PostgreSQL answers; skip (fail under CI=true) if it does not."""
    engine = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect():
            pass
    except OperationalError as exc:
        if os.environ.get("CI") == "true":
            pytest.fail(f"PostgreSQL must run under CI: {exc}")
        pytest.skip(f"no PostgreSQL at {POSTGRES_ADMIN_URL}: {exc.orig}")
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A throwaway PostgreSQL database, dropped afterwards."""
    with throwaway_postgres() as url:
        yield url


@contextmanager
def throwaway_postgres() -> Iterator[str]:
    """A fresh PostgreSQL database for the block (for fixtures of any scope), dropped after."""
    admin_url = _postgres_or_skip()
    name = f"shadowlens_test_{secrets.token_hex(6)}"
    # pre-ping: a test may restart the server, leaving the pooled connection dead
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT", pool_pre_ping=True)
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """Each test using this runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'inventory.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", database_url=database_url, rules_dir=RULES_DIR, api_tokens="t"
    )


@pytest.fixture
def core(settings: Settings) -> Iterator[Core]:
    """A migrated inventory on the parametrised database."""
    core = Core.open(settings)
    yield core
    core.close()


@pytest.fixture
def ldap_server(tmp_path: Path) -> Iterator[LdapServer]:
    """A running throwaway slapd; skipped without Debian's slapd (a failure under CI=true)."""
    if not SLAPD.exists():
        if os.environ.get("CI") == "true":
            pytest.fail(f"{SLAPD} must be installed under CI (apt-get install slapd)")
        pytest.skip(f"{SLAPD} is not installed (apt-get install slapd)")
    server = LdapServer.create(tmp_path / "ldap")
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def own_postgres() -> Iterator[PostgresCluster]:
    """A running PostgreSQL cluster of this test's own, which it may stop and start."""
    if reason := pgcluster.available():
        if os.environ.get("CI") == "true":
            pytest.fail(f"a throwaway PostgreSQL must run under CI: {reason}")
        pytest.skip(reason)
    cluster = PostgresCluster.create()
    try:
        cluster.start()
        yield cluster
    finally:
        cluster.remove()
