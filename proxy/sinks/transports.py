"""Transports: each delivers one batch of events, blocking, and raises when it could not.

They run in a worker thread (the proxy) or in the caller's (a log scan). Retrying,
spooling and ordering are the delivery worker's job (``delivery.py``), not theirs.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import socket
import ssl
import sys
import time
import urllib.request
from collections.abc import Callable, Sequence
from datetime import UTC
from pathlib import Path
from typing import Protocol
from urllib.parse import urlsplit

import orjson

from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.sinkconfig import SinkConfig
from shadowlens.proxy.sinks.formats import FORMATS, PRODUCT, cef, epoch_ms, severity_of


class Transport(Protocol):
    """A sink's way out; ``send`` raises on any failure, having delivered all or nothing."""

    config: SinkConfig

    def send(self, events: Sequence[DetectionEvent]) -> None: ...

    def close(self) -> None: ...


def _ndjson(config: SinkConfig, events: Sequence[DetectionEvent]) -> bytes:
    build = FORMATS[config.format]
    return b"".join(
        orjson.dumps(r, option=orjson.OPT_APPEND_NEWLINE) for e in events for r in build(e)
    )


class FileTransport:
    """NDJSON appended to a file (mode 0600), rotated to ``.1``…``.N`` past ``max_bytes``."""

    def __init__(self, config: SinkConfig) -> None:
        assert config.path is not None
        self.config = config
        self.path: Path = config.path
        self._fd: int | None = None
        self._size = 0

    def send(self, events: Sequence[DetectionEvent]) -> None:
        data = _ndjson(self.config, events)
        if self._fd is None:
            self._open()
        if self._size and self._size + len(data) > self.config.max_bytes:
            self._rotate()
        assert self._fd is not None
        os.write(self._fd, data)
        self._size += len(data)

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        self._size = os.fstat(self._fd).st_size

    def _rotate(self) -> None:
        self.close()
        for n in range(self.config.backups, 0, -1):
            older = self.path.with_name(f"{self.path.name}.{n - 1}") if n > 1 else self.path
            if older.exists():
                older.replace(self.path.with_name(f"{self.path.name}.{n}"))
        if self.config.backups == 0:
            self.path.unlink(missing_ok=True)
        self._open()

    def close(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None


class StdoutTransport:
    """NDJSON on standard output, for a log shipper reading the container's output."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config

    def send(self, events: Sequence[DetectionEvent]) -> None:
        sys.stdout.buffer.write(_ndjson(self.config, events))
        sys.stdout.buffer.flush()

    def close(self) -> None:
        """Nothing to release: standard output belongs to the process."""


# Syslog severities (RFC 5424) for our 1..5 scale: info, notice, warning, error, critical.
_SYSLOG_SEVERITY = {1: 6, 2: 5, 3: 4, 4: 3, 5: 2}


_PID = os.getpid()


def syslog_message(event: DetectionEvent, *, facility: int, hostname: str) -> bytes:
    """One RFC 5424 message whose MSG is the event in CEF."""
    priority = facility * 8 + _SYSLOG_SEVERITY[severity_of(event)]
    stamp = event.ts.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    header = f"<{priority}>1 {stamp} {hostname} {PRODUCT} {_PID} detection -"
    return f"{header} {cef(event)}".encode()


def _syslog_hostname() -> str:
    """This host's name as RFC 5424 allows it: printable US-ASCII, at most 255 characters."""
    name = "".join(c for c in socket.gethostname() if 33 <= ord(c) <= 126)[:255]
    return name or "-"


class SyslogTransport:
    """RFC 5424 over UDP (a datagram each), or TCP and TLS (octet counting, RFC 6587)."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        url = urlsplit(config.url)
        if url.hostname is None or url.port is None:
            raise ValueError(f"sink {config.name}: syslog url needs a host and a port")
        self.scheme, self.address = url.scheme, (url.hostname, url.port)
        self.hostname = _syslog_hostname()
        self._sock: socket.socket | None = None

    def send(self, events: Sequence[DetectionEvent]) -> None:
        facility, host = self.config.facility, self.hostname
        messages = [syslog_message(e, facility=facility, hostname=host) for e in events]
        sock = self._connect()
        try:
            if self.scheme == "udp":
                for message in messages:
                    sock.sendto(message, self.address)
            else:
                sock.sendall(b"".join(b"%d %s" % (len(m), m) for m in messages))
        except OSError:
            self.close()  # reconnect on the next try
            raise

    def _connect(self) -> socket.socket:
        if self._sock is not None:
            return self._sock
        if self.scheme == "udp":
            family = socket.getaddrinfo(*self.address, type=socket.SOCK_DGRAM)[0][0]
            self._sock = socket.socket(family, socket.SOCK_DGRAM)
            return self._sock
        sock = socket.create_connection(self.address, timeout=self.config.timeout)
        if self.scheme == "tls":
            ca_file = str(self.config.ca_file) if self.config.ca_file else None
            context = ssl.create_default_context(cafile=ca_file)
            sock = context.wrap_socket(sock, server_hostname=self.address[0])
        self._sock = sock
        return sock

    def close(self) -> None:
        if self._sock is not None:
            self._sock.close()
            self._sock = None


class HttpError(Exception):
    """The receiver answered with an error status or could not be reached."""


def post(
    url: str, body: bytes, headers: dict[str, str], *, timeout: float, ca_file: Path | None = None
) -> None:
    """POST ``body`` to an http(s) URL; HttpError unless it answers 2xx."""
    if not url.startswith(("http://", "https://")):
        raise HttpError(f"not an http(s) URL: {url[:40]!r}")
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")  # noqa: S310
    context = None
    if url.startswith("https:"):
        context = ssl.create_default_context(cafile=str(ca_file) if ca_file else None)
    try:
        with urllib.request.urlopen(request, timeout=timeout, context=context) as answer:  # noqa: S310
            answer.read()
    except OSError as exc:  # URLError and HTTPError are OSErrors; neither holds the body
        raise HttpError(str(exc)) from None


class HecTransport:
    """Splunk HTTP Event Collector: the batch as concatenated event objects in one POST."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config
        self.host = socket.gethostname()

    def send(self, events: Sequence[DetectionEvent]) -> None:
        build = FORMATS[self.config.format]
        sourcetype = f"{PRODUCT}:{self.config.format}"
        body = b"".join(
            orjson.dumps({"time": epoch_ms(e.ts) / 1000, "host": self.host, "source": PRODUCT,
                          "sourcetype": sourcetype, "event": record})
            for e in events for record in build(e)
        )  # fmt: skip
        token = self.config.token.get_secret_value()
        headers = {"Authorization": f"Splunk {token}", "Content-Type": "application/json"}
        post(
            self.config.url, body, headers, timeout=self.config.timeout, ca_file=self.config.ca_file
        )

    def close(self) -> None:
        """Each POST is its own connection: nothing held open."""


def webhook_signature(secret: bytes, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the HMAC-SHA256 of ``timestamp.body``: a replayed body needs its time."""
    digest = hmac.new(secret, timestamp.encode() + b"." + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


class WebhookTransport:
    """A generic webhook: the batch as a JSON array, signed when a secret is set."""

    def __init__(self, config: SinkConfig) -> None:
        self.config = config

    def send(self, events: Sequence[DetectionEvent]) -> None:
        build = FORMATS[self.config.format]
        body = orjson.dumps([r for e in events for r in build(e)])
        headers = {"Content-Type": "application/json"}
        secret = self.config.secret.get_secret_value().encode()
        if secret:
            timestamp = str(int(time.time()))
            headers["X-Shadowlens-Timestamp"] = timestamp
            headers[self.config.signature_header] = webhook_signature(secret, timestamp, body)
        post(
            self.config.url, body, headers, timeout=self.config.timeout, ca_file=self.config.ca_file
        )

    def close(self) -> None:
        """Each POST is its own connection: nothing held open."""


TRANSPORTS: dict[str, Callable[[SinkConfig], Transport]] = {
    "file": FileTransport,
    "stdout": StdoutTransport,
    "syslog": SyslogTransport,
    "hec": HecTransport,
    "webhook": WebhookTransport,
}


def open_transport(config: SinkConfig) -> Transport:
    """The transport a sink's settings describe."""
    return TRANSPORTS[config.kind](config)
