"""End-to-end harness: the real ``shadowlens run`` process, a fake upstream, real clients."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.e2e.upstream import Upstream, make_test_pki
from tests.net import closed_port

HERE = Path(__file__).resolve().parent
TOKEN = "e2e-token"
UPSTREAM_HOSTS = [
    "api.openai.com",
    "api.anthropic.com",
    "example.com",
    "llm.internal.test",
    "claude.ai",
    "api.mistral.ai",
    "api.deepseek.com",
    "chat.deepseek.com",
    "chatgpt.com",
    "www.midjourney.com",
]
NO_DECRYPT = "claude.ai"


@dataclass
class RunningProxy:
    """A running ``shadowlens run`` and how to reach it."""

    process: subprocess.Popen[str]
    proxy_url: str
    api_url: str
    ca_file: Path
    data_dir: Path
    output: list[str]

    def api(self, path: str, **params: str) -> httpx.Response:
        headers = {"Authorization": f"Bearer {TOKEN}"}
        url = f"{self.api_url}{path}"
        return httpx.get(url, params=params, headers=headers, timeout=5, trust_env=False)

    def wait_for_detections(self, count: int, timeout: float = 5.0, **params: str) -> list[dict]:
        """Poll the API until ``count`` detections match ``params``."""
        deadline = time.monotonic() + timeout
        while True:
            items = self.api("/api/v1/detections", **params).json()["items"]
            if len(items) >= count or time.monotonic() > deadline:
                return list(items)
            time.sleep(0.05)


def _wait_for(output: list[str], pattern: str, process: subprocess.Popen[str]) -> str:
    deadline = time.monotonic() + 240  # a loaded 2-core machine can take minutes to start
    while time.monotonic() < deadline:
        for line in output:
            if match := re.search(pattern, line):
                return match.group(1)
        if process.poll() is not None:
            break
        time.sleep(0.05)
    raise AssertionError(f"shadowlens did not print {pattern!r}:\n" + "".join(output))


def start_shadowlens(data_dir: Path, mitm_args: list[str], env: dict[str, str]) -> RunningProxy:
    """Start ``shadowlens run`` on free loopback ports and wait until both parts listen."""
    full_env = (
        os.environ
        | env
        | {
            "SHADOWLENS_DATA_DIR": str(data_dir),
            "SHADOWLENS_PROXY_PORT": "0",
            "SHADOWLENS_API_PORT": "0",
            "SHADOWLENS_API_TOKENS": TOKEN,
            "PYTHONUNBUFFERED": "1",
        }
    )
    process = subprocess.Popen(
        [sys.executable, "-m", "shadowlens", "run", *mitm_args],
        env=full_env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: output.extend(iter(stdout.readline, "")), daemon=True).start()
    try:
        proxy = _wait_for(output, r"proxy listening on (\S+)", process)
        api = _wait_for(output, r"API listening on (\S+)", process)
    except AssertionError:
        process.kill()  # never leave a half-started proxy behind
        raise
    return RunningProxy(
        process=process,
        proxy_url=f"http://{proxy}",
        api_url=api,
        ca_file=data_dir / "mitmproxy" / "mitmproxy-ca-cert.pem",
        data_dir=data_dir,
        output=output,
    )


def stop_shadowlens(running: RunningProxy) -> int:
    running.process.send_signal(signal.SIGTERM)
    try:
        return running.process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        running.process.kill()
        raise


@pytest.fixture(scope="module")
def upstream(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Upstream]:
    folder = tmp_path_factory.mktemp("pki")
    ca, cert, key = make_test_pki(folder, UPSTREAM_HOSTS)
    with Upstream(cert, key) as server:
        server.ca_file = ca  # type: ignore[attr-defined]
        yield server


def routed_args(upstream: Upstream) -> list[str]:
    """mitmdump flags sending the test hosts to ``upstream`` and everything else nowhere."""
    routes = ",".join(f"{h}={upstream.port}" for h in UPSTREAM_HOSTS) + f",*={closed_port()}"
    return [
        "-s", str(HERE / "loopback_routes.py"),
        "--set", f"loopback_routes={routes}",
        "--set", f"ssl_verify_upstream_trusted_ca={upstream.ca_file}",  # type: ignore[attr-defined]
    ]  # fmt: skip


@contextmanager
def running_shadowlens(
    data_dir: Path, upstream: Upstream, env: dict[str, str]
) -> Iterator[RunningProxy]:
    """A routed ``shadowlens run`` for the duration of the block; it must stop cleanly."""
    running = start_shadowlens(data_dir, routed_args(upstream), env)
    try:
        yield running
    finally:
        assert stop_shadowlens(running) == 0, "".join(running.output)


@pytest.fixture(scope="module")
def shadowlens(
    tmp_path_factory: pytest.TempPathFactory, upstream: Upstream
) -> Iterator[RunningProxy]:
    """One proxy for the module, routing the upstream hosts to the fake upstream."""
    env = {"SHADOWLENS_NO_DECRYPT_HOSTS": NO_DECRYPT}
    with running_shadowlens(tmp_path_factory.mktemp("data"), upstream, env) as running:
        yield running
