"""``shadowlens policy lint`` and ``shadowlens policy test``."""

from __future__ import annotations

import argparse
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import parse_qsl, urlsplit

from sqlalchemy.exc import OperationalError

from shadowlens.proxy.catalog.classify import classify_request
from shadowlens.proxy.catalog.model import Service
from shadowlens.proxy.dlp import config as dlp_config
from shadowlens.proxy.dlp import inspect_body
from shadowlens.proxy.dlp.pseudonym import Pseudonyms
from shadowlens.proxy.dlp.urlpath import scan_path
from shadowlens.proxy.inspection import scan_query
from shadowlens.proxy.inventory import store
from shadowlens.proxy.policy.coaching import CoachGrants
from shadowlens.proxy.policy.decide import service_status
from shadowlens.proxy.policy.enforce import Inspected, RequestView, Verdict, enforce
from shadowlens.proxy.policy.model import Identity
from shadowlens.proxy.runtime import Core, PolicyRef, load_catalog_counted
from shadowlens.proxy.settings import Settings


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the ``policy`` command and its ``lint`` and ``test`` subcommands."""
    policy = sub.add_parser("policy", help="check the policy, or ask it about a request")
    commands = policy.add_subparsers(dest="policy_command", required=True, metavar="COMMAND")
    lint = commands.add_parser(
        "lint", help="validate the policy and identity files as the proxy would load them"
    )
    lint.set_defaults(func=lint_command)
    test = commands.add_parser(
        "test",
        help="print the decision and the rule for a user, a URL and an optional body",
        description="Classify URL, scan the body with DLP, resolve the user, and print what "
        "the policy decides and which rule decided it.",
    )
    test.add_argument("--user", required=True, help="user name (groups come from the map)")
    test.add_argument("--group", action="append", default=[], help="an extra group (repeatable)")
    test.add_argument("--ip", default="127.0.0.1", help="client address (default 127.0.0.1)")
    test.add_argument("--url", required=True, help="the request URL")
    test.add_argument("--method", default=None, type=str.upper, help="default: POST with a body")
    test.add_argument("--body", type=Path, metavar="FILE", help="a request body file")
    test.add_argument("--content-type", default="application/json", help="of the body")
    test.add_argument("--content-encoding", default="", help="of the body (gzip, br, …)")
    test.add_argument("--json", action="store_true", help="print JSON")
    test.set_defaults(func=test_command)


def lint_command(args: argparse.Namespace, settings: Settings) -> int:
    """Load the policy like the proxy does and summarise it."""
    ref = PolicyRef(settings)
    policy = ref.current
    print(
        f"policy ok: {len(policy.rules)} rules, {len(policy.exemptions)} exemptions, "
        f"{len(policy.tenant_restrictions)} tenant restrictions, "
        f"{len(policy.service_status)} services and {len(policy.category_status)} categories "
        f"with a status, dry_run={str(policy.dry_run).lower()}"
    )
    return 0


def test_command(args: argparse.Namespace, settings: Settings) -> int:
    """What would the proxy do with this request from this user? The proxy's own verdict."""
    ref = PolicyRef(settings)
    body = args.body.read_bytes() if args.body else b""
    method = args.method or ("POST" if body else "GET")
    headers = {"content-type": args.content_type} if body else {}
    if body and args.content_encoding:
        headers["content-encoding"] = args.content_encoding
    catalog = load_catalog_counted(settings.rules_dir)
    match = classify_request(catalog, args.url, method=method, headers=headers, body=body)
    if match is None:
        print(f"{args.url}: not an AI service; the proxy passes it through untouched")
        return 0
    resolved = ref.resolver.resolve(peer_ip=args.ip, headers={}, proxyauth_user=args.user)
    identity = Identity(resolved.user, resolved.groups | set(args.group), resolved.client_ip, "cli")
    request = _request(
        args.url, method, headers, body, held=len(body) <= settings.dlp_max_body_bytes
    )
    grants, ref.register = _inventory_state(settings, ref)
    verdict = enforce(
        ref.current,
        request=request,
        identity=identity,
        match=match,
        inspected=_inspected(settings, request),
        grants=grants,
        pseudonyms=Pseudonyms(b"policy-test", ttl=1),
        register=ref.register,
    )
    result = _result(match.service, identity, verdict, ref)
    print(json.dumps(result) if args.json else _describe(match.service, result))
    return 0


def _request(
    url: str, method: str, headers: dict[str, str], body: bytes, *, held: bool
) -> RequestView:
    parts = urlsplit(url)
    path = parts.path or "/"
    return RequestView(
        method=method,
        url=url,
        host=(parts.hostname or "").lower(),
        path=f"{path}?{parts.query}" if parts.query else path,
        headers=headers,
        body=body if held else None,  # the proxy streams what it cannot hold
        query=tuple(parse_qsl(parts.query, keep_blank_values=True)),
    )


def _inspected(settings: Settings, request: RequestView) -> Inspected:
    scanner, limits = dlp_config.scanner(settings), dlp_config.limits(settings)
    report = None
    if request.body:
        report = inspect_body(
            request.body,
            content_type=request.headers.get("content-type"),
            content_encoding=request.headers.get("content-encoding"),
            scanner=scanner,
            limits=limits,
        )
    query = scan_query(request.query, scanner=scanner, limits=limits)
    path = scan_path(request.path.partition("?")[0], scanner=scanner, limits=limits)
    return Inspected(report, query, path)


def _inventory_state(settings: Settings, ref: PolicyRef) -> tuple[CoachGrants, dict[str, str]]:
    """The coaching grants and register statuses in force, read from the inventory."""
    core = Core.open(settings, migrate=False)
    grants = core.coach_grants()
    try:
        core.ensure_schema()
        with core.sessions() as session:
            grants.merge(store.running_grants(session, now=datetime.now(UTC)))
        return grants, core.read_register(ref)
    except OperationalError as exc:
        print(
            f"warning: inventory unreadable ({exc.orig}); policy-file statuses, no grants",
            file=sys.stderr,
        )
        return grants, {}
    finally:
        core.close()


def _result(
    service: Service, identity: Identity, verdict: Verdict, ref: PolicyRef
) -> dict[str, object]:
    decision = verdict.decision
    return {
        "service": service.id,
        "status": service_status(ref.current, service, ref.register),
        "user": identity.user,
        "groups": sorted(identity.groups),
        "findings": [f"{c}/{s}" for c, s in verdict.findings],
        "action": decision.action,
        "rule": decision.rule_id,
        "reason": decision.reason,
        "enforced": decision.enforced,
        "answer": verdict.answer.status if verdict.answer else None,
        "rewritten": any(p is not None for p in (verdict.body, verdict.query, verdict.path)),
    }


def _describe(service: Service, result: dict[str, object]) -> str:
    dry = "" if result["enforced"] else " (dry run: recorded, not enforced)"
    findings = result["findings"]
    listed = ", ".join(findings) if isinstance(findings, list) else ""
    return (
        f"{service.name} ({result['service']}, {result['status']}) for {result['user']} "
        f"{result['groups']}: {result['action']}{dry}\n"
        f"  rule: {result['rule']}: {result['reason']}\n"
        f"  findings: {listed or 'none'}"
    )
