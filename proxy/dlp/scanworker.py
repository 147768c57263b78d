"""The scan worker: a process of its own that inspects uploads for the proxy (``scanpool``).

Started as ``python -m shadowlens.proxy.dlp.scanworker`` with its stdin and stdout as pipes.
Every message either way is a frame: a 4-byte big-endian length, then a pickle. The first
frame in holds the :class:`~proxy.dlp.engine.ScannerRecipe` and the limits; the worker builds
its scanner and answers :data:`READY`. Each later frame in is one request,
``(ident, kind, payload, options)``, answered in order with ``(ident, report)``, the report
as plain values (:func:`report_values`): the proxy unpickles no class a worker names.

Pickles are read here only from our own pipe: the parent started this process and is the
only writer. The worker ignores SIGINT and SIGTERM, which a terminal or a container may send to
the whole process group: it stops when the proxy closes its stdin, after answering what it
was sent, so a graceful shutdown loses no scan.
"""

from __future__ import annotations

import logging
import os
import pickle
import signal
import struct
import sys
from collections.abc import Callable
from typing import IO, Any

from shadowlens.proxy.dlp.body import inspect_body, inspect_text
from shadowlens.proxy.dlp.model import BodyReport, DlpLimits, Finding

HEADER = struct.Struct(">I")
READY = "ready"
SCANS: dict[str, Callable[..., BodyReport]] = {"body": inspect_body, "text": inspect_text}


def frame(message: object) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return HEADER.pack(len(data)) + data


def read_frame(stream: IO[bytes]) -> Any:
    """The next message, or None at the end of the stream."""
    head = stream.read(HEADER.size)
    if len(head) < HEADER.size:
        return None
    size = HEADER.unpack(head)[0]
    data = stream.read(size)
    return pickle.loads(data) if len(data) == size else None  # noqa: S301 (our parent's pipe)


def report_values(report: BodyReport) -> tuple[object, ...]:
    """``report`` as builtins only, which :func:`report_from_values` takes back."""
    findings = [
        (f.detector, f.category, f.severity, f.start, f.end, f.preview, f.fingerprint, f.location)
        for f in report.findings
    ]
    return (findings, report.flags, report.complete, report.truncated, report.decoded_bytes,
            report.segments, report.media, report.conversation)  # fmt: skip


def report_from_values(values: tuple[Any, ...], limits: DlpLimits) -> BodyReport:
    findings, flags, complete, truncated, decoded, segments, media, conversation = values
    return BodyReport([Finding(*f) for f in findings], flags, complete, truncated, decoded,
                      segments, media, limits, conversation)  # fmt: skip


def serve(inbox: IO[bytes], outbox: IO[bytes]) -> None:
    """Build the scanner the first frame describes, then answer requests until the end."""
    recipe, limits = read_frame(inbox)
    scanner = recipe.build()
    outbox.write(frame(READY))
    outbox.flush()
    while (request := read_frame(inbox)) is not None:
        ident, kind, payload, options = request
        report = SCANS[kind](payload, scanner=scanner, limits=limits, **options)
        outbox.write(frame((ident, report_values(report))))
        outbox.flush()


def main() -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    # Frames own fd 1; anything a library prints goes to stderr instead of corrupting them.
    outbox = os.fdopen(os.dup(sys.stdout.fileno()), "wb")
    os.dup2(sys.stderr.fileno(), sys.stdout.fileno())
    logging.basicConfig(level=logging.INFO, format="shadowlens scan worker: %(message)s")
    serve(sys.stdin.buffer, outbox)


if __name__ == "__main__":
    main()
