"""Bundle: several of our addons as one entry in mitmproxy's addon chain."""

from __future__ import annotations

import inspect
from collections.abc import Awaitable, Callable, Sequence

from mitmproxy import hooks

Call = Callable[..., object]


class Bundle:
    """Addons mitmproxy sees as one chain entry, which hands each event to them in order.

    mitmproxy hands every event (about eight per request) to every entry of its chain: it
    walks an entry's children, looks each hook up on each of them, and rebuilds the event's
    arguments for every one that has it. The bundle keeps its children to itself and calls
    them directly, from one dispatcher per hook built on first use (``bench/dispatch_bench.py``
    measures both). As with mitmproxy's own walk, the entry has one error guard: an
    exception in one child skips the children after it for that event.
    """

    def __init__(self, name: str, children: Sequence[object]) -> None:
        self.name = name
        self.children = tuple(children)  # not ``addons``: mitmproxy would walk them itself
        self._absent: set[str] = set()  # hooks no child has: the bundle has none either

    def __getattr__(self, hook: str) -> Call:
        # Called only for names not set yet: each hook's dispatcher is built once and kept.
        # A hook no child has stays missing, as mitmproxy expects (it warns about some).
        if hook not in hooks.all_hooks or hook in self._absent:
            raise AttributeError(hook)
        calls = [getattr(c, hook) for c in self.children if callable(getattr(c, hook, None))]
        if not calls:
            self._absent.add(hook)
            raise AttributeError(hook)
        dispatch = _dispatcher(calls)
        setattr(self, hook, dispatch)
        return dispatch


def _dispatcher(calls: list[Call]) -> Call:
    """Call each in order; once one returns an awaitable, the rest run after it in a
    coroutine that mitmproxy awaits (a sync hook may hand back an awaitable too)."""

    def dispatch(*args: object) -> Awaitable[None] | None:
        for index, call in enumerate(calls):
            result = call(*args)
            if result is not None and inspect.isawaitable(result):
                return _finish(result, calls[index + 1 :], args)
        return None

    return dispatch


async def _finish(pending: Awaitable[object], rest: list[Call], args: tuple[object, ...]) -> None:
    await pending
    for call in rest:
        result = call(*args)
        if result is not None and inspect.isawaitable(result):
            await result
