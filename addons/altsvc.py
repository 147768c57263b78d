"""AltSvcStripper: keeps clients off HTTP/3, which would take them out of the proxy's view."""

from __future__ import annotations

from mitmproxy import http

from shadowlens.proxy.altsvc import without_quic


class AltSvcStripper:
    """Removes the ``h3`` adverts from decrypted responses' Alt-Svc headers.

    Added only when ``SHADOWLENS_STRIP_ALT_SVC`` is on. Browsers also learn of HTTP/3 from
    DNS (HTTPS records), so UDP/443 should be blocked at the firewall too (docs/deployment.md).
    """

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        assert flow.response is not None
        headers = flow.response.headers
        if "alt-svc" not in headers:
            return
        kept = [v for v in map(without_quic, headers.get_all("alt-svc")) if v is not None]
        if kept:
            headers.set_all("alt-svc", kept)
        else:
            del headers["alt-svc"]
