"""SinkDelivery: runs the SIEM sinks and the alert rules for as long as the proxy runs."""

from __future__ import annotations

from shadowlens.proxy.sinks.delivery import SinkHub


class SinkDelivery:
    """Starts each sink's and the alert rules' background task, and drains them at shutdown."""

    def __init__(self, hub: SinkHub) -> None:
        self.hub = hub

    def running(self) -> None:
        self.hub.start()

    async def done(self) -> None:
        await self.hub.close()
