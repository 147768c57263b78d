"""A throwaway PostgreSQL cluster of our own (Debian's initdb and pg_ctl), to stop and start.

Tests that take the database away use this, never the machine's shared cluster on 5432:
other tests and other people use that one. The cluster runs as the ``postgres`` user (the
server refuses to run as root) in a temporary folder, on a spare loopback port.
"""

from __future__ import annotations

import os
import pwd
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.net import closed_port

PG_BINARIES = sorted(Path("/usr/lib/postgresql").glob("*/bin/pg_ctl"))
RUN_AS = "postgres"


def available() -> str | None:
    """Why no throwaway cluster can run here, or None when one can."""
    if not PG_BINARIES:
        return "no /usr/lib/postgresql/*/bin/pg_ctl (apt-get install postgresql)"
    try:
        pwd.getpwnam(RUN_AS)
    except KeyError:
        return f"no {RUN_AS!r} user to run the server as"
    if os.geteuid() != 0:
        return "starting the server as another user needs root"
    return None


@dataclass
class PostgresCluster:
    """A cluster in ``folder`` listening on 127.0.0.1:``port``, trust authentication."""

    folder: Path
    port: int

    @classmethod
    def create(cls) -> PostgresCluster:
        """initdb in a new folder under the system temp dir (the server user must reach it)."""
        folder = Path(tempfile.mkdtemp(prefix="shadowlens-pg-"))
        shutil.chown(folder, RUN_AS)
        cluster = cls(folder, closed_port())
        cluster._as_server_user("initdb", "-D", str(cluster.data), "-A", "trust", "-U", "postgres",
                                "--no-sync", "--no-instructions")  # fmt: skip
        return cluster

    @property
    def data(self) -> Path:
        return self.folder / "data"

    @property
    def url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def start(self) -> None:
        options = f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._as_server_user("pg_ctl", "-D", str(self.data), "-l", str(self.folder / "log"),
                             "-o", options, "-w", "-t", "60", "start")  # fmt: skip

    def stop(self) -> None:
        self._as_server_user("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")

    def remove(self) -> None:
        """Stop the server if it runs, and delete the cluster."""
        subprocess.run(
            ["runuser", "-u", RUN_AS, "--", str(self._binary("pg_ctl")), "-D", str(self.data),
             "-m", "immediate", "-w", "stop"],
            capture_output=True, check=False, timeout=60,
        )  # fmt: skip
        shutil.rmtree(self.folder, ignore_errors=True)

    def _as_server_user(self, program: str, *args: str) -> None:
        command = ["runuser", "-u", RUN_AS, "--", str(self._binary(program)), *args]
        result = subprocess.run(command, capture_output=True, text=True, timeout=120, check=False)
        if result.returncode != 0:
            raise AssertionError(f"{program} failed: {result.stdout}{result.stderr}")

    @staticmethod
    def _binary(program: str) -> Path:
        return PG_BINARIES[-1].parent / program
