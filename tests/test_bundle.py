"""Bundle: one chain entry that hands each event to its children, in order, awaiting them."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable

from mitmproxy import http
from mitmproxy.proxy.layers.http import HttpRequestHook
from mitmproxy.test import taddons, tflow

from shadowlens.addons.bundle import Bundle


class Sync:
    def __init__(self, log: list[str], name: str) -> None:
        self.log, self.name = log, name

    def request(self, flow: http.HTTPFlow) -> None:
        self.log.append(self.name)


class Async(Sync):
    async def request(self, flow: http.HTTPFlow) -> None:  # type: ignore[override]
        await asyncio.sleep(0)
        self.log.append(self.name)


class HandsBackAnAwaitable(Sync):
    def request(self, flow: http.HTTPFlow) -> Awaitable[None]:  # type: ignore[override]
        async def later() -> None:
            self.log.append(self.name)

        return later()


def _through_mitmproxy(bundle: Bundle, events: int = 1) -> None:
    async def run() -> None:
        with taddons.context() as tctx:
            tctx.master.addons.add(bundle)
            for _ in range(events):
                await tctx.master.addons.trigger_event(HttpRequestHook(tflow.tflow()))

    asyncio.run(run())


def test_children_run_in_order_sync_async_and_awaitable_alike() -> None:
    log: list[str] = []
    children = [Sync(log, "a"), Async(log, "b"), Sync(log, "c"), HandsBackAnAwaitable(log, "d"),
                Sync(log, "e")]  # fmt: skip
    _through_mitmproxy(Bundle("bundle", children))
    assert log == ["a", "b", "c", "d", "e"]


def test_mitmproxy_neither_walks_the_children_nor_sees_hooks_they_lack() -> None:
    bundle = Bundle("bundle", [Sync([], "a")])
    assert not hasattr(bundle, "addons")  # mitmproxy would walk them itself
    assert not hasattr(bundle, "add_log")  # a deprecated hook: mitmproxy warns if present
    assert not hasattr(bundle, "response")  # no child has it: no dispatcher either
    assert hasattr(bundle, "request")
    assert not hasattr(bundle, "not_a_hook")


def test_an_exception_in_a_child_skips_the_rest_for_that_event_only() -> None:
    log: list[str] = []

    class Fails(Sync):
        def request(self, flow: http.HTTPFlow) -> None:
            raise RuntimeError("boom")

    bundle = Bundle("bundle", [Sync(log, "a"), Fails(log, "x"), Sync(log, "c")])
    _through_mitmproxy(bundle, events=2)  # mitmproxy's guard around the entry logs it
    assert log == ["a", "a"]
