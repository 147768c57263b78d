"""Background work the proxy repeats for as long as it runs."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


class PeriodicTask[T]:
    """Runs ``step`` in a worker thread every ``interval`` seconds, off the event loop.

    ``then`` gets each step's result back on the event loop. A failing step is logged and
    tried again one interval later. A task with ``enabled`` false does not start.
    """

    def __init__(
        self,
        name: str,
        step: Callable[[], T],
        *,
        interval: float,
        then: Callable[[T], None] | None = None,
        enabled: bool = True,
    ) -> None:
        self.name = name
        self.step = step
        self.interval = interval
        self.then = then
        self.enabled = enabled
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        """Start on the running loop."""
        if self._task is None and self.enabled:
            self._task = asyncio.create_task(self._run(), name=f"shadowlens-{self.name}")

    async def stop(self) -> None:
        """Stop; a step under way finishes in its thread."""
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                result = await asyncio.to_thread(self.step)
                if self.then is not None:
                    self.then(result)
            except Exception:
                log.exception("%s failed; trying again in %g s", self.name, self.interval)
            await asyncio.sleep(self.interval)
