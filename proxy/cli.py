"""The ``shadowlens`` command.

The composition root: it wires the core to the mitmproxy addons and the API, importing
those adapters only inside the commands that run them.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import itertools
import json
import logging
import os
import signal
import sys
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from pydantic import ValidationError

from shadowlens.proxy import metricslabels
from shadowlens.proxy.alerts.rules import load_alert_rules
from shadowlens.proxy.auth import cli as auth_cli
from shadowlens.proxy.auth.oidc import OidcConfigError
from shadowlens.proxy.ca import CaImportError, import_ca
from shadowlens.proxy.catalog import Match, load_shared_hosts
from shadowlens.proxy.catalog.classify import classify_request
from shadowlens.proxy.catalog.risk import risk_of
from shadowlens.proxy.catalog.stats import catalog_stats
from shadowlens.proxy.dlp import cli as dlp_cli
from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.exposure import OpenProxyError, is_loopback
from shadowlens.proxy.governance import cli as governance_cli
from shadowlens.proxy.keys import configured_or_kept
from shadowlens.proxy.logs import cli as logs_cli
from shadowlens.proxy.pac import render_pac, split_domains, split_nodes
from shadowlens.proxy.policy import cli as policy_cli
from shadowlens.proxy.policy import load_policy
from shadowlens.proxy.reports import cli as reports_cli
from shadowlens.proxy.runtime import Core, load_catalog_counted
from shadowlens.proxy.settings import Settings

if TYPE_CHECKING:
    from mitmproxy.master import Master

    from shadowlens.api.server import EmbeddedServer

Handler = Callable[[argparse.Namespace, Settings], int]

API_TOKEN_FILE = "api-token"  # noqa: S105  (a file name) the token made when none is set, 0600

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
        code = handler(args, settings)
        sys.stdout.flush()  # a reader that went away shows here, not in a traceback at exit
        return code
    except BrokenPipeError:
        return _reader_gone()
    except RulesError as exc:
        print(f"shadowlens: rules error: {exc}", file=sys.stderr)
        return 2
    except OidcConfigError as exc:
        print(f"shadowlens: OIDC settings: {exc}", file=sys.stderr)
        return 2
    except OpenProxyError as exc:
        print(f"shadowlens: refusing to start: {exc}", file=sys.stderr)
        return 2


def _reader_gone() -> int:
    """``shadowlens ca | head -1``: the reader took what it wanted, which is no error."""
    # Point stdout at /dev/null, so the interpreter's last flush has nowhere to fail.
    os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0


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
    ca = sub.add_parser(
        "ca",
        help="print the CA certificate clients must trust, and how; or import your own CA",
        description="Print the CA certificate clients must trust. With --import-key and "
        "--import-cert, install an organisation's CA (key and certificate or chain in PEM) "
        "after checking it: CA:TRUE, keyCertSign, key only readable by its owner, 30 days left.",
    )
    ca.add_argument("--import-key", type=Path, metavar="KEY.pem", help="the CA's private key")
    ca.add_argument(
        "--import-cert", type=Path, metavar="CERT.pem", help="its certificate, or chain, first"
    )
    ca.add_argument("--replace", action="store_true", help="replace a CA already there")
    ca.set_defaults(func=cmd_ca)
    _add_classify(sub)
    dlp_cli.register(sub)
    reports_cli.register(sub)
    governance_cli.register(sub)
    auth_cli.register(sub)
    policy_cli.register(sub)
    logs_cli.register(sub)
    rules = sub.add_parser("rules", help="check the rules files")
    rules_sub = rules.add_subparsers(dest="rules_command", required=True, metavar="COMMAND")
    lint = rules_sub.add_parser(
        "lint", help="validate every rules file against its JSON Schema and for duplicates"
    )
    lint.add_argument(
        "--stats", action="store_true", help="also print the catalog's counts by category, family"
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
        _initialise_metrics(core, proxy=proxy)
        asyncio.run(_serve_async(core, args.mitm_args, proxy=proxy, api=api))
    finally:
        core.close()
    return 0


def _initialise_metrics(core: Core, *, proxy: bool) -> None:
    """Zero every known label set; tenant restrictions only where a proxy applies them."""
    services = core.catalog().services.values()
    policy = load_policy(core.settings.policy_file) if proxy else None
    metricslabels.initialise(
        services=[(service.id, service.category) for service in services],
        restrictions=[r.id for r in policy.tenant_restrictions] if policy else [],
    )


async def _serve_async(core: Core, mitm_args: Sequence[str], *, proxy: bool, api: bool) -> None:
    master = _start_proxy(core, mitm_args) if proxy else None
    server = _start_api(core) if api else None
    if server is None:
        _start_metrics(core.settings)
    stoppers = [s for s in (master and _proxy_stopper(master), server and _stopper(server)) if s]
    signals = itertools.count(1)

    def on_signal() -> None:  # the first signal stops gracefully, a second at once
        at_once = next(signals) > 1
        for stop in stoppers:
            stop(at_once)

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, on_signal)
    tasks = [asyncio.create_task(c) for c in _runners(master, server)]
    if server is not None:
        for host, port in await server.wait_started():
            print(f"shadowlens: API listening on http://{host}:{port}", flush=True)
    await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    for stop in stoppers:  # one part ended (or failed): stop the other too
        stop(False)
    await asyncio.gather(*tasks)


def _runners(master: Master | None, server: EmbeddedServer | None) -> Iterator[Any]:
    if master is not None:
        yield master.run()
    if server is not None:
        yield server.serve()


def _stopper(server: EmbeddedServer) -> Callable[[bool], None]:
    def stop(at_once: bool) -> None:
        server.should_exit = True
        server.force_exit = server.force_exit or at_once

    return stop


def _proxy_stopper(master: Master) -> Callable[[bool], None]:
    """Stops the proxy: first by letting the flows in flight finish (``Recorder.stop``)."""
    from shadowlens.addons.launcher import recorder_of

    draining: list[asyncio.Task[None]] = []

    def stop(at_once: bool) -> None:
        if at_once:
            master.shutdown()
        elif not draining:
            draining.append(asyncio.create_task(recorder_of(master).stop()))

    return stop


def _start_proxy(core: Core, mitm_args: Sequence[str]) -> Master:
    from shadowlens.addons.launcher import build_master

    return build_master(core, mitm_args)


def _start_api(core: Core) -> EmbeddedServer:
    from shadowlens.api.app import create_app
    from shadowlens.api.server import build_server

    settings = core.settings
    tokens = settings.token_set
    if not tokens:
        path = settings.data_dir / API_TOKEN_FILE
        tokens = frozenset({configured_or_kept("", path).hex()})
        print(f"shadowlens: no SHADOWLENS_API_TOKENS set; the API token is in {path}", flush=True)
    if not is_loopback(settings.api_host):
        print(
            f"shadowlens: the API listens on {settings.api_host or 'every address'}; "
            "every /api route still requires a bearer token",
            flush=True,
        )
    from shadowlens.proxy.auth.oidc import verifier_from_settings

    app = create_app(
        sessions=core.sessions,
        tokens=tokens,
        catalog=core.catalog(),
        oidc=verifier_from_settings(settings),
        policy_file=settings.policy_file,
        pac=_pac(settings),
    )
    return build_server(app, host=settings.api_host, port=settings.api_port)


def _pac(settings: Settings) -> str | None:
    """The /proxy.pac file, when the settings name the proxy nodes."""
    if not settings.pac_proxies:
        return None
    nodes, bypass = split_nodes(settings.pac_proxies), split_domains(settings.pac_bypass_domains)
    return render_pac(proxies=nodes, bypass=bypass)


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
    from shadowlens.addons.launcher import ensure_ca

    if args.import_key or args.import_cert:
        if not (args.import_key and args.import_cert):
            print("shadowlens: --import-key and --import-cert go together", file=sys.stderr)
            return 2
        try:
            import_ca(
                settings.confdir,
                key_file=args.import_key,
                cert_file=args.import_cert,
                replace=args.replace,
            )
        except (CaImportError, OSError) as exc:
            print(f"shadowlens: CA not imported: {exc}", file=sys.stderr)
            return 2
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
        "risk": {
            "score": risk.score,
            "assessed": risk.assessed,
            "factors": [dataclasses.asdict(f) for f in risk.factors],
            "unknown": list(risk.unknown),
        },
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
    alerts = load_alert_rules(settings.alerts_file)
    print(f"alert rules ok: {len(alerts.rules)} rules, {len(alerts.webhooks)} webhooks")
    if args.stats:
        _print_stats(catalog_stats(catalog))
    return 0


def _print_stats(stats: dict[str, Any]) -> None:
    for key, value in stats.items():
        if isinstance(value, dict):
            print(f"{key}:")
            for name, count in value.items():
                print(f"  {name}\t{count}")
        else:
            print(f"{key}\t{value}")
