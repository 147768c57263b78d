"""Retention: purges expired inventory rows in the background for as long as the proxy runs."""

from __future__ import annotations

from proxy.inventory.retention import RetentionTask


class Retention:
    """Starts the purge task when the proxy is up and stops it at shutdown."""

    def __init__(self, task: RetentionTask) -> None:
        self.task = task

    def running(self) -> None:
        self.task.start()

    async def done(self) -> None:
        await self.task.stop()
