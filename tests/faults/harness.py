"""What the fault tests share: an upstream that misbehaves on demand, and counted load.

The load is plain-HTTP chat POSTs to ``api.openai.com`` through the proxy (routed to the
upstream on loopback), each with its own request id in the path. Clients count what was
answered; the inventory is then searched for those ids, so a lost event has a name.

``SHADOWLENS_FAULTS_LONG=1`` runs the long versions: more clients, longer load.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import socket
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.pool import NullPool

from tests.e2e.conftest import HERE as E2E_DIR
from tests.net import closed_port

LONG = os.environ.get("SHADOWLENS_FAULTS_LONG") == "1"
AI_HOST = "api.openai.com"
REPLY = json.dumps({"id": "chatcmpl-1", "object": "chat.completion", "choices": []}).encode()
JSON_HEADERS = {"content-type": "application/json"}
PROMPT = json.dumps({"model": "gpt-4o", "messages": [{"role": "user", "content": "x" * 900}]})


class _Handler(BaseHTTPRequestHandler):
    """``/slow/<ms>/…`` answers after a pause; ``/reset/…`` resets mid-body; others answer.

    HTTP/1.1, so the proxy keeps its clients' connections open: under HTTP/1.0 every answer
    would close one, and the load would be a new connection per request.
    """

    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        return

    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("content-length", "0")))
        parts = self.path.split("/")
        if self.path.startswith("/slow/"):
            time.sleep(int(parts[2]) / 1000)
        if self.path.startswith("/reset/"):
            self._reset_mid_body()
            return
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(REPLY)))
        self.end_headers()
        self.wfile.write(REPLY)

    def _reset_mid_body(self) -> None:
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", "100000")
        self.end_headers()
        self.wfile.write(b'{"id": "chatcmpl-1", "choices": [')
        self.wfile.flush()
        self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
        self.connection.close()  # with a zero linger: an RST, not a FIN
        self.close_connection = True


@contextmanager
def fault_upstream() -> Iterator[int]:
    """A plain-HTTP upstream on loopback; yields its port."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
        server.server_close()


def routed(upstream_port: int) -> list[str]:
    """mitmdump flags sending the AI host to the fault upstream and everything else nowhere."""
    routes = f"{AI_HOST}={upstream_port},*={closed_port()}"
    return ["-s", str(E2E_DIR / "loopback_routes.py"), "--set", f"loopback_routes={routes}"]


def proxy_address(proxy_url: str) -> tuple[str, int]:
    """Host and port of ``http://host:port``."""
    address = urlsplit(proxy_url)
    return address.hostname or "127.0.0.1", address.port or 80


def post(proxy_url: str, path: str, *, timeout: float = 30) -> int:
    """One chat POST through the proxy on a new connection; the status code."""
    connection = http.client.HTTPConnection(*proxy_address(proxy_url), timeout=timeout)
    try:
        connection.request("POST", f"http://{AI_HOST}{path}", body=PROMPT, headers=JSON_HEADERS)
        response = connection.getresponse()
        response.read()
        return response.status
    finally:
        connection.close()


class Load:
    """``clients`` keep-alive clients posting until stopped; ``answered`` holds the ids that
    came back 200 with their whole body, in the order they did."""

    def __init__(
        self, proxy_url: str, *, clients: int, prefix: str = "/v1/chat/completions"
    ) -> None:
        self.proxy = proxy_address(proxy_url)
        self.prefix = prefix
        self.answered: list[str] = []
        self.refused = 0
        self.cut = 0
        self.stopping = threading.Event()
        self.threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> Load:
        for thread in self.threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(timeout=60)

    def wait_for(self, answered: int, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while len(self.answered) < answered and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.answered) >= answered, f"only {len(self.answered)} answered"

    def _client(self) -> None:
        connection: http.client.HTTPConnection | None = None
        while not self.stopping.is_set():
            request_id = uuid.uuid4().hex
            try:
                if connection is None:
                    connection = http.client.HTTPConnection(*self.proxy, timeout=30)
                url = f"http://{AI_HOST}{self.prefix}/{request_id}"
                connection.request("POST", url, body=PROMPT, headers=JSON_HEADERS)
                response = connection.getresponse()
                body = response.read()
            except ConnectionRefusedError:  # the proxy no longer listens
                self.refused += 1
                connection = None
                time.sleep(0.01)
                continue
            except (OSError, http.client.HTTPException):  # cut off: sent, never answered
                self.cut += 1
                with contextlib.suppress(OSError):
                    if connection is not None:
                        connection.close()
                connection = None
                time.sleep(0.01)
                continue
            if response.status == 200 and body == REPLY:
                self.answered.append(request_id)
        if connection is not None:
            connection.close()


def recorded_ids(database: Path | str) -> set[str]:
    """The request ids (last path segments) of the detections in an inventory: a SQLite
    file, or a database URL."""
    url = database if isinstance(database, str) else f"sqlite:///{database}"
    if isinstance(database, Path) and not database.exists():
        return set()
    engine = create_engine(url, poolclass=NullPool)
    try:
        with engine.connect() as connection:
            paths = connection.execute(text("SELECT path FROM detections")).scalars()
            return {path.rpartition("/")[2] for path in paths}
    except OperationalError:  # not migrated yet, or away
        return set()
    finally:
        engine.dispose()


def wait_recorded(database: Path | str, ids: set[str], timeout: float = 60) -> set[str]:
    """Poll the inventory until it holds every id in ``ids``; the ids it holds."""
    deadline = time.monotonic() + timeout
    while True:
        found = recorded_ids(database) & ids
        if found == ids or time.monotonic() > deadline:
            return found
        time.sleep(0.1)
