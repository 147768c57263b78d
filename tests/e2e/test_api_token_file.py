"""The API token made when none is configured: kept in a 0600 file, never printed."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest

pytestmark = pytest.mark.e2e


def test_the_generated_token_is_written_to_an_owner_only_file(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "SHADOWLENS_API_TOKENS"}
    env |= {"SHADOWLENS_DATA_DIR": str(tmp_path), "SHADOWLENS_API_PORT": "0"}
    process = subprocess.Popen(
        [sys.executable, "-m", "shadowlens", "api"],
        env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output: list[str] = []
    assert process.stdout is not None
    stdout = process.stdout
    threading.Thread(target=lambda: output.extend(iter(stdout.readline, "")), daemon=True).start()
    try:
        deadline = time.monotonic() + 90
        while not (found := re.search(r"API listening on (\S+)", "".join(output))):
            assert time.monotonic() < deadline and process.poll() is None, "".join(output)
            time.sleep(0.05)
        token_file = tmp_path / "api-token"
        token = token_file.read_text().strip()
        assert token_file.stat().st_mode & 0o777 == 0o600
        assert str(token_file) in "".join(output)
        assert token not in "".join(output)
        api = found.group(1)
        auth = {"Authorization": f"Bearer {token}"}
        assert httpx.get(f"{api}/api/v1/services", headers=auth, trust_env=False).status_code == 200
        assert httpx.get(f"{api}/api/v1/services", trust_env=False).status_code == 401
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
