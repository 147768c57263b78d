"""The ``shadowlens`` command, run as a user would run it."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from shadowlens.proxy.cli import main
from tests.conftest import RULES_DIR


def shadowlens(
    *args: str, stdin: str = "", env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "shadowlens", *args],
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
    assert {k: lines[0][k] for k in ("target", "service", "name", "category")} == {
        "target": "chatgpt.com",
        "service": "chatgpt",
        "name": "ChatGPT",
        "category": "chat_assistant",
    }
    assert (lines[0]["evidence"], lines[0]["matched"], lines[0]["confidence"]) == (
        "host",
        "chatgpt.com",
        0.9,
    )
    risk = lines[0]["risk"]
    assert risk["assessed"] and risk["score"] == sum(f["points"] for f in risk["factors"])
    assert lines[2]["evidence"] is None


def test_classify_with_method_headers_and_body(tmp_path: Path) -> None:
    body = tmp_path / "body.json"
    body.write_text('{"model": "llama3", "messages": [{"role": "user", "content": "hi"}]}')
    result = shadowlens(
        "classify", "--json", "--method", "post", "--header", "Content-Type: application/json",
        "--header", "User-Agent: OpenAI/Python 1.99.0", "--body", str(body),
        "http://10.9.8.7:8000/v1/chat/completions",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    line = json.loads(result.stdout)
    assert line["service"] == "unknown-llm-endpoint:10.9.8.7"
    assert (line["evidence"], line["model"], line["client"]) == (
        "protocol",
        "llama3",
        "openai-python",
    )
    assert line["signals"] == ["protocol", "user_agent"]


def test_rules_lint_passes_on_the_shipped_rules_and_names_a_bad_file(tmp_path: Path) -> None:
    ok = shadowlens("rules", "lint")
    assert ok.returncode == 0 and ok.stdout.startswith("rules ok: ")
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "x.yaml").write_text(
        "services:\n  - {id: a-b, name: A, vendor: V, category: llm_api, domains: [a.example]}\n"
        "  - {id: c-d, name: C, vendor: V, category: llm_api, domains: [a.example]}\n"
    )
    bad = shadowlens("rules", "lint", env={"SHADOWLENS_RULES_DIR": str(tmp_path)})
    assert bad.returncode == 2
    assert "x.yaml: c-d: a.example is also in a-b" in bad.stderr


def test_rules_lint_stats_counts_services_families_and_facts(tmp_path: Path) -> None:
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "mcp-servers.yaml").write_text(
        "services:\n  - {id: m-a, name: M, vendor: V, category: mcp_server, domains: [m.example]}\n"
    )
    (tmp_path / "services" / "llm-apis.yaml").write_text(
        "services:\n"
        "  - {id: l-a, name: L, vendor: V, category: llm_api, domains: [l.example, l2.example],\n"
        "     facts: {sso: {value: true, source: 'https://l.example/', read: '2026-11-30'},\n"
        "             hq_country: {value: DE, source: 'https://l.example/', read: '2026-11-30'}}}\n"
        "  - {id: l-b, name: L, vendor: V, category: llm_api, family: model-hubs,\n"
        "     facts: {hq_country: {value: FR, source: 'https://l.example/', read: '2026-11-30'}},\n"
        "     host_patterns: ['api.*.lb.example']}\n"
    )
    result = shadowlens("rules", "lint", "--stats", env={"SHADOWLENS_RULES_DIR": str(tmp_path)})
    assert result.returncode == 0, result.stderr
    stats = dict(line.strip().split("\t") for line in result.stdout.splitlines() if "\t" in line)
    assert (stats["services"], stats["domains"], stats["host_patterns"]) == ("3", "3", "1")
    assert (stats["services_with_facts"], stats["facts"], stats["services_assessed"]) == (
        "2",
        "3",
        "1",
    )
    assert (stats["llm_api"], stats["mcp_server"]) == ("2", "1")
    assert (stats["llm-apis"], stats["mcp-servers"], stats["model-hubs"]) == ("1", "1", "1")


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
    assert "bad.yaml: broken: category: 'nonsense' is not one of" in result.stderr


def test_the_policy_and_identities_follow_the_rules_dir(tmp_path: Path) -> None:
    # As in the container image: the rules are copied elsewhere and only the folder is set.
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    policy = rules / "policy.yaml"
    policy.write_text(policy.read_text().replace("dry_run: false", "dry_run: true"))
    result = shadowlens("policy", "lint", env={"SHADOWLENS_RULES_DIR": str(rules)})
    assert result.returncode == 0, result.stderr
    assert "dry_run=true" in result.stdout


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


def _piped_into_closed_reader(args: list[str], data_dir: Path) -> subprocess.CompletedProcess[str]:
    """Run shadowlens with stdout a pipe whose reader has gone, as ``| head -1`` leaves it."""
    read_end, write_end = os.pipe()
    os.close(read_end)  # every write now fails with EPIPE, as soon as it is made
    try:
        return subprocess.run(
            [sys.executable, "-m", "shadowlens", *args],
            stdout=write_end,
            stderr=subprocess.PIPE,
            text=True,
            env=os.environ | {"SHADOWLENS_DATA_DIR": str(data_dir)},
            timeout=60,
            check=False,
        )
    finally:
        os.close(write_end)


@pytest.mark.parametrize("args", [["ca"], ["classify", "--json", "chatgpt.com"]])
def test_a_closed_pipe_is_quiet(args: list[str], tmp_path: Path) -> None:
    done = _piped_into_closed_reader(args, tmp_path)
    assert (done.returncode, done.stderr) == (0, "")


def test_head_takes_the_first_line_and_nothing_complains(tmp_path: Path) -> None:
    """The README's own pipe, with more output than a pipe buffers."""
    targets = tmp_path / "targets"
    targets.write_text("\n".join(f"host{n}.example" for n in range(6000)))
    env = os.environ | {"SHADOWLENS_DATA_DIR": str(tmp_path)}
    with targets.open() as stdin:
        command = [sys.executable, "-m", "shadowlens", "classify", "-"]
        pipe = subprocess.PIPE
        writer = subprocess.Popen(command, stdin=stdin, stdout=pipe, stderr=pipe, env=env)
        assert writer.stdout is not None and writer.stderr is not None
        head = subprocess.run(["head", "-1"], stdin=writer.stdout, capture_output=True, check=False)
        writer.stdout.close()  # head alone holds the reading end, as in a shell pipeline
        stderr = writer.stderr.read()
        assert writer.wait(timeout=120) == 0
    assert head.stdout == b"host0.example\t-\t\n" and stderr == b""
