"""What a log line says about one request, whatever the log's format."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from functools import lru_cache
from typing import NamedTuple
from urllib.parse import unquote

# Bytes beyond this are not a real transfer: a forged number must not overflow a counter.
MAX_BYTES = 1 << 48

# Kinds of record whose host is all we know, like a TLS handshake's SNI.
HOST_ONLY = frozenset({"CONNECT", "TLS", "DNS"})


class Record(NamedTuple):
    """One request (or DNS query, or TLS handshake) read from a log."""

    ts: float  # seconds since the epoch, UTC
    client_ip: str
    user: str  # "" when the log names nobody
    method: str  # HTTP method; CONNECT, TLS (a TLS log) or DNS (a query)
    host: str
    path: str  # without the query string
    user_agent: str
    bytes_out: int  # sent by the client
    bytes_in: int  # received by the client


def field(value: str) -> str:
    """A log field, with the usual "nothing here" markers turned into ""."""
    value = value.strip()
    return "" if value in ("-", "(empty)", '""') else value


def count(value: str) -> int:
    """A byte count; "" and "-" are 0, a negative or absurd count is refused."""
    value = field(value)
    if not value:
        return 0
    number = int(value)
    if not 0 <= number < MAX_BYTES:
        raise ValueError(f"byte count out of range: {number}")
    return number


@lru_cache(maxsize=1 << 16)  # the same endpoints recur line after line
def split_url(url: str, method: str) -> tuple[str, str]:
    """(host, path) of a proxy log's URL: absolute, ``host:port`` (CONNECT) or a bare host."""
    url = field(url)
    if method == "CONNECT" or "://" not in url:
        authority, _, rest = url.partition("/")
        path = "/" + rest if rest else ("" if method == "CONNECT" else "/")
    else:
        authority, _, rest = url.partition("://")[2].partition("/")
        path = "/" + rest
    return host_of(authority), unquote(path.partition("?")[0].partition("#")[0])


_PORT = re.compile(r":\d*\Z")


@lru_cache(maxsize=1 << 16)
def host_of(authority: str) -> str:
    """The host of ``[user@]host[:port]``, IPv6 brackets kept off, lower case."""
    host = authority.rpartition("@")[2].strip().lower()
    if host.startswith("["):
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = _PORT.sub("", host)
    return unquote(host).rstrip(".")


def parse_time(text: str) -> float:
    """Seconds since the epoch from epoch seconds or an ISO-like date; no zone means UTC."""
    text = text.strip()
    try:
        return float(text)
    except ValueError:
        pass
    when = datetime.fromisoformat(text.replace("/", "-").replace(" UTC", "+00:00"))
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.timestamp()
