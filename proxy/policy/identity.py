"""Who is behind a flow: proxy auth, a trusted header, the forwarded chain, the address map."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from functools import lru_cache

from shadowlens.proxy.policy.loader import AddressEntry, Network
from shadowlens.proxy.policy.model import Identity

ANONYMOUS = "anonymous"


@lru_cache(maxsize=4096)  # bounded: X-Forwarded-For is the client's to write
def _address(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text.strip().strip("[]"))
    except ValueError:
        return None


class IdentityResolver:
    """Resolves identities, first match wins: proxyauth, trusted header, address map."""

    def __init__(
        self,
        *,
        addresses: Sequence[AddressEntry] = (),
        groups: Mapping[str, frozenset[str]] | None = None,
        trusted_proxies: Sequence[Network] = (),
        user_header: str = "x-authenticated-user",
    ) -> None:
        self.addresses = addresses
        self.groups = groups or {}
        self.trusted_proxies = trusted_proxies
        self.user_header = user_header.lower()

    def _trusted(self, ip: str) -> bool:
        address = _address(ip)
        return address is not None and any(address in net for net in self.trusted_proxies)

    def client_ip(self, peer_ip: str, headers: Mapping[str, str]) -> str:
        """The real client: X-Forwarded-For walked right to left while the hops are trusted."""
        current = peer_ip
        hops = [h for h in headers.get("x-forwarded-for", "").split(",") if h.strip()]
        while self._trusted(current) and hops:
            previous = hops.pop().strip()
            if _address(previous) is None:
                break  # a forged or garbled entry ends the chain we can trust
            current = previous
        return current

    def resolve(
        self,
        *,
        peer_ip: str,
        headers: Mapping[str, str],
        proxyauth_user: str | None = None,
        directory_groups: frozenset[str] = frozenset(),
    ) -> Identity:
        """The identity behind a request; an untrusted peer's headers are ignored.

        ``directory_groups`` are the proxyauth user's groups in LDAP, added to the file's.
        """
        client_ip = self.client_ip(peer_ip, headers)
        mapped_user, network_groups = self._by_address(client_ip)
        header_user = headers.get(self.user_header, "").strip()
        if proxyauth_user:
            user, source = proxyauth_user, "proxyauth"
        elif header_user and self._trusted(peer_ip):
            user, source = header_user, "header"
        elif mapped_user:
            user, source = mapped_user, "ip_map"
        else:
            user, source = ANONYMOUS, "anonymous"
        groups = self.groups.get(user, frozenset()) | network_groups
        if source == "proxyauth":
            groups |= directory_groups
        return Identity(user=user[:255], groups=groups, client_ip=client_ip, source=source)

    def _by_address(self, ip: str) -> tuple[str | None, frozenset[str]]:
        address = _address(ip)
        if address is None:
            return None, frozenset()
        user: str | None = None
        groups: set[str] = set()
        for network, entry_user, entry_groups in self.addresses:  # most specific first
            if address in network:
                user = user or entry_user
                groups |= entry_groups
        return user, frozenset(groups)
