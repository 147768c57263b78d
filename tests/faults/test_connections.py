"""Connections cut half-way: the detection is still recorded, and no addon raises."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningProxy, start_shadowlens, stop_shadowlens
from tests.faults.harness import (
    AI_HOST,
    fault_upstream,
    post,
    proxy_address,
    routed,
    wait_recorded,
)

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningProxy]:
    with fault_upstream() as port:
        running = start_shadowlens(tmp_path_factory.mktemp("data"), routed(port), {})
        yield running
        assert stop_shadowlens(running) == 0, "".join(running.output)
    output = "".join(running.output)
    assert "Traceback" not in output and "Addon error" not in output, output


def _database(proxy: RunningProxy) -> Path:
    return proxy.data_dir / "shadowlens.db"


def test_an_upstream_reset_mid_response_is_recorded(proxy: RunningProxy) -> None:
    request_id = uuid.uuid4().hex
    try:
        status = post(proxy.proxy_url, f"/reset/v1/chat/completions/{request_id}")
    except OSError:
        status = 0  # the client saw the cut
    assert status != 200
    assert wait_recorded(_database(proxy), {request_id}) == {request_id}
    assert post(proxy.proxy_url, f"/v1/chat/completions/{uuid.uuid4().hex}") == 200


def test_a_client_gone_mid_upload_is_recorded(proxy: RunningProxy) -> None:
    request_id = uuid.uuid4().hex
    head = (
        f"POST http://{AI_HOST}/v1/chat/completions/{request_id} HTTP/1.1\r\n"
        f"Host: {AI_HOST}\r\ncontent-type: application/json\r\ncontent-length: 200000\r\n\r\n"
    )
    with socket.create_connection(proxy_address(proxy.proxy_url)) as client:
        client.sendall(head.encode() + b'{"messages": [{"content": "' + b"x" * 50_000)
        client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\0\0\0\0\0\0\0")
    # closed with a zero linger: the proxy sees a reset half-way through the body
    assert wait_recorded(_database(proxy), {request_id}) == {request_id}
    assert post(proxy.proxy_url, f"/v1/chat/completions/{uuid.uuid4().hex}") == 200
