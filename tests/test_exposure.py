"""No open proxy: the start-up refusal and the client allow-list, as an attacker would probe."""

from __future__ import annotations

import ipaddress
import os
import subprocess
import sys
from pathlib import Path

import pytest
from mitmproxy.test import tflow

from shadowlens.addons.clientallowlist import ClientAllowList
from shadowlens.proxy.exposure import OpenProxyError, client_allowed, refuse_open_relay

OFFICE = [ipaddress.ip_network("10.20.0.0/16")]


@pytest.mark.parametrize("host", ["0.0.0.0", "", "::", "192.0.2.10", "proxy.example.com"])
def test_listening_beyond_loopback_without_auth_or_allow_list_is_refused(host: str) -> None:
    with pytest.raises(OpenProxyError, match="neither proxy authentication"):
        refuse_open_relay([host], proxyauth=False, allowed_clients=[])
    refuse_open_relay([host], proxyauth=True, allowed_clients=[])
    refuse_open_relay([host], proxyauth=False, allowed_clients=OFFICE)


@pytest.mark.parametrize("host", ["127.0.0.1", "127.5.5.5", "::1", "[::1]", "localhost"])
def test_loopback_needs_nothing(host: str) -> None:
    refuse_open_relay([host], proxyauth=False, allowed_clients=[])


def test_one_exposed_listener_among_several_is_enough_to_refuse() -> None:
    with pytest.raises(OpenProxyError):
        refuse_open_relay(["127.0.0.1", "0.0.0.0"], proxyauth=False, allowed_clients=[])


@pytest.mark.parametrize(
    ("address", "allowed"),
    [
        ("10.20.3.4", True),
        ("::ffff:10.20.3.4", True),  # a dual-stack listener's view of an IPv4 client
        ("10.21.0.1", False),
        ("::ffff:10.21.0.1", False),
        ("", False),
        ("not-an-address", False),
        ("fe80::1", False),
    ],
)
def test_client_allow_list(address: str, allowed: bool) -> None:
    assert client_allowed(address, OFFICE) is allowed


def test_the_addon_closes_connections_from_outside_the_list() -> None:
    addon = ClientAllowList(OFFICE)
    inside, outside = tflow.tclient_conn(), tflow.tclient_conn()
    inside.peername, outside.peername = ("10.20.0.9", 5000), ("203.0.113.9", 5000)
    addon.client_connected(inside)
    addon.client_connected(outside)
    assert inside.error is None
    assert outside.error is not None


def test_shadowlens_refuses_to_start_as_an_open_proxy(tmp_path: Path) -> None:
    env = os.environ | {
        "SHADOWLENS_DATA_DIR": str(tmp_path),
        "SHADOWLENS_PROXY_HOST": "0.0.0.0",
        "SHADOWLENS_PROXY_PORT": "0",
        "SHADOWLENS_METRICS_PORT": "0",
    }
    result = subprocess.run(
        [sys.executable, "-m", "shadowlens", "proxy"],
        env=env, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 2
    assert "refusing to start" in result.stderr
    assert "SHADOWLENS_PROXY_ALLOWED_CLIENTS" in result.stderr
    assert "Traceback" not in result.stderr + result.stdout
