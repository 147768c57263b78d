"""One chunk of a log, read and classified: the work each core does.

A chunk is a run of whole lines. Where the format offers a fast pattern, one Hyperscan pass
(:mod:`proxy.logs.prefilter`) checks every line's shape and finds the lines whose host (and
User-Agent) could be AI; only those are parsed, the rest are counted. Without Hyperscan, one
``re`` pass takes each line's host instead. Matches are added up per hour, user, address,
host and signal, so a chunk of a million lines comes back as a few hundred rows.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from itertools import compress
from typing import Any

from shadowlens.proxy.catalog import Match, Service
from shadowlens.proxy.logs.classify import LogClassifier
from shadowlens.proxy.logs.formats import LogFormat
from shadowlens.proxy.logs.prefilter import Prefilter, available
from shadowlens.proxy.logs.records import Record
from shadowlens.proxy.policy import IdentityResolver

BAD_LINES_SHOWN = 5
_UNREADABLE = (ValueError, KeyError, IndexError, OverflowError)  # what a parser raises

# (hour, service, user, groups, client address, host, method, signals, client)
GroupKey = tuple[int, str, str, str, str, str, str, str, str]


@dataclass(slots=True)
class Group:
    """The requests of one group: their span, count, bytes, a path and the confidence."""

    first: float
    last: float
    requests: int
    bytes_out: int
    bytes_in: int
    path: str
    confidence: float

    def __reduce__(self) -> tuple[type[Group], tuple[float, float, int, int, int, str, float]]:
        # Thousands come back from each chunk: a slots dataclass's own pickling is far slower.
        return Group, (self.first, self.last, self.requests, self.bytes_out, self.bytes_in,
                       self.path, self.confidence)  # fmt: skip

    def add(self, other: Group) -> None:
        self.first, self.last = min(self.first, other.first), max(self.last, other.last)
        self.requests += other.requests
        self.bytes_out += other.bytes_out
        self.bytes_in += other.bytes_in


@dataclass
class ChunkResult:
    """What one chunk held."""

    lines: int = 0
    parsed: int = 0
    skipped: int = 0
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line index, excerpt)
    tail_ok: bool = True  # the chunk's unterminated last line was read (or there is none)
    tail_bytes: int = 0  # that line's length: an unread one is read again by the next scan
    groups: dict[GroupKey, Group] = field(default_factory=dict)
    # The services of the groups that this worker had not announced yet: the main process
    # takes results in order, so it has each one before any group that needs it.
    services: dict[str, Service] = field(default_factory=dict)


class ChunkWorker:
    """Classifies chunks; one per process, its caches kept across chunks."""

    def __init__(self, classifier: LogClassifier, identities: IdentityResolver) -> None:
        self.classifier = classifier
        self.identities = identities
        self._may_be_ai: dict[Any, bool] = {}
        self._people: dict[tuple[str, str], tuple[str, str]] = {}
        self._prefilters: dict[bytes, Prefilter] = {}  # by fast pattern, built on first use
        self.use_prefilter = available()  # off: the `re` pass (tests compare the two)
        self.announced: set[str] = set()  # services sent with a result already

    def start(self) -> None:
        """Begin a scan: every service is announced again."""
        self.announced.clear()

    def run(self, fmt: LogFormat, chunk: bytes, since: float | None) -> ChunkResult:
        """Read every line of ``chunk`` (whole lines, except perhaps the last)."""
        if self.use_prefilter and fmt.fast is not None and chunk.endswith(b"\n"):
            starts = self._prefilter(fmt.fast, fmt.host_group).lines(chunk)
            if starts is not None:
                return self._run_lines(fmt, chunk, starts, since)
        result = ChunkResult()
        lines = chunk.split(b"\n")
        if lines[-1] == b"":
            lines.pop()
        else:
            result.tail_ok, result.tail_bytes = False, len(lines[-1])  # until it reads
        result.lines = len(lines)
        keys = fmt.fast_keys(chunk) if result.tail_ok else None
        if keys is not None and len(keys) == len(lines):
            result.parsed = len(lines)
            wanted = self._wanted_keys(keys)  # a set: the per-line test stays in C
            for index in compress(range(len(lines)), map(wanted.__contains__, keys)):
                self._line(fmt, lines[index], index, since, result, counted=True)
        else:
            for index, line in enumerate(lines):
                self._line(fmt, line, index, since, result, counted=False)
        return result

    def _prefilter(self, fast: re.Pattern[bytes], host_group: int) -> Prefilter:
        if (prefilter := self._prefilters.get(fast.pattern)) is None:
            prefilter = Prefilter(self.classifier.catalog, fast.pattern, host_group=host_group,
                                  with_agent=fast.groups > 1)  # fmt: skip
            self._prefilters[fast.pattern] = prefilter
        return prefilter

    def _run_lines(
        self, fmt: LogFormat, chunk: bytes, starts: list[int], since: float | None
    ) -> ChunkResult:
        """A chunk of well-formed lines: only those starting at ``starts`` are read."""
        result = ChunkResult()
        result.lines = result.parsed = chunk.count(b"\n")
        for start in starts:
            line = _text(chunk[start : chunk.index(b"\n", start)]).rstrip("\r")
            try:
                record = None if fmt.header(line) else fmt.parse(line)
            except _UNREADABLE as exc:
                self._bad(result, chunk.count(b"\n", 0, start), line, exc, counted=True)
                continue
            if record is not None and (since is None or record.ts >= since):
                self._add(record, result)
        return result

    def _wanted_keys(self, keys: list[Any]) -> set[Any]:
        """The distinct keys of a chunk whose lines must be read in full."""
        return {key for key in set(keys) if self._wanted(key)}

    def _wanted(self, key: Any) -> bool:
        if (wanted := self._may_be_ai.get(key)) is None:
            if len(self._may_be_ai) >= 200_000:
                self._may_be_ai.clear()
            host, agent = (key, b"") if isinstance(key, bytes) else key
            wanted = self.classifier.may_be_ai(_text(host), _text(agent))
            self._may_be_ai[key] = wanted
        return wanted

    def _line(
        self, fmt: LogFormat, raw: bytes, index: int, since: float | None, result: ChunkResult,
        *, counted: bool,
    ) -> None:  # fmt: skip
        """Parse one line into ``result``; ``counted``: already counted as parsed."""
        line = _text(raw).rstrip("\r")
        try:
            record = None if fmt.header(line) else fmt.parse(line)
        except _UNREADABLE as exc:
            self._bad(result, index, line, exc, counted=counted)
            return
        if index == result.lines - 1:
            result.tail_ok = True
        if record is None:
            return  # a header, a comment, or a line that is not a request
        result.parsed += not counted
        if since is None or record.ts >= since:
            self._add(record, result)

    def _bad(
        self, result: ChunkResult, index: int, line: str, exc: Exception, *, counted: bool
    ) -> None:
        """Count a line that does not read; keep the first few, with their reason."""
        result.parsed -= counted
        result.skipped += 1
        if index == result.lines - 1:
            result.tail_ok = False
        if len(result.bad) < BAD_LINES_SHOWN:
            result.bad.append((index, f"{excerpt(line)}  ({exc})"))

    def _add(self, record: Record, result: ChunkResult) -> None:
        match = self.classifier.classify(record)
        if match is None:
            return
        user, groups = self._person(record.user, record.client_ip)
        ts = record.ts
        key: GroupKey = (
            int(ts // 3600), match.service.id, user, groups, record.client_ip, record.host,
            record.method, _signals(record, match), match.client or "",
        )  # fmt: skip
        group = result.groups.get(key)
        if group is None:
            result.groups[key] = Group(ts, ts, 1, record.bytes_out, record.bytes_in, record.path,
                                       match.confidence)  # fmt: skip
            if match.service.id not in self.announced:
                self.announced.add(match.service.id)
                result.services[match.service.id] = match.service
            return
        if ts < group.first:
            group.first = ts
        elif ts > group.last:
            group.last = ts
        group.requests += 1
        group.bytes_out += record.bytes_out
        group.bytes_in += record.bytes_in

    def _person(self, user: str, address: str) -> tuple[str, str]:
        """The user (the log's, else the identity file's, else the address) and groups."""
        if (known := self._people.get((user, address))) is None:
            who = self.identities.resolve(peer_ip=address, headers={}, proxyauth_user=user)
            name = who.user if who.source != "anonymous" else address
            known = self._people[(user, address)] = (name, ",".join(sorted(who.groups))[:255])
        return known


def _signals(record: Record, match: Match) -> str:
    if record.method == "DNS":
        return "log,dns"
    return ",".join(("log", *match.signals))


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


_QUERY = re.compile(r"\?[^\s\"]*")


def excerpt(line: str, limit: int = 160) -> str:
    """A bad line as it may be shown: no query string (secrets ride in them), escaped."""
    line = _QUERY.sub("?…", line[: limit * 2])[:limit]
    return "".join(c if c.isprintable() else ascii(c)[1:-1] for c in line)
