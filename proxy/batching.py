"""Taking batches off an asyncio queue: what the inventory writer and the SIEM sinks share."""

from __future__ import annotations

import asyncio
import time


def take[T](queue: asyncio.Queue[T], most: int) -> list[T]:
    """What is queued now, ``most`` items at the most, without waiting."""
    taken: list[T] = []
    while len(taken) < most and not queue.empty():
        taken.append(queue.get_nowait())
    return taken


async def fill[T](queue: asyncio.Queue[T], batch: list[T], *, size: int, seconds: float) -> list[T]:
    """Top ``batch`` up to ``size`` from ``queue``; wait for more only while it is empty, and
    ``seconds`` at the most."""
    deadline = time.monotonic() + seconds
    while len(batch) < size:
        batch.extend(take(queue, size - len(batch)))
        remaining = deadline - time.monotonic()
        if len(batch) >= size or remaining <= 0:
            break
        try:
            batch.append(await asyncio.wait_for(queue.get(), remaining))
        except TimeoutError:
            break
    return batch
