"""Recorder: runs the inventory writer for as long as the proxy runs."""

from __future__ import annotations

from proxy.inventory.writer import InventoryWriter


class Recorder:
    """Starts the writer's background task when the proxy is up and drains it at shutdown."""

    def __init__(self, writer: InventoryWriter) -> None:
        self.writer = writer

    def running(self) -> None:
        self.writer.start()

    async def done(self) -> None:
        await self.writer.close()
