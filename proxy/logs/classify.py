"""The proxy's classifier applied to log records, each distinct question answered once."""

from __future__ import annotations

from shadowlens.proxy.catalog import HostIndex, Match
from shadowlens.proxy.catalog.classify import classify_headers
from shadowlens.proxy.logs.records import HOST_ONLY, Record, host_of

# Cached answers kept at most; past it the cache starts afresh (paths can be endless).
CACHE_LIMIT = 200_000


class LogClassifier:
    """``classify_headers`` for log records, cached by what its answer can depend on.

    A host's answer depends on its path and headers only when a request signature sits on
    the host, and on the User-Agent only when that names a known AI client (or a signature
    looks at it). Host-only records (CONNECT, TLS, DNS) are looked up as the proxy looks up
    an SNI.
    """

    def __init__(self, catalog: HostIndex) -> None:
        self.catalog = catalog
        self._answers: dict[tuple[str, ...], Match | None] = {}
        self._signed: dict[str, bool] = {}
        self._clients: dict[str, bool] = {}

    def classify(self, record: Record) -> Match | None:
        """The match the proxy would make for this request, or None when it is not AI."""
        host, method = record.host, record.method
        if method in HOST_ONLY:
            key: tuple[str, ...] = ("", host)
        else:
            agent = record.user_agent
            signed = self._has_signatures(host)
            key = (host, agent if signed or self._is_client(agent) else "")
            if signed:
                key += (method, record.path)
        try:
            return self._answers[key]
        except KeyError:
            if len(self._answers) >= CACHE_LIMIT:
                self._answers.clear()
            answer = self._answers[key] = self._ask(record)
            return answer

    def _ask(self, record: Record) -> Match | None:
        if record.method in HOST_ONLY:
            return self.catalog.lookup(record.host, evidence="sni")
        agent = record.user_agent
        return classify_headers(
            self.catalog, host=record.host, method=record.method, path=record.path or "/",
            headers={"user-agent": agent} if agent else {},
        )  # fmt: skip

    def may_be_ai(self, authority: str, agent: str = "") -> bool:
        """Whether a line to ``authority`` with ``agent`` must be read in full."""
        host = host_of(authority)
        if not host or host == "-":
            return True
        if self._has_signatures(host) or self._is_client(agent):
            return True
        return self.catalog.lookup(host) is not None

    def _has_signatures(self, host: str) -> bool:
        if (signed := self._signed.get(host)) is None:
            if len(self._signed) >= CACHE_LIMIT:
                self._signed.clear()
            signed = self._signed[host] = self.catalog.has_signatures(host)
        return signed

    def _is_client(self, agent: str) -> bool:
        if not agent:
            return False
        if (known := self._clients.get(agent)) is None:
            known = self._clients[agent] = self.catalog.clients.match(agent) is not None
        return known
