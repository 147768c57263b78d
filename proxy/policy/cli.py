"""``shadowlens policy lint`` and ``shadowlens policy test``."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from proxy.catalog.classify import classify_request
from proxy.catalog.model import Service
from proxy.dlp import config as dlp_config
from proxy.dlp import inspect_body
from proxy.policy.decide import Upload, decide, service_status
from proxy.policy.model import Identity
from proxy.runtime import PolicyRef, load_catalog_counted
from proxy.settings import Settings


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
    """What would the proxy do with this request from this user?"""
    ref = PolicyRef(settings)
    body = args.body.read_bytes() if args.body else b""
    method = args.method or ("POST" if body else "GET")
    headers = {"content-type": args.content_type} if body else {}
    catalog = load_catalog_counted(settings.rules_dir)
    match = classify_request(catalog, args.url, method=method, headers=headers, body=body)
    if match is None:
        print(f"{args.url}: not an AI service; the proxy passes it through untouched")
        return 0
    resolved = ref.resolver.resolve(peer_ip=args.ip, headers={}, proxyauth_user=args.user)
    identity = Identity(resolved.user, resolved.groups | set(args.group), resolved.client_ip, "cli")
    upload = _upload(settings, body, args.content_type)
    decision = decide(ref.current, identity=identity, service=match.service, upload=upload)
    result = {
        "service": match.service.id,
        "status": service_status(ref.current, match.service),
        "user": identity.user,
        "groups": sorted(identity.groups),
        "findings": [f"{c}/{s}" for c, s in upload.findings],
        "action": decision.action,
        "rule": decision.rule_id,
        "reason": decision.reason,
        "enforced": decision.enforced,
    }
    if args.json:
        print(json.dumps(result))
    else:
        print(_describe(match.service, result))
    return 0


def _upload(settings: Settings, body: bytes, content_type: str) -> Upload:
    if not body:
        return Upload()
    report = inspect_body(
        body,
        content_type=content_type,
        content_encoding=None,
        scanner=dlp_config.scanner(settings),
        limits=dlp_config.limits(settings),
    )
    return Upload([(f.category, f.severity) for f in report.findings], failed=not report.complete)


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
