"""The Hyperscan prefilter of ``logs scan`` reads a chunk as reading every line would.

Each test reads the same chunk twice, with the prefilter and with Python's ``re`` pass, and
compares everything a chunk gives back: lines, parsed, skipped, the bad lines shown and the
aggregated groups. The spellings are the ones a host can take in a log and still be a
catalog host once normalised: case, a trailing dot, a port, user info, percent escapes,
brackets, Unicode.
"""

from __future__ import annotations

import random
from dataclasses import astuple

import pytest
from hypothesis import given
from hypothesis import strategies as st

from shadowlens.proxy.catalog import load_catalog
from shadowlens.proxy.logs.chunks import ChunkResult, ChunkWorker
from shadowlens.proxy.logs.classify import LogClassifier
from shadowlens.proxy.logs.formats import LogFormat, Squid, ZeekTsv
from shadowlens.proxy.logs.prefilter import Prefilter, _shape, available
from shadowlens.proxy.policy import IdentityResolver
from tests.conftest import RULES_DIR
from tests.hostile.fuzzing import fuzz

pytestmark = pytest.mark.skipif(not available(), reason="hyperscan is not installed")

CATALOG = load_catalog(RULES_DIR)
SUFFIXES = sorted(CATALOG.suffix_keys())
ZEEK_FIELDS = "#fields\tts\tuid\tid.orig_h\tmethod\thost\turi\tuser_agent\tusername"


def _worker(*, prefilter: bool) -> ChunkWorker:
    worker = ChunkWorker(LogClassifier(CATALOG), IdentityResolver())
    worker.use_prefilter = prefilter
    return worker


# Kept across tests, as a scan keeps them across chunks: their caches change no answer.
WORKERS = {True: _worker(prefilter=True), False: _worker(prefilter=False)}


def _read(fmt: LogFormat, chunk: bytes, *, prefilter: bool) -> ChunkResult:
    return WORKERS[prefilter].run(fmt, chunk, None)


def _same_both_ways(fmt: LogFormat, chunk: bytes) -> ChunkResult:
    fast, plain = _read(fmt, chunk, prefilter=True), _read(fmt, chunk, prefilter=False)
    assert (fast.lines, fast.parsed, fast.skipped, fast.bad, fast.tail_ok) == (
        plain.lines, plain.parsed, plain.skipped, plain.bad, plain.tail_ok,
    )  # fmt: skip
    assert {k: astuple(g) for k, g in fast.groups.items()} == {
        k: astuple(g) for k, g in plain.groups.items()
    }
    return fast


def _spellings(host: str) -> list[str]:
    """``host`` as logs may hold it, each still ``host`` once normalised."""
    first, rest = host[0], host[1:]
    return [
        host.upper(), host + ".", host + ":8443", "alice@" + host, f"%{ord(first):02X}{rest}",
        host.replace(".", "%2e", 1), "-", "", "[", "[]", ":443", "bob@", "-.:80", "%2D",
        host.replace("k", "\u212a", 1),  # KELVIN SIGN: lower() makes it a "k"
        "www." + host, "not" + host, host + ".example",
    ]  # fmt: skip


def _squid_line(i: int, method: str, authority: str) -> str:
    url = f"{authority}" if method == "CONNECT" else f"https://{authority}/v1/chat/completions"
    return f"{1796032800 + i}.5 3 10.1.0.{i % 7} TCP_MISS/200 {i} {method} {url} u{i % 3} - -"


def test_every_catalog_suffix_in_every_spelling_reads_the_same() -> None:
    lines = [
        _squid_line(i, ("CONNECT", "POST")[(i + j) % 2], spelled)
        for i, suffix in enumerate(SUFFIXES)
        for j, spelled in enumerate(_spellings(suffix))
    ]
    result = _same_both_ways(Squid(), "\n".join(lines).encode() + b"\n")
    assert result.skipped > 0 and len(result.groups) > len(SUFFIXES)  # both kinds were there


def test_a_well_formed_chunk_of_other_hosts_parses_no_line() -> None:
    lines = [_squid_line(i, "GET", f"www.site{i}.example") for i in range(500)]
    chunk = "\n".join(lines).encode() + b"\n"
    prefilter = Prefilter(CATALOG, Squid.fast.pattern, with_agent=False)
    assert prefilter.lines(chunk) == []
    assert prefilter.lines(chunk.replace(b"\n", b"\nnot squid\n", 1)) is None
    assert prefilter.lines(chunk + b"\n") is None  # an empty line is read as such
    assert prefilter.lines(b"\n") is None
    assert _same_both_ways(Squid(), chunk).parsed == 500


def test_zeek_user_agents_of_ai_clients_are_read() -> None:
    fmt = ZeekTsv()
    fmt.header(ZEEK_FIELDS)
    agents = ["OpenAI/Python 1.54.0", "Mozilla/5.0", "ANTHROPIC/PYTHON 0.40", "-", "curl/8"]
    lines = [
        f"{1796032800 + i}.0\tC{i}\t10.0.0.{i}\tPOST\tllm{i}.internal.example\t/v1/x\t{agent}\t-"
        for i, agent in enumerate(agents)
    ]
    result = _same_both_ways(fmt, "\n".join(lines).encode() + b"\n")
    assert len(result.groups) >= 2  # the two SDKs mark unknown LLM endpoints


def test_a_user_agent_column_before_the_host_column_is_read_too() -> None:
    fmt = ZeekTsv()
    fmt.header("#fields\tts\tuid\tid.orig_h\tmethod\tuser_agent\turi\thost\tusername")
    lines = [
        f"{1796032800 + i}.0\tC{i}\t10.0.0.{i}\tPOST\t{agent}\t/v1/chat\tllm{i}.lab.example\t-"
        for i, agent in enumerate(["OpenAI/Python 1.54.0", "Mozilla/5.0", "Anthropic/Python 0.4"])
    ]
    chunk = "\n".join(lines).encode() + b"\n"
    result = _same_both_ways(fmt, chunk)
    every_line = ZeekTsv(columns=fmt.columns)  # no fast pattern: every line parsed
    assert {k: astuple(g) for k, g in _read(every_line, chunk, prefilter=False).groups.items()} == {
        k: astuple(g) for k, g in result.groups.items()
    }
    assert sorted(key[1] for key in result.groups) == [
        "unknown-llm-endpoint:llm0.lab.example", "unknown-llm-endpoint:llm2.lab.example",
    ]  # fmt: skip


def test_the_shape_of_each_fast_pattern() -> None:
    line, prefix, cell = _shape(Squid.fast.pattern)
    assert cell == rb"[^/ \n]" and prefix.endswith(rb"(?:[A-Za-z]+://)?")
    assert b"(?:[^/ \\n]*)" in line and not line.startswith(b"^")
    with pytest.raises(ValueError, match="captures the host"):
        _shape(rb"^[a-z]+$")


_HOST_PARTS = st.sampled_from(
    [*SUFFIXES[:: max(1, len(SUFFIXES) // 60)], "example.com", "10.0.0.1"]
)
_NOISE = st.text(alphabet="aZ09.-:@[]%_/\u212a\u0130é\t", max_size=6)


@fuzz
@given(
    hosts=st.lists(st.tuples(_NOISE, _HOST_PARTS, _NOISE, st.booleans()), min_size=1, max_size=30),
    seed=st.integers(0, 2**32 - 1),
)
def test_any_host_spelling_reads_the_same(
    hosts: list[tuple[str, str, str, bool]], seed: int
) -> None:
    rng = random.Random(seed)
    lines = []
    for i, (before, host, after, upper) in enumerate(hosts):
        authority = (before + (host.upper() if upper else host) + after).replace("/", "")
        if " " in authority or "\t" in authority:
            continue
        lines.append(_squid_line(i, rng.choice(["CONNECT", "GET", "POST"]), authority))
    _same_both_ways(Squid(), "\n".join(lines).encode() + b"\n")


_AGENTS = st.sampled_from([*sorted(CATALOG.clients.keywords()), "Mozilla/5.0", "-", "curl/8"])


@fuzz
@given(
    rows=st.lists(st.tuples(_NOISE, _HOST_PARTS, _AGENTS, _NOISE, st.booleans()), max_size=30),
    agent_first=st.booleans(),
)
def test_any_zeek_host_and_agent_reads_the_same(
    rows: list[tuple[str, str, str, str, bool]], agent_first: bool
) -> None:
    names = ZEEK_FIELDS.split("\t")[1:]
    if agent_first:
        names.remove("user_agent")
        names.insert(names.index("host"), "user_agent")
    fmt = ZeekTsv()
    fmt.header("\t".join(["#fields", *names]))
    lines = []
    for i, (before, host, agent, after, upper) in enumerate(rows):
        cells = {"ts": f"{1796032800 + i}.0", "uid": f"C{i}", "id.orig_h": "10.0.0.1",
                 "method": "POST", "host": before + host + after, "uri": "/v1",
                 "user_agent": f"x {agent.upper() if upper else agent}/1.0{after}",
                 "username": "-"}  # fmt: skip
        lines.append("\t".join(cells[name].replace("\t", "") for name in names))
    _same_both_ways(fmt, "\n".join(lines).encode() + b"\n")
