"""The ``shadowlens`` command, run as a user would run it."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from proxy.cli import main
from tests.conftest import RULES_DIR


def shadowlens(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "proxy", *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=os.environ | (env or {}),
        timeout=60,
        check=False,
    )


def test_classify_json_hosts_and_urls(capsys: pytest.CaptureFixture[str]) -> None:
    assert (
        main(
            ["classify", "--json", "chatgpt.com", "https://api.openai.com/v1/x?k=1", "example.org"]
        )
        == 0
    )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [line["service"] for line in lines] == ["chatgpt", "openai-api", None]
    assert lines[0] == {
        "target": "chatgpt.com",
        "service": "chatgpt",
        "name": "ChatGPT",
        "category": "chat_assistant",
        "evidence": "host",
        "matched": "chatgpt.com",
    }


def test_classify_reads_targets_from_stdin() -> None:
    hosts = [f"h{n}.example.net" for n in range(10_000)] + ["x.claude.ai"]
    result = shadowlens("classify", "--json", "-", stdin="\n".join(hosts) + "\n")
    assert result.returncode == 0, result.stderr
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert len(lines) == 10_001
    assert lines[-1]["service"] == "claude"
    assert {line["service"] for line in lines[:-1]} == {None}


def test_a_malformed_rules_file_fails_with_file_entry_and_reason(tmp_path: Path) -> None:
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "bad.yaml").write_text(
        "services:\n  - {id: ok-one, name: A, vendor: B, category: llm_api, domains: [a.example]}\n"
        "  - {id: broken, name: A, vendor: B, category: nonsense, domains: [b.example]}\n"
    )
    result = shadowlens("classify", "a.example", env={"SHADOWLENS_RULES_DIR": str(tmp_path)})
    assert result.returncode == 2
    assert "bad.yaml: broken: unknown category 'nonsense'" in result.stderr


def test_a_bad_setting_is_a_clear_error() -> None:
    result = shadowlens("classify", "x", env={"SHADOWLENS_PROXY_PORT": "eighty"})
    assert result.returncode == 2 and "proxy_port" in result.stderr


def test_ca_creates_and_prints_the_ca(tmp_path: Path) -> None:
    result = shadowlens("ca", env={"SHADOWLENS_DATA_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    path = Path(result.stdout.splitlines()[0])
    assert path == tmp_path / "mitmproxy" / "mitmproxy-ca-cert.pem"
    assert path.read_text().startswith("-----BEGIN CERTIFICATE-----")
    assert "SSL_CERT_FILE" in result.stdout and "NODE_EXTRA_CA_CERTS" in result.stdout


def test_db_upgrade_on_postgres_and_sqlite(database_url: str, tmp_path: Path) -> None:
    env = {"SHADOWLENS_DATABASE_URL": database_url, "SHADOWLENS_DATA_DIR": str(tmp_path)}
    for _ in range(2):  # idempotent
        result = shadowlens("db", "upgrade", env=env)
        assert result.returncode == 0, result.stderr
        assert "is up to date" in result.stdout
    assert "postgres@" not in result.stdout or "***" not in database_url


def test_unknown_flags_are_refused_outside_the_proxy_commands() -> None:
    result = shadowlens("classify", "--bogus", "x")
    assert result.returncode == 2 and "unrecognized arguments: --bogus" in result.stderr


def test_proxy_passes_mitmproxy_help_through() -> None:
    result = shadowlens("proxy", "--mitmproxy-help")
    assert result.returncode == 0 and "--mode" in result.stdout


def test_rules_dir_default_is_the_repository_rules() -> None:
    assert (RULES_DIR / "services").is_dir()
