"""ClientAllowList: serve only the clients in SHADOWLENS_PROXY_ALLOWED_CLIENTS."""

from __future__ import annotations

from mitmproxy import connection

from shadowlens.proxy import metrics
from shadowlens.proxy.exposure import Network, client_allowed


class ClientAllowList:
    """Closes every connection from an address outside the allow-list, before it is read."""

    def __init__(self, allowed: list[Network]) -> None:
        self.allowed = allowed

    def client_connected(self, client: connection.Client) -> None:
        if not self.allowed:
            return
        address = client.peername[0] if client.peername else ""
        if not client_allowed(address, self.allowed):
            client.error = "client address not in SHADOWLENS_PROXY_ALLOWED_CLIENTS"
            metrics.CLIENTS_REFUSED.inc()
