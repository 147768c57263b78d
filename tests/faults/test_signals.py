"""Signals under load: SIGKILL loses no answered flow; SIGTERM finishes what is in flight."""

from __future__ import annotations

import signal
import threading
import time
from pathlib import Path

import pytest

from shadowlens.proxy.inventory.journal import JOURNAL_PREFIX
from shadowlens.proxy.inventory.spool import SPOOL_NAME
from tests.e2e.conftest import start_shadowlens, stop_shadowlens
from tests.faults.harness import (
    LONG,
    Load,
    fault_upstream,
    post,
    recorded_ids,
    routed,
    wait_recorded,
)

pytestmark = pytest.mark.e2e

CLIENTS = 32 if LONG else 8
ANSWERED = 3000 if LONG else 300
GRACE = 8.0


def test_sigkill_under_load_loses_no_answered_flow(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    database = data_dir / "shadowlens.db"
    # Batches every 2 s: at the kill, the last seconds of events are in memory only.
    env = {"SHADOWLENS_WRITER_FLUSH_SECONDS": "2"}
    with fault_upstream() as port:
        first = start_shadowlens(data_dir, routed(port), env)
        try:
            with Load(first.proxy_url, clients=CLIENTS) as load:
                load.wait_for(ANSWERED)
                first.process.kill()  # SIGKILL: no drain, no goodbye
                first.process.wait(timeout=10)
        finally:
            first.process.kill()
        answered = set(load.answered)
        assert recorded_ids(database) & answered != answered, "the kill lost nothing to replay"
        second = start_shadowlens(data_dir, routed(port), {})
        try:
            assert wait_recorded(database, answered) == answered, "".join(second.output)
        finally:
            assert stop_shadowlens(second) == 0, "".join(second.output)
    assert not list(data_dir.glob(JOURNAL_PREFIX + "*"))
    assert not (data_dir / SPOOL_NAME).exists()


def test_sigterm_finishes_flows_in_flight_and_drains_a_full_queue(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    env = {
        "SHADOWLENS_SHUTDOWN_GRACE_SECONDS": str(GRACE),
        "SHADOWLENS_WRITER_FLUSH_SECONDS": "3",  # the queue holds seconds of events at the signal
        "SHADOWLENS_WRITER_BATCH_SIZE": "100000",
    }
    with fault_upstream() as port:
        running = start_shadowlens(data_dir, routed(port), env)
        try:
            with Load(running.proxy_url, clients=CLIENTS) as load:
                load.wait_for(ANSWERED)
                slow = _SlowRequests(running.proxy_url, count=4, millis=2000)
                time.sleep(0.5)  # the slow requests are in flight at the upstream
                running.process.send_signal(signal.SIGTERM)
                signalled = time.monotonic()
                code = running.process.wait(timeout=3 * GRACE)
                took = time.monotonic() - signalled
        finally:
            running.process.kill()
    output = "".join(running.output)
    assert code == 0, output
    assert took < 2 * GRACE, output
    assert slow.statuses() == [200] * 4, output
    assert load.cut == 0, output  # no request was cut off mid-way
    assert "Traceback" not in output and "CancelledError" not in output, output
    answered = set(load.answered) | slow.ids
    assert recorded_ids(data_dir / "shadowlens.db") & answered == answered
    assert not list(data_dir.glob(JOURNAL_PREFIX + "*"))


class _SlowRequests:
    """``count`` requests the upstream answers after ``millis``, each on its own thread."""

    def __init__(self, proxy_url: str, *, count: int, millis: int) -> None:
        self.ids = {f"slow{n}" for n in range(count)}
        self.results: dict[str, int | str] = {}
        self.threads = [
            threading.Thread(target=self._send, args=(proxy_url, i, millis), daemon=True)
            for i in sorted(self.ids)
        ]
        for thread in self.threads:
            thread.start()

    def _send(self, proxy_url: str, request_id: str, millis: int) -> None:
        path = f"/slow/{millis}/v1/chat/completions/{request_id}"
        try:
            self.results[request_id] = post(proxy_url, path)
        except OSError as exc:
            self.results[request_id] = repr(exc)

    def statuses(self) -> list[int | str]:
        for thread in self.threads:
            thread.join(timeout=30)
        return [self.results.get(i, "no answer") for i in sorted(self.ids)]
