"""How long a full garbage collection stalls the proxy, before and after HeapFreezer.

Run: .venv/bin/python bench/startup_heap.py [--rounds 5]

Builds the proxy exactly as ``shadowlens proxy`` does (every addon, the shipped rules, a
fresh SQLite inventory in a temporary data dir), then times ``gc.collect()``, which holds the
GIL and so stalls every flow, first as it is and then after ``HeapFreezer.running``. Prints
the medians and the number of objects each collection walks.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import statistics
import tempfile
import time

from shadowlens.addons.heapfreezer import HeapFreezer
from shadowlens.addons.launcher import build_master
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import Settings


def _full_collections(rounds: int) -> float:
    """Median milliseconds of a full collection."""
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        gc.collect()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def main(rounds: int) -> None:
    with tempfile.TemporaryDirectory() as data:
        os.environ["SHADOWLENS_DATA_DIR"] = data
        core = Core.open(Settings())
        master = build_master(core, ["--listen-port", "0"])
        tracked = len(gc.get_objects())
        before = _full_collections(rounds)
        HeapFreezer().running()
        after = _full_collections(rounds)
        print(
            f"full collection: {before:.1f} ms over {tracked:,} objects; after HeapFreezer "
            f"{after:.2f} ms, {gc.get_freeze_count():,} frozen (medians of {rounds})"
        )
        del master
        core.close()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    asyncio.run(main(parser.parse_args().rounds))
