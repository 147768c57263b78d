"""What shadowlens creates in its data dir is its owner's alone: dirs 0700, files 0600."""

from __future__ import annotations

import asyncio
import logging
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from shadowlens.addons.launcher import build_master, ensure_ca
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import Settings
from tests.conftest import RULES_DIR
from tests.factories import detection_event


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def lax_umask() -> Iterator[None]:
    """The umask most shells have: without care, files come out 0644 and dirs 0755."""
    previous = os.umask(0o022)
    yield
    os.umask(previous)


@pytest.mark.usefixtures("lax_umask")
def test_a_new_data_dir_its_database_wal_shm_and_keys_are_private(tmp_path: Path) -> None:
    data = tmp_path / "fresh" / "data"
    core = Core.open(Settings(data_dir=data, rules_dir=RULES_DIR))
    try:
        core.record([detection_event(0)])
        core.coach_grants()  # makes the coaching key
        with core.engine.connect():  # the -wal and -shm exist while a connection is open
            files = {p.name: _mode(p) for p in data.iterdir() if p.is_file()}
    finally:
        core.close()
    assert _mode(data) == 0o700
    assert {"shadowlens.db", "shadowlens.db-wal", "shadowlens.db-shm"} <= set(files)
    assert set(files.values()) == {0o600}, files
    assert _mode(ensure_ca(core.settings.confdir).parent) == 0o700


@pytest.mark.usefixtures("lax_umask")
def test_the_proxy_makes_its_ca_folder_private_and_its_key_0600(tmp_path: Path) -> None:
    core = Core.open(Settings(data_dir=tmp_path / "data", rules_dir=RULES_DIR))

    async def start() -> None:
        build_master(core, [])  # mitmproxy makes its CA as it takes its options

    try:
        asyncio.run(start())
    finally:
        core.close()
    confdir = core.settings.confdir
    assert _mode(confdir) == 0o700
    assert _mode(confdir / "mitmproxy-ca.pem") == 0o600  # the CA's private key


@pytest.mark.usefixtures("lax_umask")
def test_a_dir_the_operator_made_is_left_alone_with_a_warning(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "shared"
    data.mkdir(mode=0o755)
    with caplog.at_level(logging.WARNING, logger="shadowlens.proxy.filemodes"):
        Core.open(Settings(data_dir=data, rules_dir=RULES_DIR)).close()
    assert _mode(data) == 0o755
    assert _mode(data / "shadowlens.db") == 0o600
    assert [r.getMessage() for r in caplog.records].count(
        f"data dir {data.resolve()} is open to other users (mode 755); shadowlens leaves it so "
        "(chmod 700 it)"
    ) == 1
