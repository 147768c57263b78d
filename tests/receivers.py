"""Real local receivers for the sink and alert tests: an HTTP collector that can fail its
first requests, and a syslog server that parses RFC 5424 (octet counting) and CEF strictly."""

from __future__ import annotations

import re
import socket
import socketserver
import ssl
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class HttpCollector:
    """A loopback HTTP server that answers 503 to its first ``fail_first`` POSTs, then 200."""

    def __init__(self, *, fail_first: int = 0) -> None:
        self.fail_first = fail_first
        self.refused = 0
        self.received: list[Received] = []
        collector = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if collector.refused < collector.fail_first:
                    collector.refused += 1
                    self.send_response(503)
                    self.end_headers()
                    return
                collector.received.append(Received(self.path, dict(self.headers), body))
                answer = b'{"text":"Success","code":0}'
                self.send_response(200)
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args: Any) -> None:
                """Quiet."""

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> HttpCollector:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[Received]:
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received


# -- syslog: RFC 5424 and CEF, parsed strictly ------------------------------------------------

_RFC5424 = re.compile(
    r"<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>[!-~]{1,255}) (?P<app>[!-~]{1,48}) "
    r"(?P<procid>[!-~]{1,128}) (?P<msgid>[!-~]{1,32}) (?P<sd>-|\[.*?\]) (?P<msg>.*)",
    re.DOTALL,
)
# CEF keys the syslog sink may write; any other "key=" is an unescaped equals sign.
CEF_KEYS = frozenset(
    [
        "rt",
        "externalId",
        "src",
        "suser",
        "dhost",
        "request",
        "requestMethod",
        "act",
        "out",
        "in",
        "cat",
        "reason",
        "cs1",
        "cs1Label",
        "cs2",
        "cs2Label",
        "cs3",
        "cs3Label",
        "cs4",
        "cs4Label",
        "cs5",
        "cs5Label",
    ]
)


class SyslogFormatError(ValueError):
    pass


def parse_rfc5424(message: str) -> dict[str, Any]:
    """The header fields and MSG of one RFC 5424 message; SyslogFormatError if it is not one."""
    match = _RFC5424.fullmatch(message)
    if match is None:
        raise SyslogFormatError(f"not RFC 5424: {message[:80]!r}")
    fields: dict[str, Any] = match.groupdict()
    if not 0 <= int(fields["pri"]) <= 191:
        raise SyslogFormatError("PRI out of range")
    stamp = datetime.fromisoformat(fields["ts"].replace("Z", "+00:00"))
    if "T" not in fields["ts"] or stamp.tzinfo is None:
        raise SyslogFormatError(f"TIMESTAMP not RFC 3339: {fields['ts']}")
    fields["timestamp"] = stamp
    return fields


def _unescape(text: str, allowed: dict[str, str]) -> str:
    out, chars = [], iter(text)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            if following not in allowed:
                raise SyslogFormatError(f"bad escape \\{following}")
            out.append(allowed[following])
        else:
            out.append(char)
    return "".join(out)


def _split_unescaped(text: str, separator: str, most: int = -1) -> list[str]:
    parts: list[str] = []
    start = n = 0
    while n < len(text) and len(parts) != most:
        if text[n] == "\\":
            n += 2
            continue
        if text[n] == separator:
            parts.append(text[start:n])
            start = n + 1
        n += 1
    parts.append(text[start:])
    return parts


def parse_cef(message: str) -> dict[str, Any]:
    """CEF:0 header fields and extension, unescaped; SyslogFormatError on any violation."""
    if "\n" in message or "\r" in message or not message.startswith("CEF:0|"):
        raise SyslogFormatError(f"not one CEF:0 line: {message[:80]!r}")
    parts = _split_unescaped(message, "|", most=7)  # the extension may hold plain pipes
    if len(parts) != 8:
        raise SyslogFormatError(f"CEF needs 7 header fields and an extension, got {len(parts)}")
    header = [_unescape(p, {"\\": "\\", "|": "|"}) for p in parts[1:7]]
    if not header[5].isdigit() or not 0 <= (severity := int(header[5])) <= 10:
        raise SyslogFormatError("CEF severity out of 0..10")
    return {"vendor": header[0], "product": header[1], "version": header[2],
            "signature": header[3], "name": header[4], "severity": severity,
            "extension": parse_cef_extension(parts[7])}  # fmt: skip


def parse_cef_extension(text: str) -> dict[str, str]:
    """``key=value`` pairs: every unescaped ``=`` must follow a known key."""
    pieces = _split_unescaped(text, "=")
    if len(pieces) < 2:
        return {}
    keys = [pieces[0]] + [p.rsplit(" ", 1)[-1] for p in pieces[1:-1]]
    values = [p.rsplit(" ", 1)[0] for p in pieces[1:-1]] + [pieces[-1]]
    extension = {}
    for key, value in zip(keys, values, strict=True):
        if key not in CEF_KEYS:
            raise SyslogFormatError(f"unknown CEF key {key!r} (an unescaped '=' in a value?)")
        if key in extension:
            raise SyslogFormatError(f"CEF key {key} twice")
        extension[key] = _unescape(value, {"\\": "\\", "=": "=", "n": "\n", "r": "\r"})
    return extension


@dataclass
class SyslogServer:
    """A loopback TCP syslog receiver reading octet-counted frames (RFC 6587), parsing each."""

    port: int = 0
    tls: ssl.SSLContext | None = None  # set: the receiver speaks TLS (RFC 5425)
    messages: list[dict[str, Any]] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        server = self

        class Handler(socketserver.StreamRequestHandler):
            def setup(self) -> None:
                if server.tls is not None:
                    self.request = server.tls.wrap_socket(self.request, server_side=True)
                super().setup()

            def handle(self) -> None:
                while True:
                    length = b""
                    while (char := self.rfile.read(1)) not in (b" ", b""):
                        length += char
                    if not length:
                        return
                    if not length.isdigit() or length.startswith(b"0"):
                        server.errors.append(f"bad frame length {length[:20]!r}")
                        return
                    frame = self.rfile.read(int(length)).decode("utf-8")
                    server.take(frame)

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.url = f"tcp://127.0.0.1:{self.server.server_address[1]}"

    def take(self, frame: str) -> None:
        try:
            parsed = parse_rfc5424(frame)
            parsed["cef"] = parse_cef(parsed["msg"])
        except (SyslogFormatError, ValueError) as exc:
            self.errors.append(str(exc))
            return
        parsed["raw"] = frame
        self.messages.append(parsed)

    def __enter__(self) -> SyslogServer:
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()

    def wait_for(self, count: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while len(self.messages) + len(self.errors) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.messages


class UdpSyslogServer:
    """A loopback UDP syslog receiver: one message a datagram."""

    def __init__(self) -> None:
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.bind(("127.0.0.1", 0))
        self.sock.settimeout(5)
        self.url = f"udp://127.0.0.1:{self.sock.getsockname()[1]}"

    def receive(self) -> str:
        return self.sock.recv(65535).decode("utf-8")

    def close(self) -> None:
        self.sock.close()
