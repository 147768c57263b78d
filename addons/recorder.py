"""Recorder: runs the inventory writer for as long as the proxy runs, and stops it gently."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Set

from mitmproxy import ctx

from shadowlens.addons.lastanswer import LastAnswer
from shadowlens.proxy import metrics
from shadowlens.proxy.inventory.writer import InventoryWriter

log = logging.getLogger(__name__)


class Recorder:
    """Starts the writer's background task when the proxy is up.

    :meth:`stop` is the graceful shutdown: the proxy stops listening, the flows in flight
    (``live``, kept by Discovery) get up to ``grace`` seconds to finish, and then, in ``done``,
    the writer gets up to ``grace`` seconds to drain.
    """

    def __init__(
        self, writer: InventoryWriter, *, live: Set[str] = frozenset(), grace: float = 10.0
    ) -> None:
        self.writer = writer
        self.live = live
        self.grace = grace

    def running(self) -> None:
        self.writer.start()

    async def stop(self) -> None:
        """Stop taking connections, let the flows in flight finish, then shut the proxy down."""
        try:
            await _stop_listening()
            ctx.master.addons.add(LastAnswer())
            await self._flows_finished()
        finally:  # whatever happened above, the proxy stops
            ctx.master.shutdown()

    async def _flows_finished(self) -> None:
        log.info("stopping: waiting up to %gs for %d flows in flight", self.grace, len(self.live))
        deadline = time.monotonic() + self.grace
        # Polled: an event set when the last flow ends would cost every flow a check.
        while self.live and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.02)
        if self.live:
            metrics.SHUTDOWN_UNFINISHED.inc(len(self.live))
            log.warning("stopping with %d flows unfinished after the grace period", len(self.live))

    async def done(self) -> None:
        await self.writer.close(grace=self.grace)


async def _stop_listening() -> None:
    """Close the listening sockets, and only then tell clients to reconnect: a connection
    made while a socket closes waits in its backlog and is reset, its request unanswered."""
    ctx.options.update(server=False)  # mitmproxy stops its servers in a task of its own
    await ctx.master.addons.get("proxyserver").servers.update([])  # waits for that one too
