"""Transparent mode: a client with no proxy settings, redirected by its gateway, is seen.

Three network namespaces the test makes, on private addresses only:

    client 10.200.1.2 --lan0-- 10.200.1.1 gateway 10.200.2.1 --wan0-- 10.200.2.2 upstream

The gateway REDIRECTs the client's ports 80 and 443 to ``shadowlens run --mode transparent``,
which finds the original destination (SO_ORIGINAL_DST) and dials the upstream there.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.e2e.conftest import (
    NO_DECRYPT,
    UPSTREAM_HOSTS,
    RunningProxy,
    start_shadowlens,
    stop_shadowlens,
)
from tests.e2e.upstream import Upstream, make_test_pki

pytestmark = pytest.mark.e2e

CLIENT_NET = "10.200.1.0/24"
GATEWAY_LAN, CLIENT_IP = "10.200.1.1", "10.200.1.2"
GATEWAY_WAN, UPSTREAM_IP = "10.200.2.1", "10.200.2.2"
CHAT = json.dumps({"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "ping"}]})


@dataclass(frozen=True)
class Lab:
    """The namespaces' names; interfaces inside them are lan0/wan0 (gateway), eth0 (others)."""

    client: str
    gateway: str
    upstream: str


@contextmanager
def in_netns(name: str) -> Iterator[None]:
    """Run this thread in namespace ``name``: sockets and children made here live there."""
    home_path, target_path = Path("/proc/thread-self/ns/net"), Path("/run/netns", name)
    with home_path.open() as home, target_path.open() as target:
        os.setns(target.fileno(), os.CLONE_NEWNET)
        try:
            yield
        finally:
            os.setns(home.fileno(), os.CLONE_NEWNET)


def _run(*command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, capture_output=True, text=True, check=False)


def _must(*command: str) -> None:
    result = _run(*command)
    assert result.returncode == 0, f"{' '.join(command)}: {result.stderr}"


def _make_namespace_or_skip(name: str) -> None:
    """Skip only where namespaces with a NAT table cannot be made: tried, not guessed."""
    if not (shutil.which("ip") and shutil.which("iptables")):
        pytest.skip("transparent-mode test needs ip (iproute2) and iptables")
    made = _run("ip", "netns", "add", name)
    if made.returncode != 0:
        pytest.skip(f"cannot make a network namespace (root needed): {made.stderr.strip()}")
    nat = _run("ip", "netns", "exec", name, "iptables", "-t", "nat", "-L", "-n")
    if nat.returncode != 0:
        _run("ip", "netns", "del", name)
        pytest.skip(f"iptables NAT unusable in a namespace: {nat.stderr.strip()}")


def _wire(lab: Lab) -> None:
    """Two veth links, addresses, default routes, and forwarding on the gateway."""
    links = [
        (lab.client, "lan0", GATEWAY_LAN, CLIENT_IP),
        (lab.upstream, "wan0", GATEWAY_WAN, UPSTREAM_IP),
    ]
    for far, side, gateway_ip, far_ip in links:
        _must("ip", "-n", lab.gateway, "link", "add", side, "type", "veth",
              "peer", "name", "eth0", "netns", far)  # fmt: skip
        _must("ip", "-n", lab.gateway, "addr", "add", f"{gateway_ip}/24", "dev", side)
        _must("ip", "-n", far, "addr", "add", f"{far_ip}/24", "dev", "eth0")
        _must("ip", "-n", lab.gateway, "link", "set", side, "up")
        _must("ip", "-n", far, "link", "set", "eth0", "up")
        _must("ip", "-n", far, "route", "add", "default", "via", gateway_ip)
    for name in (lab.client, lab.gateway, lab.upstream):
        _must("ip", "-n", name, "link", "set", "lo", "up")  # the API listens on loopback
    _must("ip", "netns", "exec", lab.gateway, "sysctl", "-qw", "net.ipv4.ip_forward=1")


@pytest.fixture(scope="module")
def lab() -> Iterator[Lab]:
    suffix = os.getpid()
    lab = Lab(f"slcl{suffix}", f"slgw{suffix}", f"slup{suffix}")
    _make_namespace_or_skip(lab.gateway)
    try:
        _must("ip", "netns", "add", lab.client)
        _must("ip", "netns", "add", lab.upstream)
        _wire(lab)
        yield lab
    finally:
        for name in (lab.client, lab.gateway, lab.upstream):
            _run("ip", "netns", "del", name)  # takes its veths and iptables rules with it


@pytest.fixture(scope="module")
def far_upstream(lab: Lab, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    """The fake AI API on port 443 of the upstream namespace, where the client aims."""
    ca, cert, key = make_test_pki(tmp_path_factory.mktemp("pki"), UPSTREAM_HOSTS)
    with in_netns(lab.upstream):
        server = Upstream(cert, key, address=(UPSTREAM_IP, 443))
    with server:
        server.ca_file = ca  # type: ignore[attr-defined]
        yield server


@contextmanager
def redirect(lab: Lab, port: int) -> Iterator[None]:
    """The gateway's rule sending the client's web ports to the proxy, removed afterwards."""
    rule = ["PREROUTING", "-i", "lan0", "-p", "tcp", "-m", "multiport", "--dports", "80,443",
            "-j", "REDIRECT", "--to-ports", str(port)]  # fmt: skip
    iptables = ["ip", "netns", "exec", lab.gateway, "iptables", "-t", "nat"]
    _must(*iptables, "-A", *rule)
    try:
        yield
    finally:
        _run(*iptables, "-D", *rule)


@pytest.fixture(scope="module")
def gateway_proxy(
    lab: Lab, far_upstream: Upstream, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningProxy]:
    """``shadowlens run --mode transparent`` on the gateway's LAN address, LAN clients only."""
    env = {
        "SHADOWLENS_PROXY_HOST": GATEWAY_LAN,
        "SHADOWLENS_PROXY_ALLOWED_CLIENTS": CLIENT_NET,
        "SHADOWLENS_NO_DECRYPT_HOSTS": NO_DECRYPT,
    }
    trust = f"ssl_verify_upstream_trusted_ca={far_upstream.ca_file}"  # type: ignore[attr-defined]
    args = ["--mode", "transparent", "--set", trust]
    with in_netns(lab.gateway):  # the child inherits this thread's namespace
        running = start_shadowlens(tmp_path_factory.mktemp("data"), args, env)
    try:
        with redirect(lab, int(running.proxy_url.rsplit(":", 1)[1])):
            yield running
    finally:
        assert stop_shadowlens(running) == 0, "".join(running.output)


def curl(
    lab: Lab, ca_file: Path, host: str, path: str, *extra: str
) -> subprocess.CompletedProcess[str]:
    """A client with no proxy settings asking for https://host/path, aimed at the upstream."""
    executable = shutil.which("curl")
    assert executable is not None, "curl is needed"
    command = [
        executable, "--silent", "--show-error", "--fail", "--max-time", "30",
        "--noproxy", "*", "--cacert", str(ca_file),
        "--resolve", f"{host}:443:{UPSTREAM_IP}", *extra, f"https://{host}{path}",
    ]  # fmt: skip
    with in_netns(lab.client):
        return subprocess.run(command, env={}, capture_output=True, text=True, check=False)


def fetch(lab: Lab, ca_file: Path, host: str, path: str, *extra: str) -> str:
    result = curl(lab, ca_file, host, path, *extra)
    assert result.returncode == 0, result.stderr
    return result.stdout


def detections(lab: Lab, proxy: RunningProxy, count: int, **params: str) -> list[dict]:
    with in_netns(lab.gateway):  # the API listens on the gateway's loopback
        return proxy.wait_for_detections(count, timeout=5.0, **params)


def test_redirected_ai_request_is_detected_with_its_original_destination(
    lab: Lab, gateway_proxy: RunningProxy, far_upstream: Upstream
) -> None:
    body = fetch(lab, gateway_proxy.ca_file, "api.openai.com", "/v1/chat/completions",
                "-H", "content-type: application/json", "--data", CHAT)  # fmt: skip
    assert json.loads(body)["choices"][0]["message"]["content"] == "pong"
    assert far_upstream.received.requests[-1]["host"] == "api.openai.com"
    [detection] = detections(lab, gateway_proxy, 1, service="openai-api")
    assert detection["host"] == "api.openai.com"
    assert detection["client_ip"] == CLIENT_IP  # the real client, not a NAT address
    assert (detection["method"], detection["path"]) == ("POST", "/v1/chat/completions")
    assert detection["status"] == 200


def test_redirected_plain_site_passes_and_is_not_recorded(
    lab: Lab, gateway_proxy: RunningProxy, far_upstream: Upstream
) -> None:
    before = len(detections(lab, gateway_proxy, 0, service="openai-api"))
    assert "plain site" in fetch(lab, gateway_proxy.ca_file, "example.com", "/")
    assert far_upstream.received.requests[-1]["host"] == "example.com"
    # An AI request after it: once that is recorded, the plain one would have been too.
    fetch(lab, gateway_proxy.ca_file, "api.openai.com", "/v1/models")
    recorded = detections(lab, gateway_proxy, before + 1, service="openai-api")
    assert any(d["path"] == "/v1/models" for d in recorded)
    assert all(d["host"] != "example.com" for d in detections(lab, gateway_proxy, 0))


def test_redirected_tls_is_passed_through_or_refused_and_seen_by_sni(
    lab: Lab, gateway_proxy: RunningProxy, far_upstream: Upstream
) -> None:
    # Clients trusting only the real CA, as pinned apps do: the do-not-decrypt host passes
    # through untouched, any other fails its handshake; both are recorded by SNI alone.
    real_ca = far_upstream.ca_file  # type: ignore[attr-defined]
    assert "plain site" in fetch(lab, real_ca, NO_DECRYPT, "/")
    assert curl(lab, real_ca, "api.mistral.ai", "/v1/models").returncode != 0
    [passed] = detections(lab, gateway_proxy, 1, service="claude")
    [refused] = detections(lab, gateway_proxy, 1, service="mistral")
    assert (passed["host"], passed["evidence"], passed["error"]) == (NO_DECRYPT, "sni", None)
    assert (refused["host"], refused["evidence"]) == ("api.mistral.ai", "sni")
    assert refused["error"]
