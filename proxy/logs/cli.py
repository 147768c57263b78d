"""``shadowlens logs scan``: discover AI use in the logs a team already keeps."""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from shadowlens.proxy.cliargs import iso_time
from shadowlens.proxy.dlp import config as dlp_config
from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.logs.chunks import ChunkWorker, excerpt
from shadowlens.proxy.logs.classify import LogClassifier
from shadowlens.proxy.logs.formats import CSV_FIELDS, FORMAT_NAMES
from shadowlens.proxy.logs.paths import PathMasker
from shadowlens.proxy.logs.scan import CHUNK_BYTES, LogScanner, ScanReport, ServiceTotal
from shadowlens.proxy.logs.state import ConcurrentScanError
from shadowlens.proxy.runtime import Core, PolicyRef, load_catalog_counted
from shadowlens.proxy.settings import Settings

TOP_USERS = 3


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``logs`` command and its ``scan`` subcommand."""
    logs = sub.add_parser("logs", help="discover AI use in proxy, Zeek, DNS and SWG logs")
    commands = logs.add_subparsers(dest="logs_command", required=True, metavar="COMMAND")
    scan = commands.add_parser(
        "scan",
        help="classify the requests in logs and add them to the inventory",
        description="Read each FILE (- is stdin; .gz and .zst are read as they are), classify "
        "every request as the proxy would, and add what is AI to the inventory. A log scanned "
        "before is read from where the last scan stopped.",
    )
    scan.add_argument("files", nargs="+", metavar="FILE", help="a log file, or - for stdin")
    scan.add_argument(
        "--format", choices=FORMAT_NAMES, help="the log format (default: detected per file)"
    )
    scan.add_argument(
        "--map",
        type=_mapping,
        metavar="FIELD=COLUMN,...",
        help=f"CSV columns by name; fields: {', '.join(CSV_FIELDS)}",
    )
    scan.add_argument("--json", action="store_true", help="print one JSON object at the end")
    scan.add_argument("--since", type=iso_time, help="count only requests at or after (ISO 8601)")
    scan.add_argument(
        "--workers", type=int, default=os.cpu_count() or 1, help="processes (default: cores)"
    )
    scan.set_defaults(func=scan_command)


def _mapping(text: str) -> dict[str, str]:
    mapping = {}
    for item in text.split(","):
        name, sep, column = item.partition("=")
        if not sep or name.strip() not in CSV_FIELDS or not column.strip():
            raise argparse.ArgumentTypeError(
                f"{item!r}: want FIELD=COLUMN with FIELD one of {', '.join(CSV_FIELDS)}"
            )
        mapping[name.strip()] = column.strip()
    return mapping


def scan_command(args: argparse.Namespace, settings: Settings) -> int:
    """Handler of ``logs scan``: 0 when every input was read, 1 when one could not be."""
    try:
        catalog = load_catalog_counted(settings.rules_dir)
        identities = PolicyRef(settings).resolver
    except RulesError as exc:
        print(f"shadowlens logs: {exc}", file=sys.stderr)
        return 2
    workers = max(1, args.workers) if _worth_forking(args.files) else 1
    core = Core.open(settings)
    paths = PathMasker(lambda: dlp_config.secret_scanner(settings), dlp_config.limits(settings))
    scanner = LogScanner(
        core, ChunkWorker(LogClassifier(catalog), identities), paths, workers=workers,
        fmt=args.format, mapping=args.map,
        since=args.since.timestamp() if args.since else None,
    )  # fmt: skip
    try:
        failed = _scan_all(scanner, args.files, quiet=args.json or not sys.stderr.isatty())
    finally:
        scanner.close()
        core.close()
    if args.json:
        print(json.dumps(as_json(scanner.report)))
    else:
        print_report(scanner.report)
    return 1 if failed else 0


def _worth_forking(files: list[str]) -> bool:
    """More than one chunk to read somewhere (stdin and compressed files may be large)."""
    for name in files:
        try:
            if (
                name == "-"
                or name.endswith((".gz", ".zst"))
                or Path(name).stat().st_size > CHUNK_BYTES
            ):
                return True
        except OSError:
            continue
    return False


def _scan_all(scanner: LogScanner, files: list[str], *, quiet: bool) -> bool:
    failed = False
    with _progress(quiet) as progress:
        for name in files:
            try:
                report = scanner.scan(name, progress=progress(name))
            except (OSError, ValueError, ConcurrentScanError) as exc:
                print(f"shadowlens logs: {name}: {exc}", file=sys.stderr)
                failed = True
                continue
            for number, text in report.bad:
                print(f"shadowlens logs: {name}:{number}: skipped: {text}", file=sys.stderr)
            if report.note:
                print(f"shadowlens logs: {name}: {report.note}", file=sys.stderr)
    return failed


@contextmanager
def _progress(quiet: bool) -> Iterator[Any]:
    """A rich progress bar per file on a terminal's stderr; nothing when piped."""
    if quiet:
        yield lambda name: None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TimeRemainingColumn

    with Progress(
        "{task.description}", BarColumn(), DownloadColumn(), TimeRemainingColumn(),
        console=Console(stderr=True), transient=True,
    ) as bar:  # fmt: skip

        def start(name: str) -> Callable[[int, int | None], None]:
            task = bar.add_task(name, total=None)

            def advance(done: int, total: int | None) -> None:
                bar.update(task, completed=done, total=total)

            return advance

        yield start


def _iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat().replace("+00:00", "Z")


def _services(report: ScanReport) -> list[tuple[str, ServiceTotal]]:
    return sorted(report.services.items(), key=lambda item: (-item[1].requests, item[0]))


def as_json(report: ScanReport) -> dict[str, Any]:
    """The ``--json`` object: totals, then one entry per service, most requests first."""
    return {
        "lines": report.total("lines"),
        "parsed": report.total("parsed"),
        "skipped": report.total("skipped"),
        "services": [
            {
                "service": service_id,
                "users": len(total.users),
                "requests": total.requests,
                "bytes_out": total.bytes_out,
                "first_seen": _iso(total.first),
                "last_seen": _iso(total.last),
            }
            for service_id, total in _services(report)
        ],
    }


def print_report(report: ScanReport) -> None:
    """A table of the services found, with their top users, on stdout."""
    from rich.console import Console
    from rich.markup import escape
    from rich.table import Table

    def cell(text: str) -> str:  # names come from the log: no markup, no control characters
        return escape(excerpt(text))

    table = Table(title="AI services in the logs")
    for column in ("service", "users", "requests", "bytes out", "bytes in", "top users"):
        table.add_column(column, justify="right" if column.startswith(("u", "r", "b")) else "left")
    for service_id, total in _services(report):
        top = sorted(total.users.items(), key=lambda item: (-item[1], item[0]))[:TOP_USERS]
        table.add_row(
            cell(f"{total.service.name} ({service_id})"), str(len(total.users)),
            str(total.requests), str(total.bytes_out), str(total.bytes_in),
            cell(", ".join(f"{user or '-'} ({n})" for user, n in top)),
        )  # fmt: skip
    console = Console()
    console.print(table)
    console.print(
        f"{report.total('lines')} lines, {report.total('parsed')} parsed, "
        f"{report.total('skipped')} skipped, in {len(report.files)} file(s)",
        markup=False,
    )
