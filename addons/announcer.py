"""Announcer: prints where the proxy listens once it is up, for people and for scripts."""

from __future__ import annotations

from mitmproxy import ctx


class Announcer:
    """Prints ``shadowlens: proxy listening on HOST:PORT`` for each bound address."""

    def running(self) -> None:
        proxyserver = ctx.master.addons.get("proxyserver")
        for host, port, *_ in proxyserver.listen_addrs():
            print(f"shadowlens: proxy listening on {host}:{port}", flush=True)
