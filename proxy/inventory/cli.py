"""``shadowlens report|services|token``: the register and its tokens, without the API running.

They call the same service functions as the API, so both give the same answers, and every
change is written to the audit log with the operating-system user as the actor.

shadowlens report iso42001 [--format md|json|csv] [--since T] [--until T]
shadowlens services list [--status S] [--category C] [--min-risk N] [--json]
shadowlens services set-status SERVICE STATUS [--justification TEXT]
shadowlens services set-owner SERVICE OWNER
shadowlens token create --name NAME --role viewer|analyst|admin
shadowlens token list
shadowlens token revoke TOKEN_ID
"""

from __future__ import annotations

import argparse
import getpass
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy.orm import Session

from proxy.catalog.risk import score_text
from proxy.inventory import governance, reports, tokens
from proxy.runtime import Core
from proxy.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``report``, ``services`` and ``token`` commands."""
    report = sub.add_parser("report", help="compliance reports from the inventory")
    report_sub = report.add_subparsers(dest="report_command", required=True, metavar="COMMAND")
    iso = report_sub.add_parser(
        "iso42001",
        help="ISO/IEC 42001 evidence: inventory and risk register mapped to clauses and "
        "Annex A controls, with what needs attention (not a certification)",
    )
    iso.add_argument("--format", choices=("md", "json", "csv"), default="md")
    iso.add_argument("--since", type=_time, help="start (ISO 8601; default: 30 days ago)")
    iso.add_argument("--until", type=_time, help="end, exclusive (ISO 8601; default: now)")
    iso.set_defaults(func=cmd_report_iso42001)

    services = sub.add_parser("services", help="list AI services seen and govern them")
    services_sub = services.add_subparsers(
        dest="services_command", required=True, metavar="COMMAND"
    )
    listing = services_sub.add_parser("list", help="services seen, most recently seen first")
    listing.add_argument("--status", choices=governance.STATUSES)
    listing.add_argument("--category")
    listing.add_argument("--min-risk", type=int, metavar="N")
    listing.add_argument("--json", action="store_true", help="one JSON object per line")
    listing.set_defaults(func=cmd_services_list)
    status = services_sub.add_parser("set-status", help="mark a service sanctioned, …")
    status.add_argument("service")
    status.add_argument("status", choices=governance.STATUSES)
    status.add_argument("--justification", help="the business justification")
    status.set_defaults(func=cmd_services_set_status)
    owner = services_sub.add_parser("set-owner", help="name a service's accountable owner")
    owner.add_argument("service")
    owner.add_argument("owner")
    owner.set_defaults(func=cmd_services_set_owner)

    token = sub.add_parser("token", help="API tokens with roles (stored hashed)")
    token_sub = token.add_subparsers(dest="token_command", required=True, metavar="COMMAND")
    create = token_sub.add_parser("create", help="make a token; its secret is printed once")
    create.add_argument("--name", required=True, help="who or what it is for")
    create.add_argument("--role", required=True, choices=tokens.ROLES)
    create.set_defaults(func=cmd_token_create)
    token_sub.add_parser("list", help="tokens, their roles and state").set_defaults(
        func=cmd_token_list
    )
    revoke = token_sub.add_parser("revoke", help="revoke a token at once")
    revoke.add_argument("token_id")
    revoke.set_defaults(func=cmd_token_revoke)


def _time(text: str) -> datetime:
    try:
        value = datetime.fromisoformat(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {text!r}") from exc
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _actor() -> str:
    return f"cli:{getpass.getuser()}"


@contextmanager
def _session(settings: Settings, *, write: bool) -> Iterator[tuple[Core, Session]]:
    core = Core.open(settings)
    try:
        if write:
            with core.sessions.begin() as session:
                yield core, session
        else:
            with core.sessions() as session:
                yield core, session
    finally:
        core.close()


def _fail(message: str, code: int = 1) -> int:
    print(f"shadowlens: {message}", file=sys.stderr)
    return code


def cmd_report_iso42001(args: argparse.Namespace, settings: Settings) -> int:
    """Print the ISO/IEC 42001 evidence report."""
    until = args.until or datetime.now(UTC)
    since = args.since or until - timedelta(days=30)
    if since >= until:
        return _fail("--since must be before --until", 2)
    with _session(settings, write=False) as (core, session):
        report = reports.iso42001(session, since=since, until=until, catalog=core.catalog())
    if args.format == "json":
        sys.stdout.write(json.dumps(report, indent=2) + "\n")
    elif args.format == "csv":
        sys.stdout.write(reports.iso42001_csv(report))
    else:
        sys.stdout.write(reports.iso42001_markdown(report))
    return 0


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def cmd_services_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print the register."""
    with _session(settings, write=False) as (core, session):
        records = governance.list_services(
            session,
            catalog=core.catalog(),
            status=args.status,
            category=args.category,
            min_risk=args.min_risk,
        )
    for r in records:
        if args.json:
            print(json.dumps({k: _plain(v) for k, v in asdict(r).items()}))
        else:
            print(
                f"{r.id}\t{r.status}\t{r.owner or '-'}\trisk={score_text(r.risk_score)}\t"
                f"users={r.users}\trequests={r.requests}\tlast_seen={_plain(r.last_seen)}"
            )
    return 0


def _update(settings: Settings, service: str, changes: dict[str, Any]) -> int:
    try:
        with _session(settings, write=True) as (core, session):
            record = governance.update_governance(
                session, service_id=service, changes=changes, actor=_actor(), catalog=core.catalog()
            )
    except LookupError as exc:
        return _fail(str(exc.args[0]))
    except ValueError as exc:
        return _fail(str(exc), 2)
    print(f"{record.id}: status={record.status} owner={record.owner or '-'}")
    return 0


def cmd_services_set_status(args: argparse.Namespace, settings: Settings) -> int:
    """Set a service's governance status (and justification)."""
    changes: dict[str, Any] = {"status": args.status}
    if args.justification is not None:
        changes["justification"] = args.justification
    return _update(settings, args.service, changes)


def cmd_services_set_owner(args: argparse.Namespace, settings: Settings) -> int:
    """Name a service's owner."""
    if not args.owner.strip():
        return _fail("the owner cannot be empty", 2)
    return _update(settings, args.service, {"owner": args.owner.strip()})


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a token and print its secret once."""
    try:
        with _session(settings, write=True) as (_, session):
            row, secret = tokens.create_token(
                session, name=args.name, role=args.role, actor=_actor()
            )
            token_id = row.id
    except ValueError as exc:
        return _fail(str(exc), 2)
    print(f"id: {token_id}\nrole: {args.role}\ntoken: {secret}")
    print("Keep the token now: only its hash is stored.", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    """List tokens (never their secrets)."""
    with _session(settings, write=False) as (_, session):
        rows = tokens.list_tokens(session)
    for row in rows:
        state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
        print(f"{row.id}\t{row.role}\t{row.name}\t{row.created_at.isoformat()}\t{state}")
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a token."""
    try:
        with _session(settings, write=True) as (_, session):
            tokens.revoke_token(session, token_id=args.token_id, actor=_actor())
    except LookupError as exc:
        return _fail(str(exc.args[0]))
    print(f"revoked {args.token_id}")
    return 0
