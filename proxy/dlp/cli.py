"""``shadowlens dlp``: scan or redact files and stdin with the configured detectors.

shadowlens dlp scan FILE|-            findings, one per line (exit 1 when any)
shadowlens dlp scan --jsonl FILE|-    lines {"id", "text"} in, {"id", "findings"} out
shadowlens dlp redact FILE|-          the input with every finding masked, on stdout
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import IO

from shadowlens.proxy.dlp import config
from shadowlens.proxy.dlp.body import RedactionError, inspect_body, redact_body
from shadowlens.proxy.dlp.engine import Scanner
from shadowlens.proxy.dlp.model import BodyReport
from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.settings import Settings

_TYPES = {
    ".json": "application/json",
    ".ipynb": "application/json",
    ".jsonl": "text/plain",
    ".txt": "text/plain",
    ".md": "text/markdown",
    ".csv": "text/csv",
}


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``dlp`` command and its ``scan`` and ``redact`` subcommands."""
    dlp = subparsers.add_parser("dlp", help="find or mask secrets, personal data and code")
    sub = dlp.add_subparsers(dest="dlp_command", required=True, metavar="{scan,redact}")

    scan = sub.add_parser("scan", help="print the findings in a file or stdin")
    scan.add_argument("file", help="file to scan, or - for stdin")
    scan.add_argument(
        "--jsonl",
        action="store_true",
        help='read lines {"id", "text"} and write {"id", "findings"} per line (evaluation)',
    )
    _body_options(scan)
    scan.set_defaults(func=scan_command)

    redact = sub.add_parser("redact", help="print a file or stdin with findings masked")
    redact.add_argument("file", help="file to redact, or - for stdin")
    _body_options(redact)
    redact.set_defaults(func=redact_command)


def _body_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--content-type",
        default=None,
        help="how to decode the input (default: from the file name; stdin is text, or JSON "
        "when it starts with { or [)",
    )
    parser.add_argument(
        "--content-encoding", default=None, help="gzip, deflate, br or zstd if compressed"
    )


def _read(name: str) -> bytes:
    if name == "-":
        return sys.stdin.buffer.read()
    return Path(name).read_bytes()


def _content_type(args: argparse.Namespace, data: bytes) -> str:
    if args.content_type:
        return str(args.content_type)
    if args.file != "-":
        return _TYPES.get(Path(args.file).suffix.lower(), "text/plain")
    return "application/json" if data.lstrip()[:1] in (b"{", b"[") else "text/plain"


def _load(args: argparse.Namespace, settings: Settings) -> tuple[Scanner, bytes] | None:
    """The scanner and the input; None (and the reason on stderr) when either fails."""
    try:
        return config.scanner(settings), _read(args.file)
    except (RulesError, OSError, ValueError) as exc:
        print(f"shadowlens dlp: {exc}", file=sys.stderr)
        return None


def _inspect(
    args: argparse.Namespace, settings: Settings, scanner: Scanner, data: bytes
) -> BodyReport:
    return inspect_body(
        data,
        content_type=_content_type(args, data),
        content_encoding=args.content_encoding,
        scanner=scanner,
        limits=config.limits(settings),
    )


def scan_command(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of ``dlp scan``: 0 no findings, 1 findings, 2 error."""
    out: IO[str] = sys.stdout
    if (loaded := _load(args, settings)) is None:
        return 2
    scanner, data = loaded
    if args.jsonl:
        return _scan_jsonl(data, scanner, out)
    report = _inspect(args, settings, scanner, data)
    for f in report.findings:
        print(
            f"{f.location or '-'}\t{f.start}-{f.end}\t{f.severity}\t{f.category}\t"
            f"{f.detector}\t{f.preview}",
            file=out,
        )
    for flag in report.flags:
        print(f"note: {flag}", file=sys.stderr)
    print(f"{len(report.findings)} finding(s), engine {scanner.engine_name}", file=sys.stderr)
    return 1 if report.findings else 0


def _scan_jsonl(data: bytes, scanner: Scanner, out: IO[str]) -> int:
    errors = 0
    for number, line in enumerate(data.decode("utf-8", "replace").splitlines(), 1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
            ident, text = item["id"], item["text"]
            if not isinstance(text, str):
                raise TypeError("text must be a string")
        except (ValueError, KeyError, TypeError) as exc:
            errors += 1
            print(f"shadowlens dlp: line {number}: {exc}", file=sys.stderr)
            continue
        findings = [
            {
                "detector": f.detector,
                "category": f.category,
                "start": f.start,
                "end": f.end,
                "preview": f.preview,
            }
            for f in scanner.scan(text)
        ]
        out.write(json.dumps({"id": ident, "findings": findings}) + "\n")
    return 2 if errors else 0


def redact_command(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of ``dlp redact``: writes the masked input to stdout; 2 on error."""
    if (loaded := _load(args, settings)) is None:
        return 2
    scanner, data = loaded
    report = _inspect(args, settings, scanner, data)
    try:
        new, _ = redact_body(
            data,
            content_type=_content_type(args, data),
            content_encoding=args.content_encoding,
            report=report,
        )
    except RedactionError as exc:
        print(f"shadowlens dlp: {exc}", file=sys.stderr)
        return 2
    sys.stdout.buffer.write(new)
    sys.stdout.buffer.flush()
    return 0
