"""BackgroundTasks: the core's periodic work, started with the proxy and stopped with it."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from shadowlens.proxy.periodic import PeriodicTask


class BackgroundTasks:
    """Starts each task once the proxy is up, and stops them all at shutdown."""

    def __init__(self, tasks: Sequence[PeriodicTask[Any]]) -> None:
        self.tasks = tasks

    def running(self) -> None:
        for task in self.tasks:
            task.start()

    async def done(self) -> None:
        for task in self.tasks:
            await task.stop()
