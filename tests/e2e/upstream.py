"""A local HTTPS server impersonating AI APIs, with a throwaway CA, for end-to-end tests."""

from __future__ import annotations

import datetime
import json
import ssl
import threading
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

CHAT_COMPLETION = {
    "id": "chatcmpl-test",
    "object": "chat.completion",
    "created": 1_700_000_000,
    "model": "gpt-4o-mini",
    "choices": [
        {
            "index": 0,
            "message": {"role": "assistant", "content": "pong"},
            "finish_reason": "stop",
        }
    ],
    "usage": {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4},
}


ANTHROPIC_MESSAGE = {
    "id": "msg_test",
    "type": "message",
    "role": "assistant",
    "model": "claude-test-model",
    "content": [{"type": "text", "text": "pong"}],
    "stop_reason": "end_turn",
    "stop_sequence": None,
    "usage": {"input_tokens": 3, "output_tokens": 1},
}


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def make_test_pki(folder: Path, hosts: list[str]) -> tuple[Path, Path, Path]:
    """Write a CA and a leaf certificate for ``hosts``; return (ca, cert, key) paths."""
    now = datetime.datetime.now(datetime.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = (
        x509.CertificateBuilder()
        .subject_name(_name("shadowlens test CA"))
        .issuer_name(_name("shadowlens test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True, key_cert_sign=True, crl_sign=True,
                content_commitment=False, key_encipherment=False, data_encipherment=False,
                key_agreement=False, encipher_only=False, decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )  # fmt: skip
    key = ec.generate_private_key(ec.SECP256R1())
    leaf = (
        x509.CertificateBuilder()
        .subject_name(_name(hosts[0]))
        .issuer_name(ca.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=2))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(h) for h in hosts]), False)
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = folder / "test-ca.pem", folder / "upstream-cert.pem", folder / "upstream-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return paths


@dataclass
class Received:
    """What the upstream saw: one entry per request."""

    requests: list[dict[str, Any]] = field(default_factory=list)


class _Handler(BaseHTTPRequestHandler):
    received: Received

    def log_message(self, format: str, *args: Any) -> None:
        return

    def _reply(self, body: bytes, content_type: str = "application/json") -> None:
        self.send_response(200)
        self.send_header("content-type", content_type)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self) -> None:
        self.received.requests.append(
            {
                "method": "GET",
                "host": self.headers["host"],
                "path": self.path,
                "headers": self.headers,
            }
        )
        self._reply(b"<html><body><h1>plain site</h1></body></html>", "text/html")

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("content-length", "0")))
        self.received.requests.append(
            {"method": "POST", "host": self.headers["host"], "path": self.path, "body": body}
        )
        request = _json_or_empty(body)
        if request.get("model") == "echo":
            self._echo(request)
            return
        reply = ANTHROPIC_MESSAGE if self.path.startswith("/v1/messages") else CHAT_COMPLETION
        self._reply(json.dumps(reply).encode())

    def _echo(self, request: dict[str, Any]) -> None:
        """A model that says back the last user message, and passes it to a tool if it has one."""
        said = str(request["messages"][-1]["content"])
        arguments = json.dumps({"text": said}) if request.get("tools") else None
        if not request.get("stream"):
            self._reply(json.dumps(_completion(said, arguments)).encode())
            return
        self.send_response(200)
        self.send_header("content-type", "text/event-stream")
        self.end_headers()
        for event in _echo_events(said, arguments):
            self.wfile.write(f"data: {json.dumps(event)}\n\n".encode())
            self.wfile.flush()
        self.wfile.write(b"data: [DONE]\n\n")
        self.close_connection = True


def _json_or_empty(body: bytes) -> dict[str, Any]:
    try:
        parsed = json.loads(body)
    except ValueError:
        return {}
    return parsed if isinstance(parsed, dict) else {}


def _completion(said: str, arguments: str | None) -> dict[str, Any]:
    message: dict[str, Any] = {"role": "assistant", "content": said}
    if arguments is not None:
        call = {
            "id": "call_1",
            "type": "function",
            "function": {"name": "note", "arguments": arguments},
        }
        message["tool_calls"] = [call]
    return {
        **CHAT_COMPLETION,
        "choices": [{"index": 0, "message": message, "finish_reason": "stop"}],
    }


def _echo_events(said: str, arguments: str | None) -> list[dict[str, Any]]:
    """The answer a few characters an event, so that any value is split over several."""
    base = {"id": "chatcmpl-echo", "object": "chat.completion.chunk", "created": 0, "model": "echo"}
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": said[i : i + 5]} for i in range(0, len(said), 5)]
    if arguments is not None:
        start = {"index": 0, "id": "call_1", "type": "function",
                 "function": {"name": "note", "arguments": ""}}  # fmt: skip
        deltas.append({"tool_calls": [start]})
        deltas += [
            {"tool_calls": [{"index": 0, "function": {"arguments": arguments[i : i + 4]}}]}
            for i in range(0, len(arguments), 4)
        ]
    events = [
        {**base, "choices": [{"index": 0, "delta": d, "finish_reason": None}]} for d in deltas
    ]
    events.append({**base, "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]})
    return events


class Upstream:
    """A threaded HTTPS server (on a free loopback port by default) presenting ``cert`` for
    every host."""

    def __init__(self, cert: Path, key: Path, address: tuple[str, int] = ("127.0.0.1", 0)) -> None:
        self.received = Received()
        handler = type("Handler", (_Handler,), {"received": self.received})
        self.server = ThreadingHTTPServer(address, handler)
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(cert, key)
        self.server.socket = context.wrap_socket(self.server.socket, server_side=True)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def __enter__(self) -> Upstream:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()
