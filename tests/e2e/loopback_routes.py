"""Test-only mitmproxy addon: send every upstream connection to a loopback port.

SNI and Host stay what the client asked for; only the TCP destination changes, so the
proxy treats the flow exactly as it would the real service, and nothing leaves 127.0.0.1.
Once connected, the connection gets back the address it was opened for: mitmproxy reuses an
upstream connection only for a request to the same address, and holds at most five open per
address and client connection, so a keep-alive client would otherwise cost an upstream
connection per request, and hang at its sixth.
"""

from __future__ import annotations

from mitmproxy import ctx, exceptions
from mitmproxy.addonmanager import Loader
from mitmproxy.connection import Address
from mitmproxy.proxy import server_hooks


class LoopbackRoutes:
    """Routes ``host=port`` pairs to 127.0.0.1:port; any other host to ``default`` port."""

    def __init__(self) -> None:
        self.routes: dict[str, int] = {}
        self.asked: dict[str, Address] = {}  # connection id → the address it was opened for

    def load(self, loader: Loader) -> None:
        loader.add_option("loopback_routes", str, "", "host=port,... ; '*' for any other host")

    def configure(self, updated: set[str]) -> None:
        if "loopback_routes" not in updated:
            return
        try:
            pairs = (item.split("=") for item in ctx.options.loopback_routes.split(",") if item)
            self.routes = {host: int(port) for host, port in pairs}
        except ValueError as exc:
            raise exceptions.OptionsError(f"loopback_routes: {exc}") from exc
        if "*" not in self.routes:
            raise exceptions.OptionsError("loopback_routes needs a '*' entry")

    def server_connect(self, data: server_hooks.ServerConnectionHookData) -> None:
        host = data.server.address[0] if data.server.address else ""
        port = self.routes.get(host, self.routes["*"])
        if data.server.address:
            self.asked[data.server.id] = data.server.address
        data.server.address = ("127.0.0.1", port)

    def server_connected(self, data: server_hooks.ServerConnectionHookData) -> None:
        asked = self.asked.pop(data.server.id, None)
        if asked is not None:  # Server refuses a new address once open: past its check
            vars(data.server)["address"] = asked

    def server_connect_error(self, data: server_hooks.ServerConnectionHookData) -> None:
        self.asked.pop(data.server.id, None)


addons = [LoopbackRoutes()]
