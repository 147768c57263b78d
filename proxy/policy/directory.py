"""Users' groups from an LDAP directory, for proxies that authenticate users against it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import ldap3
from ldap3.core.exceptions import LDAPException
from ldap3.utils.conv import escape_filter_chars
from ldap3.utils.dn import parse_dn

from shadowlens.proxy import metrics

log = logging.getLogger(__name__)

RETRY_SECONDS = 10.0


@dataclass(frozen=True, slots=True)
class LdapServer:
    """Where the directory is and how to search it (the proxy's LDAP authentication's own)."""

    host: str
    port: int | None
    use_ssl: bool
    bind_dn: str
    password: str
    user_base: str  # where users are found…
    user_key: str  # …by this attribute, e.g. uid or cn
    group_base: str  # where their groups are searched
    group_filter: str  # {dn} and {user} are filled in, escaped


class GroupDirectory:
    """A user's groups (the ``cn`` of each group naming them), cached for ``ttl`` seconds.

    ``lookup`` blocks on the network: call it off the event loop. When the directory cannot
    answer, the last answer for that user is kept (or no groups, the first time), the error is
    logged and counted, and the directory is asked again after ``RETRY_SECONDS``.
    """

    def __init__(
        self,
        server: LdapServer,
        *,
        ttl: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.server = server
        self.ttl = ttl
        self._clock = clock
        self._cache: dict[str, tuple[float, frozenset[str]]] = {}
        self._lock = threading.Lock()  # one connection, one search at a time
        self._conn: ldap3.Connection | None = None
        self._retry_at = 0.0  # after a failure, the directory is not asked again until then

    def cached(self, user: str) -> frozenset[str] | None:
        """The user's groups if looked up less than ``ttl`` seconds ago, else None."""
        entry = self._cache.get(user)
        if entry is None or self._clock() - entry[0] >= self.ttl:
            return None
        return entry[1]

    def lookup(self, user: str) -> frozenset[str]:
        """The user's groups, asked of the directory (blocking)."""
        if self._clock() < self._retry_at:  # it just failed: do not make every flow wait
            return self._last(user)
        try:
            with self._lock:
                groups = self._search(user)
        except LDAPException as exc:
            metrics.DIRECTORY_ERRORS.inc()
            log.warning("LDAP group lookup for %r failed, keeping the last answer: %s", user, exc)
            with self._lock:
                self._conn = None
            self._retry_at = self._clock() + RETRY_SECONDS
            return self._last(user)
        self._cache[user] = (self._clock(), groups)
        return groups

    def _last(self, user: str) -> frozenset[str]:
        entry = self._cache.get(user)
        return entry[1] if entry else frozenset()

    def _search(self, user: str) -> frozenset[str]:
        conn = self._connection()
        server = self.server
        conn.search(server.user_base, f"({server.user_key}={escape_filter_chars(user)})")
        users = _entries(conn.response)
        if not users:
            return frozenset()
        query = server.group_filter.format(
            dn=escape_filter_chars(users[0]["dn"]), user=escape_filter_chars(user)
        )
        conn.search(server.group_base, query, attributes=["cn"])
        return frozenset(_group_name(entry) for entry in _entries(conn.response))

    def _connection(self) -> ldap3.Connection:
        if self._conn is None or self._conn.closed:
            server = self.server
            host = ldap3.Server(
                server.host, port=server.port, use_ssl=server.use_ssl, connect_timeout=5
            )
            self._conn = ldap3.Connection(
                host, server.bind_dn, server.password, auto_bind=True, receive_timeout=5
            )
        return self._conn

    def close(self) -> None:
        """Unbind from the directory."""
        with self._lock:
            if self._conn is not None:
                self._conn.unbind()
                self._conn = None


def _entries(response: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    """The entries a search found, without the referrals a directory may add."""
    return [e for e in response or () if e.get("type") == "searchResEntry" and e.get("dn")]


def _group_name(entry: dict[str, Any]) -> str:
    """The group's ``cn``, or else the value of the first part of its DN."""
    names = entry.get("attributes", {}).get("cn")
    if names:
        return str(names[0] if isinstance(names, list) else names)
    return str(parse_dn(entry["dn"])[0][1])
