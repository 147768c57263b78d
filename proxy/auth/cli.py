"""``shadowlens token create|list|revoke``: API tokens with roles, stored hashed. Creating
and revoking are written to the audit log with the operating-system user as the actor.

shadowlens token create --name NAME --role viewer|analyst|admin
shadowlens token list
shadowlens token revoke TOKEN_ID
"""

from __future__ import annotations

import argparse
import sys

from shadowlens.proxy.auth import tokens
from shadowlens.proxy.cliargs import actor, core_session, fail
from shadowlens.proxy.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``token`` command."""
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


def cmd_token_create(args: argparse.Namespace, settings: Settings) -> int:
    """Create a token and print its secret once."""
    try:
        with core_session(settings, write=True) as (_, session):
            row, secret = tokens.create_token(
                session, name=args.name, role=args.role, actor=actor()
            )
            token_id = row.id
    except ValueError as exc:
        return fail(str(exc), 2)
    print(f"id: {token_id}\nrole: {args.role}\ntoken: {secret}")
    print("Keep the token now: only its hash is stored.", file=sys.stderr)
    return 0


def cmd_token_list(args: argparse.Namespace, settings: Settings) -> int:
    """List tokens (never their secrets)."""
    with core_session(settings, write=False) as (_, session):
        rows = tokens.list_tokens(session)
    for row in rows:
        state = f"revoked {row.revoked_at.isoformat()}" if row.revoked_at else "active"
        print(f"{row.id}\t{row.role}\t{row.name}\t{row.created_at.isoformat()}\t{state}")
    return 0


def cmd_token_revoke(args: argparse.Namespace, settings: Settings) -> int:
    """Revoke a token."""
    try:
        with core_session(settings, write=True) as (_, session):
            tokens.revoke_token(session, token_id=args.token_id, actor=actor())
    except LookupError as exc:
        return fail(str(exc.args[0]))
    print(f"revoked {args.token_id}")
    return 0
