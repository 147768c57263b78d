"""The log formats ``logs scan`` reads, each a line parser, and their detection.

A format turns one line into a :class:`Record`, returns None for a line that holds no request
(a header, a comment, a DNS reply), or raises ValueError for a line it cannot read. Formats
that can also offer ``fast_keys``: one regex over a whole chunk that yields, per line, what
classification depends on (the host, and the User-Agent where the log has one), so lines
to hosts that cannot be AI are counted without being parsed.
"""

from __future__ import annotations

import contextlib
import csv
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from shadowlens.proxy.logs.records import Record, count, host_of, parse_time, split_url
from shadowlens.proxy.logs.records import field as value_of


class LogFormat:
    """A line format. Subclasses keep whatever header state they need, and stay picklable."""

    name: ClassVar[str]
    fast: re.Pattern[bytes] | None = None  # per valid line, the classification key
    host_group: int = 0  # which of ``fast``'s groups is the host (the other, the User-Agent)

    def header(self, line: str) -> bool:
        """True when ``line`` is a header or comment (and take what it says)."""
        return not line.strip()

    def parse(self, line: str) -> Record | None:
        """The record on ``line``, None when it holds none; ValueError when unreadable."""
        raise NotImplementedError

    def fast_keys(self, chunk: bytes) -> list[Any] | None:
        """One classification key per line of ``chunk`` when every line is a plain record."""
        return self.fast.findall(chunk) if self.fast is not None else None


# -- proxies -----------------------------------------------------------------------------------


class Squid(LogFormat):
    """Squid's native access.log: time elapsed client code/status bytes method URL user
    hierarchy/peer type. Squid logs the reply size only, so bytes count as received."""

    name = "squid"
    fast = re.compile(
        rb"^[0-9.]+ +[0-9]+ [^ \n]+ [^ \n]+ [0-9]+ [^ \n]+ (?:[A-Za-z]+://)?([^/ \n]*)"
        rb"[^ \n]* [^ \n]+ [^ \n]+ [^ \n]+$",
        re.M,
    )

    def parse(self, line: str) -> Record | None:
        fields = line.split()
        if len(fields) != 10:
            raise ValueError(f"{len(fields)} fields, not 10")
        method = fields[5].upper()
        host, path = split_url(fields[6], method)
        if not host:
            raise ValueError("no host in the URL")
        return Record(
            parse_time(fields[0]), fields[2], value_of(fields[7]), method, host, path, "",
            0, count(fields[4]),
        )  # fmt: skip


_COMBINED = re.compile(
    r'^(\S+) (\S+) (\S+) \[([^\]]+)\] "(\S+) (\S+)(?: [^"]*)?" (\d{3}|-) (\d+|-)'
    r'(?: "(?:[^"\\]|\\.)*" "((?:[^"\\]|\\.)*)")?'
)


class Combined(LogFormat):
    """Apache's combined (or common) format, also Squid's ``combined`` logformat."""

    name = "combined"

    def parse(self, line: str) -> Record | None:
        m = _COMBINED.match(line)
        if m is None:
            raise ValueError("not a combined-format line")
        client, ident, user, when, method, url, _status, size, agent = m.groups()
        method = method.upper()
        if method != "CONNECT" and "://" not in url:
            raise ValueError("the request names no host (not a proxy log)")
        host, path = split_url(url, method)
        ts = datetime.strptime(when, "%d/%b/%Y:%H:%M:%S %z").timestamp()
        return Record(
            ts, client, value_of(user) or value_of(ident), method, host, path,
            value_of(agent or ""), 0, count(size),
        )  # fmt: skip


# -- Zeek --------------------------------------------------------------------------------------

# Per Zeek log: the column holding the host, and the method a record stands for.
_ZEEK_HOST = {"query": "DNS", "server_name": "TLS", "host": ""}


def _zeek_record(get: Any) -> Record | None:
    """A record from a Zeek http, ssl or dns entry; ``get(name)`` gives a field or ""."""
    ip = get("id.orig_h")
    if get("query") or get("qtype_name") or get("rcode_name"):
        host = get("query")
        return Record(parse_time(get("ts")), ip, "", "DNS", host, "", "", 0, 0) if host else None
    if get("version") and (get("cipher") or get("server_name") or get("established")):
        host = get("server_name") or get("id.resp_h")
        return Record(parse_time(get("ts")), ip, "", "TLS", host_of(host), "", "", 0, 0)
    method = get("method").upper()
    if not method and not get("uri"):
        raise ValueError("neither an http, ssl nor dns entry")
    host = host_of(get("host") or get("id.resp_h"))
    _, path = split_url(get("uri") or "/", "GET")
    return Record(
        parse_time(get("ts")), ip, get("username"), method or "GET", host, path,
        get("user_agent"), count(get("request_body_len")), count(get("response_body_len")),
    )  # fmt: skip


@dataclass
class ZeekTsv(LogFormat):
    """Zeek's default TSV logs (http.log, ssl.log, dns.log), read by their ``#fields`` line."""

    name: ClassVar[str] = "zeek"
    separator: str = "\t"
    columns: dict[str, int] = field(default_factory=dict)
    fast: re.Pattern[bytes] | None = None
    host_group: int = 0

    def header(self, line: str) -> bool:
        if not line.startswith("#"):
            return not line.strip()
        name, _, rest = line.partition(" " if line.startswith("#separator") else self.separator)
        if name == "#separator":
            self.separator = rest.strip().encode().decode("unicode_escape")
        elif name == "#fields":
            names = rest.rstrip("\r\n").split(self.separator)
            self.columns = {n: i for i, n in enumerate(names)}
            self.fast = self._fast()
        return True

    def fast_keys(self, chunk: bytes) -> list[Any] | None:
        keys = super().fast_keys(chunk)
        if keys is None or not self.host_group:
            return keys
        return [(host, agent) for agent, host in keys]  # the key is (host, agent)

    def _fast(self) -> re.Pattern[bytes] | None:
        """Captures the host and user agent cells of every data line of a tab log, in the
        order of their columns (``host_group`` says which is the host)."""
        host = self.columns.get("host", self.columns.get("server_name"))
        agent = self.columns.get("user_agent")
        if self.separator != "\t" or host is None or "query" in self.columns:
            return None  # every DNS line is a query: none can be passed over unread
        cell = rb"[^\t\n]*"
        captured = sorted(c for c in (host, agent) if c is not None)
        self.host_group = captured.index(host)
        pattern, at = rb"^", 0
        for i in captured:
            pattern += (cell + rb"\t") * (i - at) + rb"(" + cell + rb")"
            at = i + 1
            pattern += rb"\t" if at < len(self.columns) else b""
        rest = len(self.columns) - at
        pattern += (cell + rb"\t") * max(rest - 1, 0) + (cell if rest else b"")
        return re.compile(pattern + rb"$", re.M)

    def parse(self, line: str) -> Record | None:
        if not self.columns:
            raise ValueError("a data line before the #fields header")
        cells = line.rstrip("\r\n").split(self.separator)
        if len(cells) != len(self.columns):
            raise ValueError(f"{len(cells)} fields, the header names {len(self.columns)}")
        columns = self.columns
        return _zeek_record(lambda n: value_of(cells[columns[n]]) if n in columns else "")


class ZeekJson(LogFormat):
    """Zeek logs written as JSON lines (``LogAscii::use_json``), flat or nested ``id``."""

    name = "zeek-json"

    def parse(self, line: str) -> Record | None:
        entry = json.loads(line)
        if not isinstance(entry, dict):
            raise ValueError("not a JSON object")
        ident = entry.get("id")
        if isinstance(ident, dict):
            entry.update({f"id.{k}": v for k, v in ident.items()})

        def get(name: str) -> str:
            value = entry.get(name)
            return "" if value is None else value_of(str(value))

        return _zeek_record(get)


# -- DNS resolvers -----------------------------------------------------------------------------

_DNSMASQ = re.compile(
    r"^(\w{3} +\d+ \d\d:\d\d:\d\d) (?:\S+ )?(?:dnsmasq|pihole-FTL)\[\d+\]: "
    r"(?:\d+ (?:\S+/\d+ )?)?(.*)$"
)
_DNSMASQ_QUERY = re.compile(r"^query\[(\w+)\] (\S+) from (\S+)$")


def _syslog_time(text: str) -> float:
    """A syslog time without a year: this year's, unless that lies in the future."""
    now = datetime.now(UTC)
    when = datetime.strptime(f"{now.year} {text}", "%Y %b %d %H:%M:%S").replace(tzinfo=UTC)
    if when.timestamp() > now.timestamp() + 86400:
        when = when.replace(year=now.year - 1)
    return when.timestamp()


class Dnsmasq(LogFormat):
    """dnsmasq's ``log-queries`` lines, as Pi-hole's pihole.log holds them too."""

    name = "dnsmasq"

    def parse(self, line: str) -> Record | None:
        m = _DNSMASQ.match(line)
        if m is None:
            raise ValueError("not a dnsmasq line")
        message = m.group(2).strip()
        query = _DNSMASQ_QUERY.match(message)
        if query is None and message.startswith("query["):
            raise ValueError("a query line cut short")
        if query is None:
            return None  # forwarded, reply, cached…: the query line already counted it
        _, host, client = query.groups()
        return Record(_syslog_time(m.group(1)), client, "", "DNS", host_of(host), "", "", 0, 0)


_BIND = re.compile(
    r"^(\d\d-\w{3}-\d{4} \d\d:\d\d:\d\d(?:\.\d+)?) (?:\S+: \S+: )?client (?:@0x[0-9a-f]+ )?"
    r"(\S+)#\d+(?: \([^)]*\))?: (?:view [^:]+: )?query: (\S+) IN (\S+)"
)


class Bind(LogFormat):
    """BIND's query log (``category queries``, ``print-time yes``)."""

    name = "bind"

    def parse(self, line: str) -> Record | None:
        m = _BIND.match(line)
        if m is None:
            raise ValueError("not a BIND query line")
        when, client, host, _qtype = m.groups()
        ts = datetime.strptime(when.partition(".")[0], "%d-%b-%Y %H:%M:%S")
        return Record(
            ts.replace(tzinfo=UTC).timestamp(), client, "", "DNS", host_of(host), "", "", 0, 0
        )


_WINDOWS = re.compile(
    r"^(\d{1,2}/\d{1,2}/\d{4}) (\d{1,2}:\d\d:\d\d)(?: ([AP]M))? +[0-9A-Fa-f]+ PACKET +"
    r"[0-9A-Fa-f]+ +(?:UDP|TCP) (Rcv|Snd) (\S+) +[0-9A-Fa-f]+ ([ R]) ([A-Z?]) \[[^\]]*\] +"
    r"(\S+) +(\S+)\s*$"
)
_LABEL = re.compile(r"\(\d+\)")


class WindowsDns(LogFormat):
    """The Windows DNS server's debug log: the queries it received (``Rcv``, not ``R``)."""

    name = "windows-dns"

    def parse(self, line: str) -> Record | None:
        if " PACKET " not in line:
            return None  # the log's preamble and non-packet events
        m = _WINDOWS.match(line)
        if m is None:
            raise ValueError("not a Windows DNS packet line")
        day, clock, half, direction, client, response, _op, _qtype, name = m.groups()
        if direction != "Rcv" or response == "R":
            return None
        month, mday, year = (int(x) for x in day.split("/"))
        if month > 12:
            month, mday = mday, month
        hour, minute, second = (int(x) for x in clock.split(":"))
        if half:
            hour = hour % 12 + (12 if half == "PM" else 0)
        ts = datetime(year, month, mday, hour, minute, second, tzinfo=UTC).timestamp()
        host = _LABEL.sub(".", name).strip(".")
        return Record(ts, client, "", "DNS", host_of(host), "", "", 0, 0)


# -- CSV exports -------------------------------------------------------------------------------

CSV_FIELDS = ("host", "url", "user", "time", "bytes_out", "bytes_in", "user_agent", "client_ip",
              "method")  # fmt: skip

# Column names per field, from each product's documented export; the first present wins.
# A time given as several columns ("date time") is joined with a space.
PRESETS: dict[str, dict[str, tuple[str, ...]]] = {
    "zscaler": {  # ZIA NSS web log feed fields, as CSV with a header
        "time": ("datetime", "time"),
        "user": ("login", "user"),
        "url": ("eurl", "url"),
        "host": ("ehost", "hostname", "host"),
        "bytes_out": ("reqsize",),
        "bytes_in": ("respsize",),
        "user_agent": ("eua", "ua", "useragent"),
        "client_ip": ("cip", "cintip"),
        "method": ("reqmethod",),
    },
    "netskope": {  # web transaction log (W3C extended fields)
        "time": ("date time", "x-transaction-time", "timestamp"),
        "user": ("cs-username", "x-cs-userkey"),
        "url": ("cs-uri",),
        "host": ("cs-host", "cs-dns"),
        "bytes_out": ("cs-bytes",),
        "bytes_in": ("sc-bytes",),
        "user_agent": ("cs-user-agent", "cs(user-agent)"),
        "client_ip": ("c-ip", "x-c-local-ip"),
        "method": ("cs-method",),
    },
    "paloalto": {  # PAN-OS URL filtering log, as the web interface exports it
        "time": ("receive time", "generate time", "time generated"),
        "user": ("source user", "srcuser"),
        "url": ("url/filename", "url", "misc"),
        "bytes_out": ("bytes sent",),
        "bytes_in": ("bytes received",),
        "user_agent": ("user agent", "user_agent"),
        "client_ip": ("source address", "src"),
        "method": ("http method", "http_method"),
    },
    "umbrella": {  # Cisco Umbrella DNS and proxy logs
        "time": ("timestamp", "date time"),
        "user": ("most granular identity", "identities", "identity"),
        "url": ("url",),
        "host": ("domain", "destination"),
        "bytes_out": ("requestsize", "request size"),
        "bytes_in": ("responsesize", "response size"),
        "user_agent": ("useragent", "user agent"),
        "client_ip": ("internalip", "internal ip"),
    },
}
GENERIC: dict[str, tuple[str, ...]] = {
    "time": ("time", "timestamp", "datetime", "date time", "ts", "date"),
    "user": ("user", "username", "user_name", "login", "identity"),
    "url": ("url", "uri", "request_url"),
    "host": ("host", "hostname", "domain", "fqdn", "server_name", "sni", "dest_host"),
    "bytes_out": ("bytes_out", "bytes_sent", "request_bytes", "reqsize", "sent_bytes"),
    "bytes_in": ("bytes_in", "bytes_received", "response_bytes", "respsize"),
    "user_agent": ("user_agent", "useragent", "ua", "user-agent"),
    "client_ip": ("client_ip", "src_ip", "source_ip", "ip", "client"),
    "method": ("method", "http_method", "request_method"),
}
# The columns that tell a preset's export apart from any CSV.
_MARKS = {
    "zscaler": {"login", "reqsize", "respsize", "eurl", "urlcat", "appclass"},
    "netskope": {"cs-host", "cs-username", "cs-bytes", "sc-bytes", "cs-uri"},
    "paloalto": {"url/filename", "source user", "threat/content type", "source address"},
    "umbrella": {"most granular identity", "internalip", "querytype", "responsecode"},
}


def _column(spec: str, index: dict[str, int]) -> tuple[int, ...] | None:
    """The column indexes of ``spec`` (names joined by spaces when several), if all exist."""
    if spec in index:
        return (index[spec],)
    parts = spec.split()
    if len(parts) > 1 and all(p in index for p in parts):
        return tuple(index[p] for p in parts)
    return None


@dataclass
class Csv(LogFormat):
    """A CSV export with a header row, mapped by a preset or by ``--map field=COLUMN``."""

    name: ClassVar[str] = "csv"
    preset: str | None = None  # None: guess from the header
    mapping: dict[str, str] = field(default_factory=dict)  # --map, by column name
    delimiter: str = ","
    columns: dict[str, tuple[int, ...]] = field(default_factory=dict)
    width: int = 0
    header_line: str = ""

    def header(self, line: str) -> bool:
        if self.columns or not line.strip():
            return not line.strip() or line == self.header_line
        self.delimiter = "\t" if line.count("\t") > line.count(",") else ","
        names = [n.strip().strip("\ufeff").lower() for n in self._cells(line)]
        index = {n: i for i, n in enumerate(names)}
        self.preset = self.preset or guess_preset(set(names))
        table = PRESETS.get(self.preset or "", GENERIC)
        for name in CSV_FIELDS:
            specs = (self.mapping[name].lower(),) if name in self.mapping else table.get(name, ())
            found = next(filter(None, (_column(s, index) for s in specs)), None)
            if found is None and name in self.mapping:
                raise ValueError(f"--map {name}={self.mapping[name]}: no such column")
            if found is not None:
                self.columns[name] = found
        if "host" not in self.columns and "url" not in self.columns:
            raise ValueError(f"no host or URL column among: {', '.join(names)}")
        self.width, self.header_line = len(names), line
        return True

    def _cells(self, line: str) -> list[str]:
        return next(csv.reader((line,), delimiter=self.delimiter))

    def parse(self, line: str) -> Record | None:
        if not self.columns:
            raise ValueError("no header row")
        cells = self._cells(line)
        if len(cells) != self.width:
            raise ValueError(f"{len(cells)} columns, the header names {self.width}")

        def get(name: str) -> str:
            at = self.columns.get(name, ())
            return value_of(" ".join(cells[i] for i in at))

        method = get("method").upper() or "GET"
        host, path = split_url(get("url"), method) if get("url") else ("", "/")
        host = host_of(get("host")) or host
        if not host:
            raise ValueError("no host")
        ts = parse_time(get("time")) if get("time") else 0.0
        return Record(
            ts, get("client_ip"), get("user"), method, host, path, get("user_agent"),
            count(get("bytes_out")), count(get("bytes_in")),
        )  # fmt: skip


def guess_preset(names: set[str]) -> str | None:
    """The preset whose telling columns the header has most of (at least two)."""
    best = max(_MARKS, key=lambda p: len(_MARKS[p] & names))
    return best if len(_MARKS[best] & names) >= 2 else None


FORMATS: dict[str, type[LogFormat]] = {
    f.name: f for f in (Squid, Combined, ZeekTsv, ZeekJson, Dnsmasq, Bind, WindowsDns, Csv)
}
FORMAT_NAMES = (*FORMATS, *PRESETS)


def make_format(name: str, mapping: dict[str, str] | None = None) -> LogFormat:
    """A fresh parser of format ``name`` (a CSV preset name gives a CSV parser)."""
    if name in PRESETS or name == "csv" or mapping:
        return Csv(preset=name if name in PRESETS else None, mapping=mapping or {})
    return FORMATS[name]()


def detect(lines: Sequence[str], mapping: dict[str, str] | None = None) -> LogFormat:
    """The format that reads most of the first ``lines``; ValueError when none reads any."""
    if mapping:
        return make_format("csv", mapping)
    sample = [line for line in lines if line.strip()][:50]
    best: tuple[int, LogFormat] | None = None
    for name in FORMATS:
        fmt, read = make_format(name), 0
        for line in sample:
            with contextlib.suppress(ValueError, KeyError, IndexError):
                read += fmt.header(line) or fmt.parse(line) is not None
        if read and (best is None or read > best[0]):
            best = (read, fmt)
    if best is None:
        raise ValueError("no known log format reads these lines; give --format")
    return make_format(best[1].name, mapping)
