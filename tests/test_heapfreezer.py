"""HeapFreezer leaves the startup heap out of full collections."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest
from mitmproxy.test import taddons

from shadowlens.addons.heapfreezer import HeapFreezer


class _Node:
    other: _Node | None = None


@pytest.fixture
def unfrozen() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_running_collects_startup_garbage_then_freezes_the_rest(unfrozen: None) -> None:
    cycle = _Node()
    cycle.other = cycle
    garbage = weakref.ref(cycle)
    del cycle
    kept = _Node()
    freezer = HeapFreezer()
    with taddons.context(freezer):
        freezer.running()
    assert garbage() is None  # collected, not frozen
    assert gc.get_freeze_count() > 0
    assert not any(o is kept for o in gc.get_objects())  # skipped by every collection
