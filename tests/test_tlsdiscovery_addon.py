"""TlsDiscovery: pinned clients are learned per client, and only where the policy merely watches."""

from __future__ import annotations

import ssl
from collections.abc import Mapping, Sequence
from pathlib import Path

import pytest
import yaml
from mitmproxy import tls
from mitmproxy.proxy.context import Context
from mitmproxy.proxy.layers.tls import parse_client_hello
from mitmproxy.test import taddons, tflow

from shadowlens.addons.tlsdiscovery import TlsDiscovery
from shadowlens.proxy.catalog import load_catalog
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.writer import InventoryWriter
from shadowlens.proxy.runtime import CatalogRef, PolicyRef
from shadowlens.proxy.settings import Settings
from tests.conftest import RULES_DIR

SCENARIO = Path(__file__).parent / "fixtures" / "policy"
CATALOG = CatalogRef(load_catalog(RULES_DIR))


def _client_hello(sni: str) -> tls.ClientHello:
    """A real ClientHello, as Python's TLS stack writes it."""
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    context = ssl.create_default_context()
    conn = context.wrap_bio(incoming, outgoing, server_hostname=sni)
    with pytest.raises(ssl.SSLWantReadError):
        conn.do_handshake()
    hello = parse_client_hello(outgoing.read())
    assert hello is not None
    return hello


def _contexts(address: str, sni: str) -> tuple[tls.ClientHelloData, tls.TlsData]:
    client = tflow.tclient_conn()
    client.peername = (address, 50000)
    client.sni = sni
    with taddons.context() as tctx:
        context = Context(client, tctx.options)
    return tls.ClientHelloData(context, _client_hello(sni)), tls.TlsData(client, context)


def _addon(
    tmp_path: Path, policy: Mapping[str, object] | None, max_learned: int = 100
) -> TlsDiscovery:
    settings = Settings(data_dir=tmp_path, identity_file=SCENARIO / "identities.yaml")
    if policy is None:
        settings.policy_file = SCENARIO / "scenario.yaml"
    else:
        settings.policy_file = tmp_path / "policy.yaml"
        settings.policy_file.write_text(yaml.safe_dump(policy))

    def keep(batch: Sequence[DetectionEvent]) -> int:
        return len(batch)

    writer = InventoryWriter(keep, queue_size=10_000, batch_size=10, flush_seconds=0.01)
    return TlsDiscovery(
        CATALOG,
        PolicyRef(settings),
        writer,
        no_decrypt=frozenset(),
        learn_seconds=60,
        max_learned=max_learned,
    )


def _passes_through(addon: TlsDiscovery, address: str, sni: str) -> bool:
    hello, _ = _contexts(address, sni)
    addon.tls_clienthello(hello)
    return hello.ignore_connection


def _fails(addon: TlsDiscovery, address: str, sni: str, times: int = 1) -> None:
    for _ in range(times):
        addon.tls_failed_client(_contexts(address, sni)[1])


MONITOR_ONLY: Mapping[str, object] = {"default_action": "monitor", "rules": []}


def test_a_failed_handshake_is_learned_for_that_client_only(tmp_path: Path) -> None:
    addon = _addon(tmp_path, MONITOR_ONLY)
    _fails(addon, "10.1.0.5", "api.mistral.ai")
    assert _passes_through(addon, "10.1.0.5", "api.mistral.ai")
    # Another client, trusting our CA, is still decrypted and inspected.
    assert not _passes_through(addon, "10.1.0.6", "api.mistral.ai")
    assert not _passes_through(addon, "10.1.0.5", "api.openai.com")


def test_a_host_the_policy_acts_on_is_never_learned(tmp_path: Path) -> None:
    # The scenario redacts secrets (failing closed) and blocks unsanctioned services.
    addon = _addon(tmp_path, None)
    for host in ("chat.deepseek.com", "api.mistral.ai", "chatgpt.com"):
        _fails(addon, "10.1.0.5", host, times=50)
        assert not _passes_through(addon, "10.1.0.5", host), host
    assert not addon.learned


def test_a_register_decision_keeps_the_host_refused(tmp_path: Path) -> None:
    addon = _addon(tmp_path, {"rules": [{"id": "no", "when": {"status": ["unsanctioned"]},
                                         "action": "block"}]})  # fmt: skip
    addon.policy.register = {"mistral": "unsanctioned"}
    _fails(addon, "10.1.0.5", "api.mistral.ai", times=5)
    assert not _passes_through(addon, "10.1.0.5", "api.mistral.ai")


def test_hosts_that_are_not_ai_are_learned_per_client(tmp_path: Path) -> None:
    addon = _addon(tmp_path, None)
    _fails(addon, "10.1.0.5", "pinned.bank.example")
    assert _passes_through(addon, "10.1.0.5", "pinned.bank.example")
    assert not _passes_through(addon, "10.1.0.7", "pinned.bank.example")


def test_the_learned_table_is_bounded(tmp_path: Path) -> None:
    addon = _addon(tmp_path, MONITOR_ONLY, max_learned=3)
    for n in range(20):
        _fails(addon, f"10.9.0.{n}", f"host{n}.example")
    assert len(addon.learned) == 3
    assert _passes_through(addon, "10.9.0.19", "host19.example")
    assert not _passes_through(addon, "10.9.0.0", "host0.example")


def test_selective_decryption_tunnels_what_cannot_be_ai(tmp_path: Path) -> None:
    tenant = {"id": "ms", "hosts": ["login.microsoftonline.com"], "headers": {"X-T": "contoso"}}
    addon = _addon(tmp_path, {"rules": [], "tenant_restrictions": [tenant]})
    addon.decrypt = "ai"
    assert not CATALOG.current.worth_decrypting("login.microsoftonline.com")
    assert _passes_through(addon, "10.1.0.5", "www.example-bank.test")
    assert not _passes_through(addon, "10.1.0.5", "api.openai.com")  # a catalog AI host
    assert not _passes_through(addon, "10.1.0.5", "login.microsoftonline.com")  # policy names it
    addon.decrypt = "all"
    assert not _passes_through(addon, "10.1.0.5", "www.example-bank.test")


def test_saas_hosts_with_ai_signatures_are_decrypted() -> None:
    catalog = CATALOG.current
    hosts = [h for s in catalog.services.values() for sig in s.signatures for h in sig.hosts]
    assert hosts, "the catalog has embedded-AI signatures"
    assert all(catalog.worth_decrypting(h) for h in hosts)
    assert not catalog.worth_decrypting("www.example-bank.test")
