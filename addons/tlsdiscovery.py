"""TlsDiscovery: find AI by SNI on connections we do not decrypt, and learn pinned clients."""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable
from datetime import UTC, datetime

from mitmproxy import connection, tls

from shadowlens.proxy import metrics
from shadowlens.proxy.catalog import Match, normalize_host
from shadowlens.proxy.catalog.index import suffixes
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.writer import InventoryWriter
from shadowlens.proxy.policy import decide
from shadowlens.proxy.policy.decide import Upload
from shadowlens.proxy.runtime import CatalogRef, PolicyRef

PINNED_ERROR = "client rejected the proxy's certificate (pinning or untrusted CA)"
# Nothing of a connection passed through can be inspected.
NOT_DECRYPTED = Upload(failure="not_decrypted")


class TlsDiscovery:
    """Passes do-not-decrypt and pinned hosts through, and records their AI use by SNI."""

    def __init__(
        self,
        catalog: CatalogRef,
        policy: PolicyRef,
        writer: InventoryWriter,
        *,
        no_decrypt: frozenset[str],
        learn_seconds: float,
        decrypt: str = "all",
        max_learned: int = 10_000,
    ) -> None:
        self.catalog = catalog
        self.policy = policy
        self.writer = writer
        self.no_decrypt = no_decrypt
        self.learn_seconds = learn_seconds
        self.decrypt = decrypt
        self.max_learned = max_learned
        # (client address, host) → monotonic time its passthrough ends; oldest first
        self.learned: OrderedDict[tuple[str, str], float] = OrderedDict()

    def tls_clienthello(self, data: tls.ClientHelloData) -> Awaitable[None] | None:
        sni = normalize_host(data.client_hello.sni or "")
        if not sni or data.ignore_connection:
            return None
        reason = self._passthrough_reason(_address(data.context.client), sni)
        if reason is None:
            return None
        data.ignore_connection = True
        metrics.TLS_PASSTHROUGH.labels(reason=reason).inc()
        return self._record(data.context.client, sni, error=None)

    def _passthrough_reason(self, address: str, sni: str) -> str | None:
        if any(s in self.no_decrypt for s in suffixes(sni)):
            return "no_decrypt"
        if self.decrypt == "ai" and not self._worth_decrypting(sni):
            return "selective"
        until = self.learned.get((address, sni))
        if until is None:
            return None
        if until > time.monotonic():
            return "learned"
        del self.learned[(address, sni)]
        return None

    def tls_failed_client(self, data: tls.TlsData) -> Awaitable[None] | None:
        client = data.context.client
        sni = normalize_host(client.sni or "")
        if not sni:
            return None
        metrics.TLS_CLIENT_FAILURES.inc()
        if self.learn_seconds > 0 and self._merely_monitored(_address(client), sni):
            self._learn(_address(client), sni)
        return self._record(client, sni, error=PINNED_ERROR)

    def _worth_decrypting(self, sni: str) -> bool:
        """Catalog AI hosts, SaaS hosts with AI signatures, and hosts the policy names."""
        if self.catalog.current.worth_decrypting(sni):
            return True
        return any(s in self.policy.tenant_hosts for s in suffixes(sni))

    def _merely_monitored(self, address: str, sni: str) -> bool:
        """Whether the policy would only watch this client's uploads to ``sni``.

        Only then may the host pass through undecrypted for this client: anything the policy
        would block, coach or redact stays refused, however often the handshake fails.
        """
        match = self.catalog.current.lookup(sni, evidence="sni")
        if match is None:
            return True  # not an AI service: there is nothing to enforce on it
        policy = self.policy
        decision = decide(
            policy.current,
            identity=policy.resolver.resolve(peer_ip=address, headers={}),
            service=match.service,
            upload=NOT_DECRYPTED,
            register=policy.register,
        )
        return decision.action in ("allow", "monitor")

    def _learn(self, address: str, sni: str) -> None:
        self.learned[(address, sni)] = time.monotonic() + self.learn_seconds
        self.learned.move_to_end((address, sni))
        while len(self.learned) > self.max_learned:
            self.learned.popitem(last=False)

    def _record(
        self, client: connection.Client, sni: str, *, error: str | None
    ) -> Awaitable[None] | None:
        match = self.catalog.current.lookup(sni, evidence="sni")
        if match is None:
            return None
        metrics.DETECTIONS.labels(service=match.service.id, category=match.service.category).inc()
        return self.writer.submit_durable(sni_event(client, sni, match, error))


def _address(client: connection.Client) -> str:
    return client.peername[0] if client.peername else ""


def sni_event(
    client: connection.Client, sni: str, match: Match, error: str | None
) -> DetectionEvent:
    """A detection known only from the TLS handshake: no method, path or body."""
    service = match.service
    return DetectionEvent(
        ts=datetime.fromtimestamp(client.timestamp_start, UTC),
        client_ip=client.peername[0] if client.peername else "",
        user=None,
        service_id=service.id,
        service_name=service.name,
        vendor=service.vendor,
        category=service.category,
        evidence="sni",
        method="TLS",
        host=sni[:255],
        path="",
        request_bytes=0,
        error=error,
        confidence=match.confidence,
        signals="sni",
    )
