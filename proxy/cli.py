"""The ``shadowlens`` command.

The composition root: it wires the core to the mitmproxy addons and the API, importing
those adapters only inside the commands that run them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import json
import logging
import secrets
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from proxy.catalog import Match, load_shared_hosts
from proxy.catalog.classify import classify_request
from proxy.catalog.risk import risk_of
from proxy.dlp import cli as dlp_cli
from proxy.errors import RulesError
from proxy.inventory import cli as inventory_cli
from proxy.inventory.oidc import OidcConfigError
from proxy.logs import cli as logs_cli
from proxy.policy import cli as policy_cli
from proxy.runtime import Core, load_catalog_counted
from proxy.settings import Settings

if TYPE_CHECKING:
    from mitmproxy.master import Master

    from api.server import EmbeddedServer

Handler = Callable[[argparse.Namespace, Settings], int]

MITM_EPILOG = (
    "Any other flag goes to mitmproxy as it would to mitmdump, e.g. --mode upstream:URL, "
    "--set proxyauth=@/etc/htpasswd, --listen-port 3128; see --mitmproxy-help."
)


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the console script."""
    parser = build_parser()
    args, extra = parser.parse_known_args(argv)
    if extra and not getattr(args, "passthrough", False):
        parser.error(f"unrecognized arguments: {' '.join(extra)}")
    args.mitm_args = extra
    try:
        settings = Settings()
    except ValidationError as exc:
        print(f"shadowlens: bad setting: {exc}", file=sys.stderr)
        return 2
    handler: Handler = args.func
    try:
        return handler(args, settings)
    except RulesError as exc:
        print(f"shadowlens: rules error: {exc}", file=sys.stderr)
        return 2
    except OidcConfigError as exc:
        print(f"shadowlens: OIDC settings: {exc}", file=sys.stderr)
        return 2


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="shadowlens",
        description="Shadow-AI discovery proxy: find, record and control the AI services "
        "your network talks to. Settings come from SHADOWLENS_* variables (see README).",
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    _add_serving(sub)
    db = sub.add_parser("db", help="database schema management")
    db_sub = db.add_subparsers(dest="db_command", required=True, metavar="COMMAND")
    upgrade = db_sub.add_parser("upgrade", help="apply Alembic migrations up to the newest")
    upgrade.set_defaults(func=cmd_db_upgrade)
    ca = sub.add_parser("ca", help="print the CA certificate clients must trust, and how")
    ca.set_defaults(func=cmd_ca)
    _add_classify(sub)
    dlp_cli.register(sub)
    inventory_cli.register(sub)
    policy_cli.register(sub)
    logs_cli.register(sub)
    rules = sub.add_parser("rules", help="check the rules files")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    lint = rules_sub.add_parser(
        "lint", help="validate every rules file against its JSON Schema and for duplicates"
    )
    lint.set_defaults(func=cmd_rules_lint)
    return parser


def _add_classify(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    classify = sub.add_parser(
        "classify",
        help="classify hosts or URLs against the service catalog",
        description="Classify each TARGET (a host or URL; - reads one per line from stdin) "
        "and print the evidence the proxy would record.",
    )
    classify.add_argument("--json", action="store_true", help="one JSON object per line")
    classify.add_argument("--method", default="GET", type=str.upper, help="request method")
    classify.add_argument(
        "--header",
        action="append",
        default=[],
        metavar="'NAME: VALUE'",
        help="a request header (repeatable)",
    )
    classify.add_argument("--body", type=Path, metavar="FILE", help="a request body file")
    classify.add_argument("targets", nargs="+", metavar="TARGET", help="host, URL, or - for stdin")
    classify.set_defaults(func=cmd_classify)


def _add_serving(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    commands = (
        ("run", "proxy, API and metrics together (SQLite default)", cmd_run, MITM_EPILOG),
        (
            "proxy",
            "the proxy alone, with /metrics on SHADOWLENS_METRICS_PORT",
            cmd_proxy,
            MITM_EPILOG,
        ),
        ("api", "the API alone", cmd_api, None),
    )
    for name, help_text, func, epilog in commands:
        command = sub.add_parser(name, help=help_text, description=help_text, epilog=epilog)
        command.set_defaults(func=func, passthrough=epilog is not None)
        if epilog is not None:
            command.add_argument(
                "--mitmproxy-help", action="store_true", help="list mitmproxy's own flags"
            )


# -- serving -------------------------------------------------------------------------------


def cmd_run(args: argparse.Namespace, settings: Settings) -> int:
    """Serve proxy and API in one process."""
    return _serve(args, settings, proxy=True, api=True)


def cmd_proxy(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the proxy alone."""
    return _serve(args, settings, proxy=True, api=False)


def cmd_api(args: argparse.Namespace, settings: Settings) -> int:
    """Serve the API alone."""
    return _serve(args, settings, proxy=False, api=True)


def _serve(args: argparse.Namespace, settings: Settings, *, proxy: bool, api: bool) -> int:
    if getattr(args, "mitmproxy_help", False):
        from mitmproxy import options
        from mitmproxy.tools import cmdline

        cmdline.mitmdump(options.Options()).print_help()
        return 0
    if not proxy:  # with the proxy, mitmproxy's own log handler prints our records too
        logging.basicConfig(
            level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
        )
    core = Core.open(settings, serving=True)
    try:
        asyncio.run(_serve_async(core, args.mitm_args, proxy=proxy, api=api))
    finally:
        core.close()
    return 0


async def _serve_async(core: Core, mitm_args: Sequence[str], *, proxy: bool, api: bool) -> None:
    master = _start_proxy(core, mitm_args) if proxy else None
    server = _start_api(core) if api else None
    if server is None:
        _start_metrics(core.settings)
    stoppers = [s for s in (master and master.shutdown, server and _stopper(server)) if s]
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, lambda: [stop() for stop in stoppers])
    tasks = [asyncio.create_task(c) for c in _runners(master, server)]
    if server is not None:
        for host, port in await server.wait_started():
            print(f"shadowlens: API listening on http://{host}:{port}", flush=True)
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for stop in stoppers:  # one part ended (or failed): stop the other too
        stop()
    await asyncio.gather(*tasks)


def _runners(master: Master | None, server: EmbeddedServer | None) -> Iterator[Any]:
    if master is not None:
        yield master.run()
    if server is not None:
        yield server.serve()


def _stopper(server: EmbeddedServer) -> Callable[[], None]:
    def stop() -> None:
        server.should_exit = True

    return stop


def _start_proxy(core: Core, mitm_args: Sequence[str]) -> Master:
    from addons.launcher import build_master

    return build_master(core, mitm_args)


def _start_api(core: Core) -> EmbeddedServer:
    from api.app import create_app
    from api.server import build_server

    tokens = core.settings.token_set
    if not tokens:
        token = secrets.token_urlsafe(32)
        tokens = frozenset({token})
        print(
            f"shadowlens: no SHADOWLENS_API_TOKENS set; this run's API token is {token}",
            flush=True,
        )
    from proxy.inventory.oidc import verifier_from_settings

    app = create_app(
        sessions=core.sessions,
        tokens=tokens,
        catalog=core.catalog(),
        oidc=verifier_from_settings(core.settings),
        policy_file=core.settings.policy_file,
    )
    return build_server(app, host=core.settings.api_host, port=core.settings.api_port)


def _start_metrics(settings: Settings) -> None:
    if settings.metrics_port == 0:
        return
    from prometheus_client import start_http_server

    server, _ = start_http_server(settings.metrics_port, addr=settings.api_host)
    port = server.server_port
    print(f"shadowlens: metrics on http://{settings.api_host}:{port}/metrics", flush=True)


# -- administration ------------------------------------------------------------------------


def cmd_db_upgrade(args: argparse.Namespace, settings: Settings) -> int:
    """Apply migrations."""
    core = Core.open(settings, migrate=True)
    core.close()
    print(f"shadowlens: database at {_display_url(settings)} is up to date")
    return 0


def _display_url(settings: Settings) -> str:
    from sqlalchemy.engine import make_url

    return make_url(settings.effective_database_url).render_as_string(hide_password=True)


def cmd_ca(args: argparse.Namespace, settings: Settings) -> int:
    """Print the CA path and how to trust it."""
    from addons.launcher import ensure_ca

    path = ensure_ca(settings.confdir)
    print(
        f"{path}\n\n"
        "Clients must trust this CA for shadowlens to see HTTPS traffic:\n"
        f"  Debian/Ubuntu:  cp {path} /usr/local/share/ca-certificates/shadowlens.crt"
        " && update-ca-certificates\n"
        f"  Python, curl:   export SSL_CERT_FILE={path}   (or curl --cacert {path})\n"
        f"  Node.js:        export NODE_EXTRA_CA_CERTS={path}\n"
        "  Browsers:       import it as a trusted authority (or via your MDM / group policy)."
    )
    return 0


# -- classification ------------------------------------------------------------------------


def cmd_classify(args: argparse.Namespace, settings: Settings) -> int:
    """Classify each target and print one line per target."""
    catalog = load_catalog_counted(settings.rules_dir)
    headers = dict(_parse_header(h) for h in args.header)
    body = args.body.read_bytes() if args.body else b""
    out = sys.stdout
    for target in _expand_targets(args.targets):
        match = classify_request(catalog, target, method=args.method, headers=headers, body=body)
        result = describe(target, match)
        if args.json:
            out.write(json.dumps(result) + "\n")
        else:
            out.write(f"{target}\t{result['service'] or '-'}\t{result['evidence'] or ''}\n")
    out.flush()
    return 0


def _parse_header(text: str) -> tuple[str, str]:
    name, sep, value = text.partition(":")
    if not sep or not name.strip():
        raise SystemExit(f"shadowlens: --header wants 'Name: value', not {text!r}")
    return name.strip().lower(), value.strip()


def _expand_targets(targets: Iterable[str]) -> Iterator[str]:
    for target in targets:
        if target == "-":
            yield from (line.strip() for line in sys.stdin if line.strip())
        else:
            yield target


def describe(target: str, match: Match | None) -> dict[str, Any]:
    """The classification of ``target`` as ``classify --json`` prints it."""
    if match is None:
        keys = ("service", "name", "category", "evidence", "matched", "confidence")
        return {"target": target, **dict.fromkeys(keys)}
    service = match.service
    risk = risk_of(service)
    return {
        "target": target,
        "service": service.id,
        "name": service.name,
        "category": service.category,
        "evidence": match.evidence,
        "matched": match.matched,
        "confidence": match.confidence,
        "signals": list(match.signals),
        "client": match.client,
        "model": match.model,
        "account": match.account,
        "risk": {"score": risk.score, "factors": [dataclasses.asdict(f) for f in risk.factors]},
    }


def cmd_rules_lint(args: argparse.Namespace, settings: Settings) -> int:
    """Load every rules file the way the proxy does, and say what is in them."""
    catalog = load_catalog_counted(settings.rules_dir)
    shared = load_shared_hosts(settings.rules_dir)
    services = catalog.services.values()
    print(
        f"rules ok: {len(catalog)} services "
        f"({sum(len(s.domains) for s in services)} domains, "
        f"{sum(len(s.host_patterns) for s in services)} host patterns, "
        f"{sum(len(s.signatures) for s in services)} request signatures), "
        f"{len(catalog.clients)} clients, {len(shared)} shared hosts"
    )
    return 0
