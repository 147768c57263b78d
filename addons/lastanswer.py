"""LastAnswer: while the proxy stops, each HTTP/1 answer closes its client connection."""

from __future__ import annotations

from mitmproxy import http


class LastAnswer:
    """Added to the chain only once a shutdown begins, so it costs running flows nothing.

    A keep-alive client would otherwise go on sending on its open connection for the whole
    grace period; told ``Connection: close``, it reconnects, which the proxy no longer accepts.
    """

    def response(self, flow: http.HTTPFlow) -> None:
        if flow.response is not None and flow.response.http_version.startswith("HTTP/1"):
            flow.response.headers["connection"] = "close"
