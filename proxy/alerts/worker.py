"""AlertWorker: the alert rules as one more consumer of the proxy's events."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Sequence

from shadowlens.proxy import metrics
from shadowlens.proxy.alerts.engine import Alert, AlertMatcher
from shadowlens.proxy.inventory.events import DetectionEvent

log = logging.getLogger(__name__)

QUEUE_SIZE = 10_000


class AlertWorker:
    """Matches each event on the loop (cheap), and raises the alerts in a worker thread.

    ``raise_alerts`` de-duplicates, sends and records; a failure is logged and the alert is
    lost rather than the proxy slowed: the sinks and the inventory keep the detection.
    """

    def __init__(
        self, matcher: AlertMatcher, raise_alerts: Callable[[Sequence[Alert]], object]
    ) -> None:
        self.matcher = matcher
        self._raise = raise_alerts
        self._queue: asyncio.Queue[DetectionEvent] = asyncio.Queue(maxsize=QUEUE_SIZE)
        self._task: asyncio.Task[None] | None = None

    def submit(self, event: DetectionEvent) -> bool:
        try:
            self._queue.put_nowait(event)
        except asyncio.QueueFull:  # counted, not logged: a flood must not flood the logs too
            metrics.SINK_DROPPED.labels(sink="alerts", kind="alerts").inc()
            return False
        return True

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="shadowlens-alerts")

    async def close(self, grace: float = 10.0) -> None:
        if self._task is None:
            return
        try:
            await asyncio.wait_for(self._queue.join(), grace)
        except TimeoutError:
            log.warning("alert worker stopped with %d events unchecked", self._queue.qsize())
        self._task.cancel()
        await asyncio.gather(self._task, return_exceptions=True)
        self._task = None

    async def _run(self) -> None:
        while True:
            events = [await self._queue.get()]
            while not self._queue.empty():
                events.append(self._queue.get_nowait())
            alerts = [a for e in events for a in self.matcher.match(e)]
            try:
                if alerts:
                    await asyncio.to_thread(self._raise, alerts)
            except Exception:
                log.exception("raising %d alerts failed", len(alerts))
            for _ in events:
                self._queue.task_done()
