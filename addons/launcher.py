"""Builds a mitmproxy master with the shadowlens addons and mitmdump's own command line."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from mitmproxy import certs, options
from mitmproxy.master import Master
from mitmproxy.proxy.mode_specs import ProxyMode
from mitmproxy.tools import cmdline
from mitmproxy.tools.dump import DumpMaster
from mitmproxy.tools.main import process_options
from sqlalchemy.exc import OperationalError

from shadowlens.addons.altsvc import AltSvcStripper
from shadowlens.addons.announcer import Announcer
from shadowlens.addons.backgroundtasks import BackgroundTasks
from shadowlens.addons.bundle import Bundle
from shadowlens.addons.clientallowlist import ClientAllowList
from shadowlens.addons.coachform import CoachForm
from shadowlens.addons.discovery import Discovery
from shadowlens.addons.enforcement import Enforcement
from shadowlens.addons.heapfreezer import HeapFreezer
from shadowlens.addons.inspection import Inspection
from shadowlens.addons.ldapgroups import LdapGroups
from shadowlens.addons.messagetrimmer import MessageTrimmer
from shadowlens.addons.recorder import Recorder
from shadowlens.addons.restoration import Restoration
from shadowlens.addons.rulesreloader import RulesReloader
from shadowlens.addons.sinkdelivery import SinkDelivery
from shadowlens.addons.stageclock import StageClock
from shadowlens.addons.tenantrestriction import TenantRestriction
from shadowlens.addons.tlsdiscovery import TlsDiscovery
from shadowlens.proxy.alerts.engine import AlertMatcher
from shadowlens.proxy.alerts.rules import load_alert_rules
from shadowlens.proxy.catalog import load_catalog
from shadowlens.proxy.dlp import Scanner
from shadowlens.proxy.dlp import config as dlp_config
from shadowlens.proxy.dlp.engine import ScannerRecipe
from shadowlens.proxy.dlp.scanpool import ScanPool
from shadowlens.proxy.exposure import refuse_open_relay
from shadowlens.proxy.filemodes import private_dir
from shadowlens.proxy.reload import RulesWatcher
from shadowlens.proxy.runtime import CatalogRef, Core, PolicyRef, policy_status
from shadowlens.proxy.settings import Settings

log = logging.getLogger(__name__)

# mitmproxy's own names, so `shadowlens ca` and the proxy agree on one CA.
CA_BASENAME = "mitmproxy"
KEY_SIZE = 2048


def shadowlens_addons(core: Core) -> list[object]:
    """Our addons, in hook order, sharing one catalog and one writer, in two chain entries."""
    settings = core.settings
    rules = settings.rules_dir
    catalog = CatalogRef(core.catalog())
    recipe = dlp_config.recipe(settings)
    limits = dlp_config.limits(settings)
    pool = ScanPool(recipe, limits, count=settings.dlp_workers, timeout=settings.dlp_worker_timeout)
    inspection = Inspection(recipe.build(), limits, pool=pool)
    policy = PolicyRef(settings)
    policy.register = _register_at_start(core, policy)
    matcher = AlertMatcher(
        load_alert_rules(settings.alerts_file), status_of=policy_status(policy, catalog)
    )
    hub = core.sink_hub(matcher)
    writer = core.writer(hub)
    grants = core.coach_grants()
    pseudonyms = core.pseudonyms()
    live: set[str] = set()  # flows in flight, for the graceful shutdown
    watchers: list[RulesWatcher[Any]] = [
        RulesWatcher(
            [rules / "services", rules / "shared_hosts.yaml", rules / "clients.yaml"],
            kind="services",
            load=lambda: load_catalog(rules),
            apply=lambda new: setattr(catalog, "current", new),
        ),
        RulesWatcher(
            [rules / "dlp"],
            kind="dlp",
            load=lambda: _built(dlp_config.recipe(settings)),
            apply=inspection.renew,
        ),
        RulesWatcher(
            [settings.policy_file, settings.identity_file],
            kind="policy",
            load=policy.load,
            apply=policy.apply,
        ),
        RulesWatcher(
            [settings.alerts_file],
            kind="alerts",
            load=lambda: load_alert_rules(settings.alerts_file),
            apply=lambda new: setattr(matcher, "rules", new),
        ),
    ]
    observers = [
        ClientAllowList(settings.allowed_client_networks),
        Recorder(writer, live=live, grace=settings.shutdown_grace_seconds),
        SinkDelivery(hub),
        RulesReloader(watchers, interval=settings.rules_reload_seconds),
        TenantRestriction(policy),  # the first request hook: nothing above it can fail
        TlsDiscovery(
            catalog,
            policy,
            writer,
            no_decrypt=settings.no_decrypt_set,
            learn_seconds=settings.passthrough_learn_seconds,
            decrypt=settings.decrypt,
        ),
        StageClock(),
        Discovery(catalog, writer, max_body=settings.dlp_max_body_bytes, live=live),
        StageClock("classify"),
        *([AltSvcStripper()] if settings.strip_alt_svc else []),
        inspection,
        StageClock("inspect"),
        *_ldap_groups(settings),
        CoachForm(policy, writer, grants),
        Restoration(pseudonyms),
    ]
    lifecycle = [  # hooks at start and stop only; HeapFreezer's ``running`` comes last
        BackgroundTasks(
            [
                core.retention(),
                core.grant_sync(grants),
                core.register_sync(policy),
                core.alert_check(matcher),
            ]
        ),
        Announcer(),
        HeapFreezer(),
    ]
    return [
        Bundle("shadowlens", [*observers, *lifecycle]),
        # An entry of its own: it decides even when an addon above failed on this flow.
        # Its clock reports the flow's stages, so it must come after every other stage.
        Bundle(
            "shadowlens-policy",
            [
                Enforcement(
                    policy, writer, grants, pseudonyms, max_body=settings.dlp_max_body_bytes
                ),
                StageClock("policy", reports=True),
                MessageTrimmer(),  # after every addon that reads a WebSocket message
            ],
        ),
    ]


def _built(recipe: ScannerRecipe) -> tuple[ScannerRecipe, Scanner]:
    return recipe, recipe.build()


def _register_at_start(core: Core, policy: PolicyRef) -> dict[str, str]:
    """The register's statuses before the first flow; the policy file's alone while the
    database is away (the sync task reads the register as soon as it answers)."""
    try:
        return core.read_register(policy)
    except OperationalError as exc:
        log.warning("register unreadable at start; policy-file statuses apply: %s", exc.orig)
        return {}


def _ldap_groups(settings: Settings) -> list[object]:
    """The LDAP group lookup, only when configured: its hooks would run for every flow."""
    if not settings.ldap_group_base:
        return []
    return [
        LdapGroups(
            group_base=settings.ldap_group_base,
            group_filter=settings.ldap_group_filter,
            ttl=settings.ldap_group_cache_seconds,
        ),
        StageClock("directory"),
    ]


def build_master(core: Core, mitm_args: Sequence[str]) -> DumpMaster:
    """A DumpMaster on the settings' address; ``mitm_args`` are mitmdump's own flags.

    Must be called with an event loop running. Lazy upstream connections let our request
    hooks see (and later block) a request before anything leaves for the upstream.
    """
    settings = core.settings
    private_dir(settings.confdir)  # before mitmproxy makes it, with the umask's mode
    opts = options.Options()
    master = DumpMaster(opts, with_termlog=True, with_dumper=False)
    opts.update(
        listen_host=settings.proxy_host,
        listen_port=settings.proxy_port,
        confdir=str(settings.confdir),
        connection_strategy="lazy",
    )
    master.addons.add(*shadowlens_addons(core))
    parser = cmdline.mitmdump(opts)
    args = parser.parse_args(list(mitm_args))
    opts.set(*args.setoptions, defer=True)
    process_options(parser, opts, args)
    refuse_open_relay(
        [ProxyMode.parse(spec).listen_host(opts.listen_host) for spec in opts.mode],
        proxyauth=bool(opts.proxyauth),
        allowed_clients=settings.allowed_client_networks,
    )
    return master


def ensure_ca(confdir: Path) -> Path:
    """The path of the proxy's CA certificate, creating the CA on first use."""
    private_dir(confdir)
    certs.CertStore.from_store(confdir, CA_BASENAME, KEY_SIZE)
    return confdir / f"{CA_BASENAME}-ca-cert.pem"


def recorder_of(master: Master) -> Recorder:
    """The Recorder, which stops the proxy gently: a bundle's child, unseen by mitmproxy."""
    for entry in master.addons.chain:
        for child in getattr(entry, "children", ()):
            if isinstance(child, Recorder):
                return child
    raise LookupError("the addon chain holds no Recorder")
