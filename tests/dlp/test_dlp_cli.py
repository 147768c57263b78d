"""``shadowlens dlp scan`` / ``redact`` through their argparse handlers."""

from __future__ import annotations

import argparse
import io
import json
import sys
from pathlib import Path

import pytest

from shadowlens.proxy.dlp.cli import register
from shadowlens.proxy.settings import Settings

AWS = "AKIAZ4QK7TRN2WJHX5MP"


def _run(
    argv: list[str], settings: Settings, monkeypatch: pytest.MonkeyPatch, stdin: bytes = b""
) -> tuple[int, bytes, str]:
    parser = argparse.ArgumentParser(prog="shadowlens")
    register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    out = io.BytesIO()
    text_out = io.TextIOWrapper(out, encoding="utf-8", write_through=True)
    err = io.StringIO()
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(stdin)))
    monkeypatch.setattr(sys, "stdout", text_out)
    monkeypatch.setattr(sys, "stderr", err)
    code = args.func(args, settings)
    text_out.flush()
    return code, out.getvalue(), err.getvalue()


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(data_dir=tmp_path, dlp_fingerprint_key="cli-test", dlp_engine="python")


def test_scan_file(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "notes.txt"
    path.write_text(f"deploy with {AWS}\nmail bob@corp.example\n")
    code, out, err = _run(["dlp", "scan", str(path)], settings, monkeypatch)
    assert code == 1
    lines = out.decode().splitlines()
    assert lines[0].split("\t") == [
        "-",
        "12-32",
        "critical",
        "secret",
        "aws-access-key-id",
        "AKIA************X5MP",
    ]
    assert AWS not in out.decode() and AWS not in err
    assert "2 finding(s)" in err


def test_scan_stdin_json_and_clean(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    body = json.dumps({"messages": [{"content": f"k {AWS}"}]}).encode()
    code, out, _ = _run(["dlp", "scan", "-"], settings, monkeypatch, stdin=body)
    assert code == 1 and out.decode().startswith("/messages/0/content\t")
    code, out, _ = _run(["dlp", "scan", "-"], settings, monkeypatch, stdin=b"nothing to see")
    assert code == 0 and out == b""


def test_scan_jsonl(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> None:
    lines = "\n".join(
        [
            json.dumps({"id": "a", "text": f"key {AWS}"}),
            json.dumps({"id": 7, "text": "clean"}),
            "not json",
        ]
    ).encode()
    code, out, err = _run(["dlp", "scan", "--jsonl", "-"], settings, monkeypatch, stdin=lines)
    rows = [json.loads(x) for x in out.decode().splitlines()]
    assert rows[0] == {
        "id": "a",
        "findings": [
            {
                "detector": "aws-access-key-id",
                "category": "secret",
                "start": 4,
                "end": 24,
                "preview": "AKIA************X5MP",
            }
        ],
    }
    assert rows[1] == {"id": 7, "findings": []}
    assert code == 2 and "line 3" in err


def test_redact_file_and_stdin(
    settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "req.json"
    path.write_bytes(json.dumps({"prompt": f"key {AWS}", "n": 1}).encode())
    code, out, _ = _run(["dlp", "redact", str(path)], settings, monkeypatch)
    assert code == 0
    assert json.loads(out) == {"prompt": "key [REDACTED:aws-access-key-id]", "n": 1}
    code, out, _ = _run(["dlp", "redact", "-"], settings, monkeypatch, stdin=f"a {AWS} b".encode())
    assert (code, out) == (0, b"a [REDACTED:aws-access-key-id] b")


def test_errors(settings: Settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    code, _, err = _run(["dlp", "scan", str(tmp_path / "missing.txt")], settings, monkeypatch)
    assert code == 2 and "missing.txt" in err
    bad = Settings(data_dir=tmp_path, rules_dir=tmp_path, dlp_fingerprint_key="k")
    code, _, err = _run(["dlp", "redact", "-"], bad, monkeypatch, stdin=b"x")
    assert code == 2 and "does not exist" in err


def test_fingerprint_key_file_is_created_once(tmp_path: Path) -> None:
    from shadowlens.proxy.dlp.config import fingerprint_key

    s = Settings(data_dir=tmp_path)
    first = fingerprint_key(s)
    assert len(first) == 32 and fingerprint_key(s) == first
    assert (tmp_path / "dlp-fingerprint.key").stat().st_mode & 0o777 == 0o600
