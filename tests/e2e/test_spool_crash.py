"""No loss across a crash: SIGKILL the proxy while the spool holds events, find them later."""

from __future__ import annotations

import contextlib
import socket
import subprocess
import threading
import time
from pathlib import Path

import pytest

from shadowlens.proxy.inventory.spool import SPOOL_NAME, Spool
from tests.e2e.conftest import HERE, closed_port, start_shadowlens, stop_shadowlens

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


class Relay:
    """A TCP relay to PostgreSQL that can be cut, as a network outage would cut it."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.sockets: list[socket.socket] = []
        self.cut = False
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while not self.cut:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            if self.cut:
                client.close()
                return
            server = socket.create_connection(self.target)
            self.sockets += [client, server]
            for a, b in ((client, server), (server, client)):
                threading.Thread(target=self._pipe, args=(a, b), daemon=True).start()

    @staticmethod
    def _pipe(source: socket.socket, sink: socket.socket) -> None:
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)

    def close(self) -> None:
        """Refuse new connections and reset the open ones."""
        self.cut = True
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accepting thread
        self.listener.close()
        for sock in self.sockets:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
                sock.close()


def _curl(proxy_url: str, ca_file: Path, n: int) -> None:
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", proxy_url,
         "--cacert", str(ca_file), f"https://chatgpt.com/c/{n}"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    assert result.stdout == "502"  # chatgpt.com is routed to a closed port


def test_sigkill_with_a_full_spool_loses_nothing(tmp_path: Path, postgres_url: str) -> None:
    from sqlalchemy.engine import make_url

    relay = Relay(("127.0.0.1", make_url(postgres_url).port or 5432))
    relayed = make_url(postgres_url).set(port=relay.port).render_as_string(hide_password=False)
    data_dir = tmp_path / "data"
    mitm_args = ["-s", str(HERE / "loopback_routes.py"),
                 "--set", f"loopback_routes=*={closed_port()}"]  # fmt: skip
    env = {"SHADOWLENS_DATABASE_URL": relayed, "SHADOWLENS_WRITER_FLUSH_SECONDS": "0.05"}
    first = start_shadowlens(data_dir, mitm_args, env)
    try:
        _curl(first.proxy_url, first.ca_file, 0)
        assert len(first.wait_for_detections(1)) == 1
        relay.close()  # the database is gone for this proxy
        for n in range(1, 6):
            _curl(first.proxy_url, first.ca_file, n)
        spool = Spool(data_dir / SPOOL_NAME, max_bytes=1 << 30)
        deadline = time.monotonic() + 10
        while sum(len(b) for _, b in spool.batches()) < 5 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert sum(len(b) for _, b in spool.batches()) == 5, "".join(first.output)
    finally:
        first.process.kill()  # SIGKILL: no drain, no goodbye
        first.process.wait(timeout=10)
    second = start_shadowlens(data_dir, mitm_args, {"SHADOWLENS_DATABASE_URL": postgres_url})
    try:
        items = second.wait_for_detections(6, timeout=10, service="chatgpt")
        assert sorted(i["path"] for i in items) == [f"/c/{n}" for n in range(6)]
        deadline = time.monotonic() + 10
        while spool.pending() and time.monotonic() < deadline:  # the replay's last batches
            time.sleep(0.05)
        assert not spool.pending()
        [service] = second.api("/api/v1/services").json()["items"]
        assert service["requests"] == 6
    finally:
        assert stop_shadowlens(second) == 0, "".join(second.output)
