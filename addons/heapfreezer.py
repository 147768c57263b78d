"""HeapFreezer: keeps the startup heap out of the garbage collector's full collections."""

from __future__ import annotations

import gc
import logging

log = logging.getLogger(__name__)


class HeapFreezer:
    """Moves what is alive once the proxy runs into the collector's permanent generation.

    mitmproxy, the catalog, the DLP tables, SQLAlchemy and FastAPI leave about 200,000
    tracked objects that live as long as the process. A full collection walks every one of
    them and holds the GIL meanwhile, stalling every flow for about 90 ms on a 2-core VM
    (``bench/startup_heap.py``). Frozen, they are skipped; reference counting still frees
    them, and only cycles among them outlive a rules reload, once.
    """

    def running(self) -> None:
        gc.collect()  # startup's garbage goes now, not into the permanent generation
        gc.freeze()
        log.info("startup heap frozen: %d objects left out of collections", gc.get_freeze_count())
