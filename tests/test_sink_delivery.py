"""Delivery to real loopback receivers: batches, retries, the per-sink spool, order, and a
proxy that is never held up by a sink."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import socket
import ssl
import stat
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.inventory.spool import Spool
from shadowlens.proxy.inventory.writer import InventoryWriter
from shadowlens.proxy.sinkconfig import SinkConfig
from shadowlens.proxy.sinks import delivery
from shadowlens.proxy.sinks.delivery import SinkHub, SinkWorker, emit, spool_path
from shadowlens.proxy.sinks.transports import open_transport, webhook_signature
from tests.e2e.upstream import make_test_pki
from tests.factories import detection_event
from tests.receivers import HttpCollector, Received, SyslogServer, UdpSyslogServer


@pytest.fixture(autouse=True)
def quick_retries(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(delivery, "FIRST_BACKOFF", 0.05)


def _config(**fields: Any) -> SinkConfig:
    return SinkConfig.model_validate({"batch_size": 10, "flush_seconds": 0.05, **fields})


def _worker(config: SinkConfig, data_dir: Path) -> SinkWorker:
    spool = Spool(spool_path(data_dir, config), max_bytes=config.spool_max_bytes)
    return SinkWorker(open_transport(config), spool)


async def _run(
    worker: SinkWorker, events: Sequence[DetectionEvent], until: Any, wait: float = 20
) -> None:
    """Start the worker, submit the events a few at a time, and wait for ``until()``."""
    worker.start()
    for n, event in enumerate(events):
        assert worker.submit(event)
        if n % 7 == 6:
            await asyncio.sleep(0.01)
    await _until(until, wait)
    await worker.close()


async def _until(condition: Any, wait: float) -> None:
    """Poll ``condition()`` for at most ``wait`` seconds."""
    for _ in range(int(wait / 0.05)):
        if condition():
            return
        await asyncio.sleep(0.05)


def _hec_event_ids(received: list[Received]) -> list[str]:
    decoder, ids = json.JSONDecoder(), []
    for request in received:
        text, at = request.body.decode(), 0
        while at < len(text):
            obj, at = decoder.raw_decode(text, at)
            ids.append(obj["event"]["id"])
    return ids


def _sample(labels: dict[str, str], metric: str) -> float:
    from prometheus_client import REGISTRY

    return REGISTRY.get_sample_value(metric, labels) or 0.0


def test_hec_gets_every_event_once_and_in_order_after_failing_first(tmp_path: Path) -> None:
    events = [detection_event(n) for n in range(45)]
    with HttpCollector(fail_first=3) as hec:
        config = _config(name="splunk", kind="hec", url=f"{hec.url}/services/collector",
                         token="hec-token-1")  # fmt: skip
        worker = _worker(config, tmp_path)
        labels = {"sink": "splunk", "kind": "hec"}
        retries = _sample(labels, "shadowlens_sink_retries_total")
        asyncio.run(_run(worker, events, lambda: len(_hec_event_ids(hec.received)) >= 45))
    assert hec.refused == 3
    assert _hec_event_ids(hec.received) == [e.id for e in events]
    assert all(r.headers["Authorization"] == "Splunk hec-token-1" for r in hec.received)
    assert _sample(labels, "shadowlens_sink_retries_total") - retries == 3
    assert _sample(labels, "shadowlens_sink_spool_bytes") == 0
    assert not spool_path(tmp_path, config).exists()


def test_webhook_batches_are_signed_and_a_forged_signature_does_not_verify(tmp_path: Path) -> None:
    events = [detection_event(n) for n in range(25)]
    with HttpCollector(fail_first=2) as hook:
        config = _config(name="hook", kind="webhook", url=hook.url, secret="s3cret", format="ecs")
        asyncio.run(_run(_worker(config, tmp_path), events, lambda: len(hook.received) >= 3))
    ids = [r["event"]["id"] for req in hook.received for r in json.loads(req.body)]
    assert ids == [e.id for e in events]
    for request in hook.received:
        stamp, signature = (
            request.headers["X-Shadowlens-Timestamp"],
            request.headers["X-Shadowlens-Signature"],
        )
        expected = hmac.new(b"s3cret", f"{stamp}.".encode() + request.body, hashlib.sha256)
        assert signature == f"sha256={expected.hexdigest()}"
        assert webhook_signature(b"s3cret", stamp, request.body + b" ") != signature
        assert webhook_signature(b"guess", stamp, request.body) != signature
        assert webhook_signature(b"s3cret", str(int(stamp) + 1), request.body) != signature


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_syslog_tcp_down_at_first_then_up_gets_everything_in_order(tmp_path: Path) -> None:
    port = _free_port()
    config = _config(name="siem", kind="syslog", url=f"tcp://127.0.0.1:{port}")
    worker = _worker(config, tmp_path)
    events = [detection_event(n, user=f"user{n}") for n in range(30)]
    server: list[SyslogServer] = []

    async def scenario() -> None:
        worker.start()
        for event in events[:12]:
            worker.submit(event)
        await asyncio.sleep(0.3)  # refused: nobody listens; spooled
        spool = spool_path(tmp_path, config)
        assert spool.exists() and stat.S_IMODE(spool.stat().st_mode) == 0o600
        receiver = SyslogServer(port=port)
        server.append(receiver.__enter__())
        for event in events[12:]:
            worker.submit(event)
        await _until(lambda: len(receiver.messages) >= 30, 20)
        await worker.close()

    asyncio.run(scenario())
    receiver = server[0]
    receiver.__exit__()
    assert receiver.errors == []
    assert [m["cef"]["extension"]["externalId"] for m in receiver.messages] == [
        e.id for e in events
    ]
    assert receiver.messages[0]["cef"]["extension"]["suser"] == "user0"


def test_syslog_tls_verifies_the_receiver_and_delivers(tmp_path: Path) -> None:
    ca, cert, key = make_test_pki(tmp_path, ["localhost"])
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(cert, key)
    sent = [detection_event(1), detection_event(2)]
    with SyslogServer(tls=context) as receiver:
        url = receiver.url.replace("tcp://127.0.0.1", "tls://localhost")
        trusted = open_transport(_config(name="tls", kind="syslog", url=url, ca_file=str(ca)))
        trusted.send(sent)
        untrusted = open_transport(_config(name="tls2", kind="syslog", url=url))
        with pytest.raises(ssl.SSLCertVerificationError):  # never to an unverified receiver
            untrusted.send([detection_event(3)])
        receiver.wait_for(2)
        trusted.close()
    assert receiver.errors == []
    assert [m["cef"]["extension"]["externalId"] for m in receiver.messages] == [e.id for e in sent]


def test_syslog_udp_sends_one_rfc5424_message_a_datagram(tmp_path: Path) -> None:
    receiver = UdpSyslogServer()
    try:
        transport = open_transport(_config(name="udp", kind="syslog", url=receiver.url))
        transport.send([detection_event(1), detection_event(2)])
        transport.close()
        first, second = receiver.receive(), receiver.receive()
    finally:
        receiver.close()
    assert first.startswith("<") and " CEF:0|shadowlens|" in first
    assert second.split(" ", 2)[1] == "2026-11-02T09:00:02.000Z"


def test_file_sink_rotates_by_size_and_keeps_every_line(tmp_path: Path) -> None:
    path = tmp_path / "out" / "events.ndjson"
    config = _config(name="file", kind="file", path=str(path), max_bytes=4096, backups=2,
                     format="ocsf")  # fmt: skip
    transport = open_transport(config)
    for n in range(0, 30, 3):
        transport.send([detection_event(n + k) for k in range(3)])
    transport.close()
    files = sorted(path.parent.iterdir())
    assert [f.name for f in files] == ["events.ndjson", "events.ndjson.1", "events.ndjson.2"]
    assert all(f.stat().st_size <= 4096 for f in files)
    assert all(stat.S_IMODE(f.stat().st_mode) == 0o600 for f in files)
    kept = [json.loads(line) for f in files for line in f.read_text().splitlines()]
    assert all(r["class_uid"] == 4002 for r in kept)
    assert len({r["metadata"]["uid"] for r in kept}) == len(kept)


def test_spool_left_at_stop_is_delivered_first_at_the_next_start(tmp_path: Path) -> None:
    port = _free_port()
    config = _config(name="later", kind="syslog", url=f"tcp://127.0.0.1:{port}")
    events = [detection_event(n) for n in range(20)]
    asyncio.run(_run(_worker(config, tmp_path), events[:15], lambda: False, wait=0.3))
    assert Spool(spool_path(tmp_path, config), max_bytes=1 << 20).pending()
    with SyslogServer(port=port) as receiver:
        asyncio.run(
            _run(_worker(config, tmp_path), events[15:], lambda: len(receiver.messages) >= 20)
        )
    got = [m["cef"]["extension"]["externalId"] for m in receiver.messages]
    assert got == [e.id for e in events]


def test_a_full_queue_drops_and_counts_without_waiting(tmp_path: Path) -> None:
    config = _config(name="tiny", kind="file", path=str(tmp_path / "x.ndjson"), queue_size=5)
    worker = _worker(config, tmp_path)
    labels = {"sink": "tiny", "kind": "file"}
    before = _sample(labels, "shadowlens_sink_dropped_total")

    async def flood() -> list[bool]:
        started = time.perf_counter()
        accepted = [worker.submit(detection_event(n)) for n in range(8)]  # not started: no drain
        assert time.perf_counter() - started < 0.05
        return accepted

    assert asyncio.run(flood()) == [True] * 5 + [False] * 3
    assert _sample(labels, "shadowlens_sink_dropped_total") - before == 3


def test_a_full_spool_drops_and_counts(tmp_path: Path) -> None:
    config = _config(name="capped", kind="syslog", url=f"tcp://127.0.0.1:{_free_port()}",
                     spool_max_bytes=3000, batch_size=2)  # fmt: skip
    labels = {"sink": "capped", "kind": "syslog"}
    before = _sample(labels, "shadowlens_sink_dropped_total")
    asyncio.run(
        _run(
            _worker(config, tmp_path),
            [detection_event(n) for n in range(40)],
            lambda: False,
            wait=0.3,
        )
    )
    assert spool_path(tmp_path, config).stat().st_size <= 3000
    assert _sample(labels, "shadowlens_sink_dropped_total") - before > 0


def test_emit_delivers_a_log_scan_and_spools_what_a_sink_refuses(tmp_path: Path) -> None:
    events = [detection_event(n) for n in range(12)]
    with HttpCollector() as hook:
        good = _config(name="hook", kind="webhook", url=hook.url)
        down = _config(name="down", kind="syslog", url=f"tcp://127.0.0.1:{_free_port()}")
        emit([good, down], tmp_path, events)
    ids = [r["id"] for req in hook.received for r in json.loads(req.body)]
    assert ids == [e.id for e in events]
    spooled = [e.id for _, batch in Spool(spool_path(tmp_path, down), max_bytes=1 << 20).batches()
               for e in batch]  # fmt: skip
    assert spooled == [e.id for e in events]


def test_tee_writer_feeds_the_hub_and_the_writer(tmp_path: Path) -> None:
    written: list[DetectionEvent] = []
    seen: list[DetectionEvent] = []

    class Recording:
        def submit(self, event: DetectionEvent) -> bool:
            seen.append(event)
            return True

        def start(self) -> None:
            """Nothing to run."""

        async def close(self, grace: float = 10.0) -> None:
            """Nothing to drain."""

    async def scenario() -> None:
        def record(batch: Sequence[DetectionEvent]) -> int:
            written.extend(batch)
            return len(batch)

        writer = InventoryWriter(record, tee=SinkHub([Recording()]).submit, queue_size=10,
                                 batch_size=10, flush_seconds=0.01)  # fmt: skip
        writer.start()
        assert writer.submit(detection_event(1))
        await writer.close()

    asyncio.run(scenario())
    assert [e.id for e in seen] == [e.id for e in written]


def test_stdout_sink_writes_one_json_record_a_line(
    capfdbinary: pytest.CaptureFixture[bytes],
) -> None:
    transport = open_transport(_config(name="out", kind="stdout", format="ocsf"))
    transport.send([detection_event(1), detection_event(2, method="GET")])
    lines = capfdbinary.readouterr().out.splitlines()
    assert [json.loads(line)["activity_id"] for line in lines] == [6, 3]
