"""``shadowlens services list|set-status|set-owner``: the AI register, without the API
running. It calls the same service functions as the API, and every change is written to the
audit log with the operating-system user as the actor.

shadowlens services list [--status S] [--category C] [--min-risk N] [--json]
shadowlens services set-status SERVICE STATUS [--justification TEXT]
shadowlens services set-owner SERVICE OWNER
"""

from __future__ import annotations

import argparse
import json
from dataclasses import asdict
from datetime import datetime
from typing import Any

from shadowlens.proxy.catalog.risk import score_text
from shadowlens.proxy.cliargs import actor, core_session, fail
from shadowlens.proxy.governance import register as governance
from shadowlens.proxy.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``services`` command."""
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


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, datetime) else value


def cmd_services_list(args: argparse.Namespace, settings: Settings) -> int:
    """Print the register."""
    with core_session(settings, write=False) as (core, session):
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
        with core_session(settings, write=True) as (core, session):
            record = governance.update_governance(
                session, service_id=service, changes=changes, actor=actor(), catalog=core.catalog()
            )
    except LookupError as exc:
        return fail(str(exc.args[0]))
    except ValueError as exc:
        return fail(str(exc), 2)
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
        return fail("the owner cannot be empty", 2)
    return _update(settings, args.service, {"owner": args.owner.strip()})
