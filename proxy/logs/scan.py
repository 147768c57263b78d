"""``logs scan``: read logs in chunks over the cores, classify, and add them to the inventory.

The main process reads and decompresses, cuts whole-line chunks and hands them to a pool of
worker processes (forked, so they share the catalog already loaded): of a plain file, only
where each chunk starts and ends (the worker reads it again); of stdin or a compressed
file, the bytes. Results come back in order, are added up per hour, service, user, address
and host, and are written as aggregated detections through the writer's own bulk insert,
with the log's new offset in the same transaction: a scan stopped halfway resumes where its
last write ended.
"""

from __future__ import annotations

import multiprocessing
import multiprocessing.pool
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime

from shadowlens.proxy.catalog import Service
from shadowlens.proxy.inventory import store
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.logs import state
from shadowlens.proxy.logs.chunks import ChunkResult, ChunkWorker, Group, GroupKey
from shadowlens.proxy.logs.formats import LogFormat, detect, make_format
from shadowlens.proxy.logs.paths import PathMasker
from shadowlens.proxy.logs.sources import FileSlice, LogSource, open_source
from shadowlens.proxy.runtime import Core

CHUNK_BYTES = 4 << 20
MAX_LINE_BYTES = 1 << 20  # a longer "line" is read as a bad line, not held whole
FLUSH_GROUPS = 50_000  # aggregated rows held before they are written

_worker: ChunkWorker | None = None  # this process's worker; forked into the pool


Piece = bytes | FileSlice  # a chunk of whole lines, or where a worker reads one


def _run_chunk(fmt: LogFormat, piece: Piece, since: float | None) -> ChunkResult:
    assert _worker is not None
    return _worker.run(fmt, piece.read() if isinstance(piece, FileSlice) else piece, since)


@dataclass
class ServiceTotal:
    """One service's share of a scan."""

    service: Service
    requests: int = 0
    bytes_out: int = 0
    bytes_in: int = 0
    first: float = float("inf")
    last: float = 0.0
    users: dict[str, int] = field(default_factory=dict)  # requests per user


@dataclass
class FileReport:
    """What one input held."""

    name: str
    format: str = "-"
    lines: int = 0
    parsed: int = 0
    skipped: int = 0
    resumed_at: int = 0  # bytes already read by an earlier scan
    bad: list[tuple[int, str]] = field(default_factory=list)  # (line number, excerpt)
    note: str = ""


@dataclass
class ScanReport:
    """What every input of a scan held, and the services found."""

    files: list[FileReport] = field(default_factory=list)
    services: dict[str, ServiceTotal] = field(default_factory=dict)

    def total(self, name: str) -> int:
        return sum(getattr(f, name) for f in self.files)

    def add(self, groups: dict[GroupKey, Group], services: dict[str, Service]) -> None:
        for key, group in groups.items():
            total = self.services.get(key[1])
            if total is None:
                total = self.services[key[1]] = ServiceTotal(services[key[1]])
            total.requests += group.requests
            total.bytes_out += group.bytes_out
            total.bytes_in += group.bytes_in
            total.first, total.last = min(total.first, group.first), max(total.last, group.last)
            total.users[key[2]] = total.users.get(key[2], 0) + group.requests


Progress = Callable[[int, int | None], None]


class LogScanner:
    """Scans logs into ``core``'s inventory; ``workers`` > 1 forks a pool (call ``close``)."""

    def __init__(
        self, core: Core, worker: ChunkWorker, paths: PathMasker, *, workers: int = 1,
        fmt: str | None = None, mapping: dict[str, str] | None = None,
        since: float | None = None,
    ) -> None:  # fmt: skip
        global _worker
        _worker = worker
        worker.start()
        self.core, self.paths, self.since = core, paths, since
        self.fmt_name, self.mapping = fmt, mapping
        self.report = ScanReport()
        self.services: dict[str, Service] = {}  # every service the workers announced
        self.pool: multiprocessing.pool.Pool | None = None
        self.workers = workers
        if workers > 1:  # before any thread exists: fork copies only the calling thread
            self.pool = multiprocessing.get_context("fork").Pool(workers)
        core.ensure_schema()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.close()
            self.pool.join()

    def scan(self, name: str, *, progress: Progress | None = None) -> FileReport:
        """Scan one input (``-``: stdin) into the inventory; OSError when unreadable."""
        source = open_source(name)
        try:
            report = self._scan(source, progress or (lambda done, total: None))
        finally:
            source.close()
        self.report.files.append(report)
        return report

    def _scan(self, source: LogSource, progress: Progress) -> FileReport:
        report = FileReport(source.name)
        head = _read(source, state.HEAD_BYTES)
        if not head:
            report.note = "empty"
            return report
        fmt = self._format(head)
        report.format = fmt.name if not self.mapping else "csv"
        with self.core.sessions() as session:
            position = state.find(session, head)
        report.resumed_at = start = position.offset
        if start > len(head) and source.skip(start - len(head)) < start - len(head):
            report.note = "shorter than when last scanned: nothing new read"
            return report
        writer = _Checkpoints(self, source.name, fmt.name, head, position)
        chunks = _pieces(source, head[start:], start, fmt)
        pieces: Iterator[tuple[Piece, int]] = chunks
        if source.plain_file:  # the workers read it again (from the page cache), not a pipe
            pieces = ((FileSlice(source.name, end - len(chunk), end), end) for chunk, end in chunks)
        for result, end in self._results(fmt, pieces):
            self._merge(report, result, position.lines + report.lines)
            writer.add(result, end if result.tail_ok else end - result.tail_bytes)
            report.lines += result.lines
            progress(end if source.plain_file else source.position(), source.size)
        writer.flush(force=True)
        return report

    def _format(self, head: bytes) -> LogFormat:
        lines = head.decode("utf-8", "replace").splitlines()
        if len(head) == state.HEAD_BYTES and lines:
            lines.pop()  # cut short by the head's end
        if self.fmt_name or self.mapping:
            fmt = make_format(self.fmt_name or "csv", self.mapping)
        else:
            fmt = detect(lines)
        for line in lines:  # headers: Zeek's #fields, a CSV's first row
            if line.strip() and not fmt.header(line) and fmt.name == "csv":
                break
        return fmt

    def _results(
        self, fmt: LogFormat, pieces: Iterator[tuple[Piece, int]]
    ) -> Iterator[tuple[ChunkResult, int]]:
        if self.pool is None:
            for chunk, end in pieces:
                yield _run_chunk(fmt, chunk, self.since), end
            return
        window: deque[tuple[multiprocessing.pool.AsyncResult[ChunkResult], int]] = deque()
        for chunk, end in pieces:
            window.append((self.pool.apply_async(_run_chunk, (fmt, chunk, self.since)), end))
            if len(window) > 2 * self.workers:
                done, at = window.popleft()
                yield done.get(), at
        while window:
            done, at = window.popleft()
            yield done.get(), at

    def _merge(self, report: FileReport, result: ChunkResult, lines_before: int) -> None:
        report.parsed += result.parsed
        report.skipped += result.skipped
        for index, text in result.bad:
            if len(report.bad) < 5:
                report.bad.append((lines_before + index + 1, text))
        self.services.update(result.services)
        self.report.add(result.groups, self.services)


class _Checkpoints:
    """Holds aggregated rows and writes them, with the log's offset, once enough gathered."""

    def __init__(
        self, scanner: LogScanner, name: str, fmt: str, head: bytes, position: state.Position
    ) -> None:
        self.scanner, self.name, self.fmt, self.head = scanner, name, fmt, head
        self.position = position
        self.groups: dict[GroupKey, Group] = {}
        self.offset, self.lines = position.offset, position.lines

    def add(self, result: ChunkResult, offset: int) -> None:
        for key, group in result.groups.items():
            if (known := self.groups.get(key)) is None:
                self.groups[key] = group
            else:
                known.add(group)
        self.offset = offset
        self.lines += result.lines - (not result.tail_ok)
        self.flush(force=False)

    def flush(self, *, force: bool) -> None:
        if not force and len(self.groups) < FLUSH_GROUPS:
            return
        if not self.groups and self.offset == self.position.offset:
            return
        events = [
            _event(key, group, self.scanner.services[key[1]], self.scanner.paths)
            for key, group in self.groups.items()
        ]
        with self.scanner.core.sessions.begin() as session:
            store.record_detections(session, events=events)
            state.advance(
                session, self.position, head=self.head, offset=self.offset, lines=self.lines,
                name=self.name, fmt=self.fmt,
            )  # fmt: skip
        self.groups.clear()


def _event(key: GroupKey, group: Group, service: Service, paths: PathMasker) -> DetectionEvent:
    """One aggregated detection: the group's requests within one hour."""
    _hour, service_id, user, groups, address, host, method, signals, client = key
    path, findings = paths(group.path)
    return DetectionEvent(
        ts=_utc(group.first),
        client_ip=address,
        user=user or None,
        service_id=service_id,
        service_name=service.name,
        vendor=service.vendor,
        category=service.category,
        evidence="log",
        method=method,
        host=host,
        path=path,
        findings=findings,
        request_bytes=group.bytes_out,
        response_bytes=group.bytes_in,
        confidence=group.confidence,
        signals=signals,
        client=client or None,
        groups=groups,
        requests=group.requests,
        last_ts=_utc(group.last) if group.last != group.first else None,
    )


def _utc(ts: float) -> datetime:
    return datetime.fromtimestamp(ts, UTC)


def _read(source: LogSource, size: int) -> bytes:
    """Up to ``size`` bytes, fewer only at the end of the stream."""
    parts, got = [], 0
    while got < size and (block := source.stream.read(size - got)):
        parts.append(block)
        got += len(block)
    return b"".join(parts)


def _pieces(
    source: LogSource, first: bytes, offset: int, fmt: LogFormat
) -> Iterator[tuple[bytes, int]]:
    """Chunks of whole lines and the offset each ends at; last, an unterminated tail."""
    carry = first
    while block := source.stream.read(CHUNK_BYTES):
        data = carry + block
        cut = data.rfind(b"\n") + 1
        if cut == 0 and len(data) < MAX_LINE_BYTES:
            carry = data
            continue
        cut = cut or len(data)
        chunk, carry = data[:cut], data[cut:]
        offset += len(chunk)
        _follow_headers(fmt, chunk)
        yield chunk, offset
    while carry:  # what is left: whole lines, then perhaps a line without its newline
        cut = carry.rfind(b"\n") + 1 or len(carry)
        chunk, carry = carry[:cut], carry[cut:]
        offset += len(chunk)
        yield chunk, offset


def _follow_headers(fmt: LogFormat, chunk: bytes) -> None:
    """Keep the main process's copy of ``fmt`` up to date with headers inside ``chunk``."""
    # One byte is looked for first: memchr, where a two-byte search is several times slower.
    if chunk.startswith(b"#") or (b"#" in chunk and b"\n#" in chunk):
        for line in chunk.decode("utf-8", "replace").splitlines():
            if line.startswith("#"):
                fmt.header(line)
