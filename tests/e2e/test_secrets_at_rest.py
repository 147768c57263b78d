"""Secrets at rest and at start: owner-only key files, and no secret in `ps` or the logs."""

from __future__ import annotations

import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from shadowlens.proxy.dlp.config import KEY_FILE
from shadowlens.proxy.runtime import COACH_KEY_FILE
from tests.e2e.conftest import TOKEN, RunningProxy, running_shadowlens
from tests.e2e.upstream import Upstream

pytestmark = pytest.mark.e2e

CONFIGURED = {
    "SHADOWLENS_API_TOKENS": f"{TOKEN},second-token-Vb3kQ9",
    "SHADOWLENS_DLP_FINGERPRINT_KEY": "fingerprint-key-Zr8LmW2",
}
# mitmproxy's CA files that hold the CA's private key.
CA_KEY_FILES = ("mitmproxy-ca.pem", "mitmproxy-ca.p12")


@pytest.fixture(scope="module")
def started(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[RunningProxy]:
    env = {"SHADOWLENS_DLP_FINGERPRINT_KEY": CONFIGURED["SHADOWLENS_DLP_FINGERPRINT_KEY"]}
    with running_shadowlens(tmp_path_factory.mktemp("data"), upstream, env) as running:
        yield running


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_ca_and_generated_keys_are_owner_only(started: RunningProxy) -> None:
    confdir = started.data_dir / "mitmproxy"
    keys = [confdir / name for name in CA_KEY_FILES] + [started.data_dir / COACH_KEY_FILE]
    for path in keys:
        assert path.exists(), path
        assert _mode(path) & 0o077 == 0, f"{path.name} is {oct(_mode(path))}"


def test_a_generated_fingerprint_key_is_owner_only(tmp_path: Path, upstream: Upstream) -> None:
    with running_shadowlens(tmp_path / "data", upstream, {}) as running:
        key = running.data_dir / KEY_FILE
        assert key.exists() and _mode(key) & 0o077 == 0, oct(_mode(key))


def test_no_secret_in_ps_or_the_start_logs(started: RunningProxy) -> None:
    ps = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True, check=True).stdout
    assert "shadowlens run" in ps  # the proxy is there to be seen
    logs = "".join(started.output)
    secrets = [*TOKEN.split(","), CONFIGURED["SHADOWLENS_DLP_FINGERPRINT_KEY"]]
    secrets += [
        (started.data_dir / name).read_text().strip() for name in (COACH_KEY_FILE,)
    ]  # the coaching key the proxy made
    for secret in secrets:
        assert secret not in ps
        assert secret not in logs
