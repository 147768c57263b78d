"""What mitmproxy's addon chain costs per event: separate entries against one Bundle.

Run: .venv/bin/python bench/dispatch_bench.py [--events 20000] [--rounds 5]

mitmproxy hands each event to every entry of its chain. This triggers a request event on
a chain of ten stand-in addons (three with the hook, seven without, like ours), once as ten
entries and once as the children of one ``addons.bundle.Bundle``, and prints the median
microseconds per event of each, with the empty chain as the baseline.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import time
from collections.abc import Callable

from mitmproxy.http import HTTPFlow
from mitmproxy.proxy.layers.http import HttpRequestHook
from mitmproxy.test import taddons, tflow

from shadowlens.addons.bundle import Bundle


class WithHook:
    def __init__(self, n: int) -> None:
        self.name = f"with-hook-{n}"

    def request(self, flow: HTTPFlow) -> None:
        return None


class WithoutHook:
    def __init__(self, n: int) -> None:
        self.name = f"without-hook-{n}"


def _stand_ins() -> list[object]:
    return [WithHook(n) if n < 3 else WithoutHook(n) for n in range(10)]


async def _per_event(addons: list[object], events: int) -> float:
    with taddons.context() as tctx:
        tctx.master.addons.add(*addons)
        hook = HttpRequestHook(tflow.tflow())
        started = time.perf_counter()
        for _ in range(events):
            await tctx.master.addons.trigger_event(hook)
        return (time.perf_counter() - started) / events * 1e6


async def main(events: int, rounds: int) -> None:
    layouts: dict[str, Callable[[], list[object]]] = {
        "empty chain (baseline)": list,
        "10 separate entries": _stand_ins,
        "1 Bundle of 10": lambda: [Bundle("bundle", _stand_ins())],
    }
    for label, make in layouts.items():
        times = [await _per_event(make(), events) for _ in range(rounds)]
        print(f"{label}: {statistics.median(times):.2f} µs per event (median of {rounds})")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.events, args.rounds))
