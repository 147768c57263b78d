"""TlsDiscovery: find AI by SNI on connections we do not decrypt, and learn pinned clients."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from mitmproxy import connection, tls

from proxy import metrics
from proxy.catalog import Match, normalize_host
from proxy.catalog.index import suffixes
from proxy.inventory.events import DetectionEvent
from proxy.inventory.writer import InventoryWriter
from proxy.runtime import CatalogRef

PINNED_ERROR = "client rejected the proxy's certificate (pinning or untrusted CA)"


class TlsDiscovery:
    """Passes do-not-decrypt and pinned hosts through, and records their AI use by SNI."""

    def __init__(
        self,
        catalog: CatalogRef,
        writer: InventoryWriter,
        *,
        no_decrypt: frozenset[str],
        learn_seconds: float,
    ) -> None:
        self.catalog = catalog
        self.writer = writer
        self.no_decrypt = no_decrypt
        self.learn_seconds = learn_seconds
        self.learned: dict[str, float] = {}  # host → monotonic time the passthrough ends

    def tls_clienthello(self, data: tls.ClientHelloData) -> None:
        sni = normalize_host(data.client_hello.sni or "")
        if not sni or data.ignore_connection:
            return
        reason = self._passthrough_reason(sni)
        if reason is None:
            return
        data.ignore_connection = True
        metrics.TLS_PASSTHROUGH.labels(reason=reason).inc()
        self._record(data.context.client, sni, error=None)

    def _passthrough_reason(self, sni: str) -> str | None:
        if any(s in self.no_decrypt for s in suffixes(sni)):
            return "no_decrypt"
        until = self.learned.get(sni)
        if until is None:
            return None
        if until > time.monotonic():
            return "learned"
        del self.learned[sni]
        return None

    def tls_failed_client(self, data: tls.TlsData) -> None:
        sni = normalize_host(data.context.client.sni or "")
        if not sni:
            return
        metrics.TLS_CLIENT_FAILURES.inc()
        if self.learn_seconds > 0:
            self.learned[sni] = time.monotonic() + self.learn_seconds
        self._record(data.context.client, sni, error=PINNED_ERROR)

    def _record(self, client: connection.Client, sni: str, *, error: str | None) -> None:
        match = self.catalog.current.lookup(sni, evidence="sni")
        if match is None:
            return
        metrics.DETECTIONS.labels(service=match.service.id, category=match.service.category).inc()
        self.writer.submit(sni_event(client, sni, match, error))


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
