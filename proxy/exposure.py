"""Who may reach the proxy: it never starts as an open relay beyond loopback."""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


class OpenProxyError(RuntimeError):
    """The proxy would listen beyond loopback with no way to tell its clients apart."""


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) is on this machine only."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False  # "" (every address) or a host name that may resolve anywhere


def refuse_open_relay(
    listen_hosts: Iterable[str], *, proxyauth: bool, allowed_clients: list[Network]
) -> None:
    """Raise OpenProxyError unless every listener is loopback, or clients are restricted."""
    exposed = sorted({h or "every address" for h in listen_hosts if not is_loopback(h)})
    if exposed and not proxyauth and not allowed_clients:
        raise OpenProxyError(
            f"the proxy would listen on {', '.join(exposed)} with neither proxy "
            "authentication (--set proxyauth=...) nor SHADOWLENS_PROXY_ALLOWED_CLIENTS: "
            "anyone who can reach it could relay through it. Set one of them "
            "(docs/deployment.md), or listen on 127.0.0.1."
        )


def client_allowed(address: str, allowed_clients: list[Network]) -> bool:
    """Whether a client address is in the allow-list (an empty list allows everyone)."""
    if not allowed_clients:
        return True
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return False
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped  # a dual-stack listener sees IPv4 clients as ::ffff:a.b.c.d
    return any(ip in network for network in allowed_clients)
