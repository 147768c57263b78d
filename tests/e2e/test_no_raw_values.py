"""No raw sensitive value anywhere: secrets and personal data planted in real traffic
through the real proxy never reach the database (SQLite file, a PostgreSQL dump), the spool,
the data dir, the logs, /metrics or any API response.

Each planted value is first checked to be one the DLP detects, so that its absence means
it was masked, not missed.
"""

from __future__ import annotations

import base64
import gzip
import json
import ssl
import subprocess
from pathlib import Path

import httpx
import pytest

from shadowlens.proxy.dlp import load_scanner
from tests.conftest import RULES_DIR
from tests.e2e.conftest import TOKEN, RunningProxy, running_shadowlens
from tests.e2e.upstream import Upstream
from tests.net import closed_port

pytestmark = pytest.mark.e2e

PLANTED = {
    "aws-access-key-id": "AKIAZ7Q2XK4M7TR3WB6P",
    "credit-card-number": "4539148803436467",
    "email": "jane.roe@example.org",
    "github": "ghp_" + "Zq7XyW3vB9nM2kL5pR8tH1sD4fG6jA0cE2uI",
    "iban": "DE89370400440532013000",
}
API_ROUTES = (
    "/api/v1/detections", "/api/v1/detections/export", "/api/v1/findings",
    "/api/v1/findings/export", "/api/v1/users", "/api/v1/services", "/api/v1/summary",
    "/api/v1/reports/iso42001", "/api/v1/audit", "/api/v1/policy", "/api/v1/tokens",
)  # fmt: skip
PROMPT = "deploy with {aws-access-key-id}, pay with {credit-card-number}, mail {email}, " \
    "push with {github}, wire to {iban}"  # fmt: skip


def _prompt() -> str:
    return PROMPT.format(**PLANTED)


def test_every_planted_value_is_one_the_dlp_detects() -> None:
    scanner = load_scanner(RULES_DIR / "dlp", fingerprint_key=b"k")
    for value in PLANTED.values():
        assert scanner.scan(f"value: {value} end"), value


def _client(proxy: RunningProxy) -> httpx.Client:
    tls = ssl.create_default_context(cafile=str(proxy.ca_file))
    return httpx.Client(proxy=proxy.proxy_url, verify=tls, trust_env=False, timeout=30)


def _plant(proxy: RunningProxy, tmp: Path) -> int:
    """Send the values every way a client might; returns how many AI requests were made."""
    prompt = _prompt()
    chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": prompt}]}
    encoded = base64.b64encode(prompt.encode() * 3).decode()
    with _client(proxy) as client:
        sent = [
            client.post("https://api.openai.com/v1/chat/completions", json=chat,
                        headers={"Authorization": f"Bearer {PLANTED['github']}",
                                 "Cookie": f"email={PLANTED['email']}"}),
            client.post(f"https://api.openai.com/v1/chat/completions?key={PLANTED['github']}"
                        f"&mail={PLANTED['email']}", json=chat),
            client.post("https://api.openai.com/v1/chat/completions",
                        content=gzip.compress(json.dumps(chat).encode()),
                        headers={"content-type": "application/json", "content-encoding": "gzip"}),
            client.post("https://api.anthropic.com/v1/messages",
                        json={"model": "claude", "max_tokens": 8,
                              "messages": [{"role": "user", "content": [
                                  {"type": "document", "source": {"data": encoded}}]}]}),
            client.post("https://chatgpt.com/backend-api/conversation", data={"q": prompt}),
            client.post("https://api.openai.com/v1/files", data={"purpose": "assistants"},
                        files={"file": ("notes.txt", prompt.encode(), "text/plain")}),
            client.get(f"https://api.openai.com/v1/files/{PLANTED['github']}/content"),
        ]  # fmt: skip
        client.post("https://example.com/form", data={"q": prompt})  # not AI: not recorded
    assert all(r.status_code < 500 for r in sent), [r.status_code for r in sent]
    return len(sent)


def _assert_absent(where: str, blob: bytes) -> None:
    leaked = [name for name, value in PLANTED.items() if value.encode() in blob]
    assert leaked == [], f"{leaked} found raw in {where}"


def _data_dir_bytes(proxy: RunningProxy) -> bytes:
    return b"".join(p.read_bytes() for p in proxy.data_dir.rglob("*") if p.is_file())


def _api_and_metrics(proxy: RunningProxy) -> bytes:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    bodies = []
    for route in API_ROUTES:
        response = httpx.get(proxy.api_url + route, headers=headers, timeout=10, trust_env=False)
        assert response.status_code in (200, 503), (route, response.status_code)
        bodies.append(response.content)
    bodies.append(httpx.get(proxy.api_url + "/metrics", timeout=10, trust_env=False).content)
    return b"".join(bodies)


def test_sqlite_data_dir_logs_and_api(tmp_path: Path, upstream: Upstream) -> None:
    with running_shadowlens(tmp_path / "data", upstream, {}) as proxy:
        sent = _plant(proxy, tmp_path)
        detections = proxy.wait_for_detections(sent, timeout=15)
        assert len(detections) >= sent
        findings = proxy.api("/api/v1/findings").json()["items"]
        assert {f["detector"] for f in findings} >= {"aws-access-key-id", "credit-card-number"}
        _assert_absent("API responses and /metrics", _api_and_metrics(proxy))
    _assert_absent("the data dir (SQLite, WAL, keys)", _data_dir_bytes(proxy))
    _assert_absent("the logs", "".join(proxy.output).encode())


@pytest.mark.postgres
def test_postgresql_dump(tmp_path: Path, upstream: Upstream, postgres_url: str) -> None:
    with running_shadowlens(
        tmp_path / "data", upstream, {"SHADOWLENS_DATABASE_URL": postgres_url}
    ) as proxy:
        sent = _plant(proxy, tmp_path)
        assert len(proxy.wait_for_detections(sent, timeout=15)) >= sent
    dump = subprocess.run(
        ["pg_dump", "--data-only", postgres_url.replace("+psycopg", "")],
        capture_output=True, check=True, timeout=120,
    ).stdout  # fmt: skip
    assert b"COPY public.detections" in dump and b"aws-access-key-id" in dump
    _assert_absent("the PostgreSQL dump", dump)
    _assert_absent("the logs", "".join(proxy.output).encode())


def test_spool_when_the_database_is_away(tmp_path: Path, upstream: Upstream) -> None:
    away = f"postgresql+psycopg://postgres@127.0.0.1:{closed_port()}/shadowlens"
    with running_shadowlens(
        tmp_path / "data", upstream, {"SHADOWLENS_DATABASE_URL": away}
    ) as proxy:
        _plant(proxy, tmp_path)
    spool = proxy.data_dir / "inventory.spool"
    assert spool.exists() and b"aws-access-key-id" in spool.read_bytes()
    _assert_absent("the spool", spool.read_bytes())
    _assert_absent("the data dir", _data_dir_bytes(proxy))
    _assert_absent("the logs", "".join(proxy.output).encode())
