"""``shadowlens report iso42001 [--format md|json|csv] [--since T] [--until T]``: the ISO/IEC
42001 evidence report, without the API running. It calls the same functions as the API."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime, timedelta

from shadowlens.proxy.cliargs import core_session, fail, iso_time
from shadowlens.proxy.reports import iso42001
from shadowlens.proxy.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report`` command."""
    report = sub.add_parser("report", help="compliance reports from the inventory")
    report_sub = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    iso = report_sub.add_parser(
        "iso42001",
        help="ISO/IEC 42001 evidence: inventory and risk register mapped to clauses and "
        "Annex A controls, with what needs attention (not a certification)",
    )
    iso.add_argument("--format", choices=("md", "json", "csv"), default="md")
    iso.add_argument("--since", type=iso_time, help="start (ISO 8601; default: 30 days ago)")
    iso.add_argument("--until", type=iso_time, help="end, exclusive (ISO 8601; default: now)")
    iso.set_defaults(func=cmd_report_iso42001)


def cmd_report_iso42001(args: argparse.Namespace, settings: Settings) -> int:
    """Print the ISO/IEC 42001 evidence report."""
    until = args.until or datetime.now(UTC)
    since = args.since or until - timedelta(days=30)
    if since >= until:
        return fail("--since must be before --until", 2)
    with core_session(settings, write=False) as (core, session):
        report = iso42001.report(session, since=since, until=until, catalog=core.catalog())
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    elif args.format == "csv":
        sys.stdout.write(iso42001.csv_text(report))
    else:
        sys.stdout.write(iso42001.markdown(report))
    return 0
