"""RulesReloader: polls the rules folder and swaps in a new catalog when it changes."""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from shadowlens.proxy.reload import RulesWatcher


class RulesReloader:
    """Runs each watcher's poll in a worker thread every ``interval`` seconds."""

    def __init__(self, watchers: list[RulesWatcher[Any]], *, interval: float) -> None:
        self.watchers = watchers
        self.interval = interval
        self._task: asyncio.Task[None] | None = None

    def running(self) -> None:
        if self.interval > 0 and self.watchers:
            self._task = asyncio.create_task(self._poll_forever(), name="shadowlens-reload")

    async def done(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    async def _poll_forever(self) -> None:
        while True:
            await asyncio.sleep(self.interval)
            for watcher in self.watchers:
                await asyncio.to_thread(watcher.poll)
