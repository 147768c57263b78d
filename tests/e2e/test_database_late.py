"""The database away at start: the proxy serves anyway and nothing is lost."""

from __future__ import annotations

import secrets
import subprocess
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from tests.conftest import _postgres_or_skip
from tests.e2e.conftest import RunningProxy, running_shadowlens
from tests.e2e.upstream import Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]


def _detections(proxy: RunningProxy) -> list[dict]:
    response = proxy.api("/api/v1/detections", service="openai-api")
    return list(response.json()["items"]) if response.status_code == 200 else []


def test_proxy_starts_without_its_database_and_writes_once_it_exists(
    tmp_path: Path, upstream: Upstream
) -> None:
    admin_url = _postgres_or_skip()
    name = f"shadowlens_late_{secrets.token_hex(5)}"
    url = make_url(admin_url).set(database=name).render_as_string(hide_password=False)
    admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    env = {"SHADOWLENS_DATABASE_URL": url}  # a database that does not exist yet
    try:
        with running_shadowlens(tmp_path / "data", upstream, env) as proxy:
            assert any("unreachable at start" in line for line in proxy.output)
            result = subprocess.run(
                ["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-x", proxy.proxy_url,
                 "--cacert", str(proxy.ca_file), "-H", "content-type: application/json",
                 "-d", '{"model":"m","messages":[{"role":"user","content":"hi"}]}',
                 "https://api.openai.com/v1/chat/completions"],
                capture_output=True, text=True, timeout=30, check=False,
            )  # fmt: skip
            assert result.stdout == "200"  # the proxy served while its database was away
            assert _detections(proxy) == []
            with admin.connect() as conn:
                conn.execute(text(f'CREATE DATABASE "{name}"'))
            deadline = time.monotonic() + 30
            while not (found := _detections(proxy)) and time.monotonic() < deadline:
                time.sleep(0.2)
            assert [d["path"] for d in found] == ["/v1/chat/completions"]
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()
