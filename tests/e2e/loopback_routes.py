"""Test-only mitmproxy addon: send every upstream connection to a loopback port.

SNI and Host stay what the client asked for; only the TCP destination changes, so the
proxy treats the flow exactly as it would the real service, and nothing leaves 127.0.0.1.
"""

from __future__ import annotations

from mitmproxy import ctx, exceptions
from mitmproxy.addonmanager import Loader
from mitmproxy.proxy import server_hooks


class LoopbackRoutes:
    """Routes ``host=port`` pairs to 127.0.0.1:port; any other host to ``default`` port."""

    def __init__(self) -> None:
        self.routes: dict[str, int] = {}

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
        data.server.address = ("127.0.0.1", port)


addons = [LoopbackRoutes()]
