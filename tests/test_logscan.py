"""``shadowlens logs scan``: every format, the inventory it fills, re-scans, inputs, speed-ups."""

from __future__ import annotations

import gzip
import io
import json
import random
import shutil
import sys
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
import zstandard
from sqlalchemy import select

from shadowlens.proxy.catalog import load_catalog
from shadowlens.proxy.cli import main
from shadowlens.proxy.dlp import DlpLimits
from shadowlens.proxy.dlp import config as dlp_config
from shadowlens.proxy.inventory.models import (
    Detection,
    FindingRow,
    LogFile,
    ServiceSeen,
    ServiceUser,
    UserSeen,
)
from shadowlens.proxy.logs import scan as scan_module
from shadowlens.proxy.logs import state
from shadowlens.proxy.logs.chunks import ChunkWorker, excerpt
from shadowlens.proxy.logs.classify import LogClassifier
from shadowlens.proxy.logs.paths import PathMasker
from shadowlens.proxy.logs.scan import LogScanner
from shadowlens.proxy.logs.sources import FileSlice
from shadowlens.proxy.policy import IdentityResolver
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import Settings
from tests.conftest import RULES_DIR

LOGS = Path(__file__).parent / "data" / "logs"
CATALOG = load_catalog(RULES_DIR)

# file: (format, lines, parsed, skipped, {service: requests})
SAMPLES = {
    "squid_native.log": ("squid", 10, 8, 2, {"chatgpt": 1, "openai-api": 1, "notion-ai": 1,
                                              "claude": 1, "gemini": 1}),
    "squid_combined.log": ("combined", 7, 6, 1, {
        "chatgpt": 1, "anthropic-api": 1, "unknown-llm-endpoint:llm.lab.example": 1,
        "mistral": 1, "perplexity": 1}),
    "zeek_http.log": ("zeek", 15, 5, 1, {"chatgpt": 1, "openai-api": 1, "huggingface": 1,
                                          "unknown-llm-endpoint:198.51.100.50": 1}),
    "zeek_ssl.log": ("zeek", 12, 4, 0, {"claude": 1, "gemini": 1}),
    "zeek_dns.log": ("zeek", 13, 3, 1, {"deepseek": 1, "mistral": 1}),
    "zeek_http.json": ("zeek-json", 5, 4, 1, {"chatgpt": 1, "anthropic-api": 1,
                                              "microsoft-copilot": 1}),
    "zeek_ssl.json": ("zeek-json", 2, 2, 0, {"claude": 1, "gemini": 1}),
    "zeek_dns.json": ("zeek-json", 2, 2, 0, {"deepseek": 1}),
    "pihole.log": ("dnsmasq", 9, 4, 2, {"chatgpt": 1, "claude": 1, "perplexity": 1}),
    "bind_query.log": ("bind", 5, 4, 1, {"chatgpt": 1, "openai-api": 1, "gemini": 1}),
    "windows_dns.log": ("windows-dns", 13, 3, 1, {"chatgpt": 1, "anthropic-api": 1}),
    "zscaler_nss.csv": ("csv", 5, 3, 1, {"chatgpt": 1, "claude": 1}),
    "netskope_web.csv": ("csv", 5, 3, 1, {"gemini": 1, "anthropic-api": 1}),
    "paloalto_url.csv": ("csv", 4, 3, 0, {"chatgpt": 1, "openai-api": 1}),
    "umbrella_dns.csv": ("csv", 4, 3, 0, {"chatgpt": 1, "deepseek": 1}),
}  # fmt: skip


def _worker() -> ChunkWorker:
    return ChunkWorker(LogClassifier(CATALOG), IdentityResolver())


@pytest.fixture
def sqlite_core(tmp_path: Path) -> Iterator[Core]:
    core = Core.open(
        Settings(data_dir=tmp_path / "data", database_url=f"sqlite:///{tmp_path / 'i.db'}",
                 rules_dir=RULES_DIR)
    )  # fmt: skip
    yield core
    core.close()


def _scan(core: Core, *names: str | Path, workers: int = 1, **options: object) -> LogScanner:
    paths = PathMasker(lambda: dlp_config.secret_scanner(core.settings), DlpLimits())
    scanner = LogScanner(core, _worker(), paths, workers=workers, **options)  # type: ignore[arg-type]
    try:
        for name in names:
            scanner.scan(str(name))
    finally:
        scanner.close()
    return scanner


def _requests(scanner: LogScanner) -> dict[str, int]:
    return {sid: total.requests for sid, total in scanner.report.services.items()}


@pytest.mark.parametrize("name", sorted(SAMPLES))
def test_every_sample_log_is_detected_and_read(sqlite_core: Core, name: str) -> None:
    fmt, lines, parsed, skipped, services = SAMPLES[name]
    scanner = _scan(sqlite_core, LOGS / name)
    (report,) = scanner.report.files
    assert (report.format, report.lines, report.parsed, report.skipped) == (
        fmt,
        lines,
        parsed,
        skipped,
    )
    assert _requests(scanner) == services
    assert len(report.bad) == skipped
    assert all(number >= 1 for number, _ in report.bad)


def test_the_path_and_the_user_agent_decide_where_the_log_has_them(sqlite_core: Core) -> None:
    scanner = _scan(sqlite_core, LOGS / "squid_native.log", LOGS / "squid_combined.log")
    with sqlite_core.sessions() as session:
        rows = {d.service_id: d for d in session.scalars(select(Detection))}
    # POST /api/v3/getCompletion is Notion AI; GET /api/v3/loadPageChunk on the same host is not
    assert rows["notion-ai"].signals == "log,path" and rows["notion-ai"].path.endswith(
        "getCompletion"
    )
    # An OpenAI SDK talking to an unknown host marks an unknown LLM endpoint
    assert rows["unknown-llm-endpoint:llm.lab.example"].client == "openai-python"
    # CONNECT is looked up like an SNI; the percent-encoded path is decoded
    assert rows["chatgpt"].signals == "log,sni" and rows["chatgpt"].method == "CONNECT"
    assert rows["claude"].path == "/api/append_message"
    assert all(d.evidence == "log" for d in rows.values())
    assert scanner.report.services["gemini"].users == {"carol\ufffd": 1}  # the non-UTF-8 byte


def test_a_csv_with_unknown_columns_is_read_with_map(sqlite_core: Core) -> None:
    with pytest.raises(ValueError, match="give --format"):
        _scan(sqlite_core, LOGS / "custom_export.csv")
    scanner = _scan(
        sqlite_core, LOGS / "custom_export.csv",
        mapping={"time": "when", "user": "who", "host": "site", "bytes_out": "sent"},
    )  # fmt: skip
    assert _requests(scanner) == {"claude": 1, "mistral": 1}
    assert scanner.report.services["claude"].bytes_out == 1000
    with pytest.raises(ValueError, match="no such column"):
        _scan(sqlite_core, LOGS / "custom_export.csv", mapping={"host": "nope"})


def test_the_register_counts_requests_users_bytes_and_times(core: Core, tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    lines = [
        f"{1796032800 + i * 600}.250 5 10.0.0.{i % 3} TCP_MISS/200 {100 + i} POST "
        f"https://chatgpt.com/backend-api/conversation user{i % 3} HIER_DIRECT/1.2.3.4 -"
        for i in range(12)  # two hours, three users
    ]
    log.write_text("\n".join(lines) + "\n")
    _scan(core, log)
    with core.sessions() as session:
        service = session.get(ServiceSeen, "chatgpt")
        assert service is not None
        assert (service.requests, service.users, service.bytes_down) == (12, 3, 1266)
        assert service.first_seen.timestamp() == 1796032800.25
        assert service.last_seen.timestamp() == 1796032800.25 + 11 * 600
        pairs = session.scalars(select(ServiceUser.user)).all()
        assert sorted(pairs) == ["user0", "user1", "user2"]
        user = session.get(UserSeen, "user1")
        assert user is not None and user.requests == 4
        detections = session.scalars(select(Detection)).all()
        assert sum(d.requests for d in detections) == 12
        assert len(detections) == 6  # one per hour and user


def test_a_secret_in_a_logged_path_is_kept_masked_with_its_finding(
    sqlite_core: Core, tmp_path: Path
) -> None:
    token = "ghp_" + "Zq7XyW3vB9nM2kL5pR8tH1sD4fG6jA0cE2uI"
    log = tmp_path / "access.log"
    log.write_text(
        f"1764496801.200 85 192.0.2.10 TCP_MISS/200 2048 GET "
        f"https://api.openai.com/v1/files/{token}/content bob HIER_DIRECT/162.159.140.245 -\n"
        f"1764496802.200 85 192.0.2.11 TCP_MISS/200 2048 GET "
        f"https://api.openai.com/v1/files/%67{token[1:]} carol HIER_DIRECT/162.159.140.245 -\n"
        f"1764496803.200 85 192.0.2.12 TCP_MISS/200 2048 GET "
        f"https://api.openai.com/v1/files/%2567{token[1:]} dave HIER_DIRECT/162.159.140.245 -\n"
    )
    _scan(sqlite_core, log)
    with sqlite_core.sessions() as session:
        paths = sorted(d.path for d in session.scalars(select(Detection)))
        findings = session.scalars(select(FindingRow)).all()
    masked = "/v1/files/[REDACTED:github-pat]"
    assert paths == [masked, masked, masked + "/content"]
    assert [(f.detector, f.location) for f in findings] == [("github-pat", "path")] * 3
    stored = b"".join(p.read_bytes() for p in tmp_path.glob("i.db*"))
    assert stored and token[1:].encode() not in stored


def test_a_rescan_adds_nothing_and_a_grown_log_adds_only_its_new_lines(
    core: Core, tmp_path: Path
) -> None:
    log = tmp_path / "access.log"
    shutil.copy(LOGS / "squid_native.log", log)
    first = _scan(core, log)
    assert sum(_requests(first).values()) == 5
    again = _scan(core, log)
    assert again.report.total("parsed") == 0 and not again.report.services
    assert again.report.total("lines") == 1  # only the cut last line, read again
    packed = tmp_path / "copy.log.gz"
    packed.write_bytes(gzip.compress(log.read_bytes()))
    assert _scan(core, packed).report.total("parsed") == 0  # the same log, compressed
    # the cut last line is completed, and a line added: both are read, nothing else
    with log.open("ab") as out:
        out.write(b"ECT/1.2.3.4 -\n")
        out.write(b"1764496809.000 9 192.0.2.15 TCP_TUNNEL/200 10 CONNECT claude.ai:443 erin "
                  b"HIER_DIRECT/1.2.3.4 -\n")  # fmt: skip
    grown = _scan(core, log)
    (report,) = grown.report.files
    assert (report.lines, report.parsed, report.skipped) == (2, 2, 0)
    assert _requests(grown) == {"claude": 2}
    with core.sessions() as session:
        claude = session.get(ServiceSeen, "claude")
        assert claude is not None and claude.requests == 3
        (position,) = session.scalars(select(LogFile)).all()
        assert position.offset == log.stat().st_size and position.lines == 11


def test_two_scans_of_one_log_cannot_both_move_its_offset(core: Core) -> None:
    head = b"1764496800.100 1 192.0.2.1 TCP_MISS/200 1 GET http://a.example/ - HIER_NONE/- -\n"
    with core.sessions.begin() as session:
        stale = state.find(session, head)
        state.advance(session, stale, head=head, offset=10, lines=1, name="a", fmt="squid")
    with core.sessions.begin() as session:
        mine, theirs = state.find(session, head), state.find(session, head)
        state.advance(session, theirs, head=head, offset=20, lines=2, name="a", fmt="squid")
    with pytest.raises(state.ConcurrentScanError), core.sessions.begin() as session:
        state.advance(session, mine, head=head, offset=20, lines=2, name="a", fmt="squid")
    with pytest.raises(state.ConcurrentScanError), core.sessions.begin() as session:
        fresh = state.Position(state.digest(head), len(head))  # as a second first scan sees it
        state.advance(session, fresh, head=head, offset=5, lines=1, name="a", fmt="squid")


def _cli(argv: list[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setenv("SHADOWLENS_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("SHADOWLENS_DATABASE_URL", f"sqlite:///{tmp_path / 'cli.db'}")
    return main(["logs", "scan", *argv])


@pytest.mark.parametrize("packing", ["gz", "zst", "stdin", "stdin-zst"])
def test_gzip_zstd_and_stdin_read_like_the_plain_file(
    packing: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    data = (LOGS / "zeek_http.log").read_bytes()
    assert _cli(["--json", str(LOGS / "zeek_http.log")], tmp_path / "plain", monkeypatch) == 0
    expected = json.loads(capsys.readouterr().out)
    packed = zstandard.ZstdCompressor().compress(data) if "zst" in packing else data
    if packing == "gz":
        packed = gzip.compress(data)
    target = "-"
    if not packing.startswith("stdin"):
        target = str(tmp_path / f"http.log.{packing}")
        Path(target).write_bytes(packed)
    monkeypatch.setattr(sys, "stdin", io.TextIOWrapper(io.BytesIO(packed)))
    assert _cli(["--json", target], tmp_path / "packed", monkeypatch) == 0
    assert json.loads(capsys.readouterr().out) == expected


def test_json_prints_one_object_with_the_agreed_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli(["--json", str(LOGS / "squid_native.log")], tmp_path, monkeypatch) == 0
    out, err = capsys.readouterr()
    result = json.loads(out)  # exactly one object: json.loads refuses anything after it
    assert list(result) == ["lines", "parsed", "skipped", "services"]
    assert (result["lines"], result["parsed"], result["skipped"]) == (10, 8, 2)
    first = result["services"][0]
    assert list(first) == ["service", "users", "requests", "bytes_out", "first_seen",
                           "last_seen"]  # fmt: skip
    assert first["first_seen"].endswith("Z")
    assert "squid_native.log:7: skipped" in err and "hunter2" not in err + out


def test_the_table_names_services_and_their_top_users(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli([str(LOGS / "squid_combined.log")], tmp_path, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "Anthropic API" in out and "bob (1)" in out and "7 lines, 6 parsed, 1 skipped" in out


def test_names_from_a_log_cannot_style_or_drive_the_terminal(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"1796032800.0 5 10.0.0.9 TCP_TUNNEL/200 10 CONNECT claude.ai:443 "
                    b"[bold]eve\x1b[2J HIER_DIRECT/1.2.3.4 -\n")  # fmt: skip
    assert _cli([str(log)], tmp_path, monkeypatch) == 0
    out = capsys.readouterr().out
    assert "[bold]eve\\x1b[2J" in out and "\x1b[2J" not in out


def test_an_unreadable_file_is_reported_and_the_others_still_scanned(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["--json", str(tmp_path / "missing.log"), str(LOGS / "bind_query.log")]
    assert _cli(argv, tmp_path, monkeypatch) == 1
    out, err = capsys.readouterr()
    assert "missing.log" in err and json.loads(out)["parsed"] == 4


def test_since_counts_only_later_requests(sqlite_core: Core) -> None:
    from datetime import UTC, datetime

    since = datetime(2025, 11, 30, 10, 0, 5, tzinfo=UTC).timestamp()
    scanner = _scan(sqlite_core, LOGS / "squid_native.log", since=since)
    assert _requests(scanner) == {"claude": 1, "gemini": 1}


def test_a_bad_line_is_shown_without_its_query_string_or_control_characters() -> None:
    shown = excerpt("GET http://x/?api_key=sk-live-123 \x1b[31mred\x1b[0m\x07")
    assert "sk-live" not in shown and "\x1b" not in shown and "\x07" not in shown
    assert "\\x1b[31mred" in shown


def _squid_log(path: Path, count: int, *, bad_every: int = 0) -> list[tuple[str, str]]:
    """A random Squid log over catalog and other hosts; (method, URL) of each good line."""
    rng = random.Random(7)
    ai = sorted({s.domains[0] for s in CATALOG.services.values() if s.domains})
    other = [f"www.site{i}.example" for i in range(40)] + ["slack.com", "www.notion.so"]
    requests, lines = [], []
    for i in range(count):
        host = rng.choice(ai if rng.random() < 0.3 else other)
        method, url = rng.choice([("CONNECT", f"{host}:443"), ("GET", f"https://{host}/x"),
                                  ("POST", f"https://{host}/api/v3/getCompletion")])  # fmt: skip
        lines.append(f"{1796032800 + i}.5 3 10.1.0.{i % 7} TCP_MISS/200 {i % 900} {method} "
                     f"{url} u{i % 5} HIER_DIRECT/1.2.3.4 -")  # fmt: skip
        requests.append((method, url))
        if bad_every and i % bad_every == 0:
            lines.append("not a squid line")
    path.write_text("\n".join(lines) + "\n")
    return requests


def test_counts_equal_what_classify_says_for_the_same_requests(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "access.log"
    requests = _squid_log(log, 3000)
    assert _cli(["--json", str(log)], tmp_path, monkeypatch) == 0
    scanned = {s["service"]: s["requests"] for s in json.loads(capsys.readouterr().out)["services"]}
    classified: Counter[str] = Counter()
    for method in ("CONNECT", "GET", "POST"):
        targets = [url for m, url in requests if m == method]
        assert main(["classify", "--json", "--method", method, *targets]) == 0
        for line in capsys.readouterr().out.splitlines():
            if service := json.loads(line)["service"]:
                classified[service] += 1
    assert scanned == dict(classified)
    assert len(scanned) > 10 and "notion-ai" in scanned


def test_parallel_chunks_read_the_same_as_one_process(
    tmp_path: Path, sqlite_core: Core, monkeypatch: pytest.MonkeyPatch
) -> None:
    log = tmp_path / "access.log"
    _squid_log(log, 6000, bad_every=997)  # some chunks have a bad line: they take the slow path
    monkeypatch.setattr(scan_module, "CHUNK_BYTES", 16 * 1024)
    one = _scan(sqlite_core, log)
    other = Core.open(Settings(data_dir=tmp_path / "d2", database_url=f"sqlite:///{tmp_path}/2.db",
                               rules_dir=RULES_DIR))  # fmt: skip
    try:
        two = _scan(other, log, workers=2)
    finally:
        other.close()
    assert one.report.files[0].skipped == 7
    assert [n for n, _ in one.report.files[0].bad] == [n for n, _ in two.report.files[0].bad]
    assert {k: vars(v) for k, v in one.report.services.items()} == {
        k: vars(v) for k, v in two.report.services.items()
    }


def test_the_api_serves_what_a_scan_found(core: Core, tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from shadowlens.api.app import create_app
    from tests.test_api import AUTH

    log = tmp_path / "access.log"
    log.write_text("".join(
        f"{1796032800 + i}.0 5 10.0.0.9 TCP_TUNNEL/200 10 CONNECT claude.ai:443 alice "
        "HIER_DIRECT/1.2.3.4 -\n" for i in range(4)
    ))  # fmt: skip
    _scan(core, log)
    app = create_app(sessions=core.sessions, tokens=core.settings.token_set, catalog=CATALOG)
    with TestClient(app) as client:
        (row,) = client.get("/api/v1/detections", headers=AUTH).json()["items"]
        service = client.get("/api/v1/services/claude", headers=AUTH).json()
    assert (row["evidence"], row["signals"], row["requests"]) == ("log", ["log", "sni"], 4)
    assert row["last_ts"].startswith("2026-11-30T10:00:03")
    assert (service["requests"], service["users"]) == (4, 1)


def test_a_log_cut_short_under_a_worker_is_an_error_not_a_short_count(tmp_path: Path) -> None:
    log = tmp_path / "access.log"
    log.write_bytes(b"x" * 100)
    piece = FileSlice(str(log), 10, 60)
    assert piece.read() == b"x" * 50
    log.write_bytes(b"x" * 30)  # rotated or truncated after the main process cut the chunk
    with pytest.raises(OSError, match="cut short"):
        piece.read()
