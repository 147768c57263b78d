"""One Hyperscan pass over a chunk: is every line well-formed, and which lines may be AI.

A format's ``fast`` regex (``^…(HOST)…$``, multi-line) says what a well-formed line is and
where its host sits. From it and the catalog this builds one Hyperscan database that, in a
single scan of the chunk, tells whether every line is well-formed and where the lines are
that must be read in full. Those are a superset of the lines whose host (or User-Agent)
``LogClassifier.may_be_ai`` accepts, so the counts are those of reading every line:

- a catalog suffix (domain, host-pattern key or signature host) anywhere in the line,
  caseless; with a User-Agent column, a client keyword too;
- a byte outside ASCII anywhere (Unicode case folding can turn one into a suffix's letter);
- a ``%`` in the host cell (the host is percent-decoded before it is looked up);
- a host cell that reads as no host, or ``-`` (such lines are read, as ``may_be_ai`` asks).

Python's ``re`` needs about 0.9 µs a line to find each line's host; this about 0.3.
"""

from __future__ import annotations

import re
from typing import Any

from shadowlens.proxy.catalog import HostIndex

_hs: Any
try:  # the wheel bundles Vectorscan; missing on some platforms
    import hyperscan as _hs
except ImportError:  # pragma: no cover - depends on the platform
    _hs = None

WELL_FORMED = 0  # the id of the pattern that matches a chunk of well-formed lines only
_CAPTURE = re.compile(rb"\\.|\[(?:\\.|[^\]\\])*\]|\((?!\?)")  # escapes, classes, or a "("


class Prefilter:
    """The lines of a chunk worth reading in full, for one format's ``fast`` pattern."""

    def __init__(
        self, catalog: HostIndex, fast: bytes, *, host_group: int = 0, with_agent: bool
    ) -> None:
        if _hs is None:
            raise RuntimeError("the hyperscan module is not installed")
        line, prefix, cell = _shape(fast, host_group)
        end = b"[" + cell[2:]  # the negated class's complement: where the host cell ends
        literals = set(catalog.suffix_keys())
        if with_agent:
            literals |= catalog.clients.keywords()
        patterns: list[tuple[bytes, int]] = [
            (rb"^(?:" + line + rb"\n)*$", 0),  # the whole chunk: once, at its end
            (rb"[\x80-\xff]", 0),
            (rb"^" + prefix + cell + rb"*%", _hs.HS_FLAG_MULTILINE),
            (
                rb"^" + prefix + rb"(?:" + cell + rb"*@)?\s*"
                rb"(?:\[-?(?:\]" + cell + rb"*)?|-?\.*(?::[0-9]*)?)\s*" + end,
                _hs.HS_FLAG_MULTILINE,
            ),
        ]
        patterns += [(re.escape(s.encode()), _hs.HS_FLAG_CASELESS) for s in sorted(literals)]
        self.db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        self.db.compile(
            expressions=[p for p, _ in patterns],
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=[f for _, f in patterns],
        )

    def lines(self, chunk: bytes) -> list[int] | None:
        """Where each line worth reading starts, in order; None when a line of ``chunk``
        (whole lines, each ending in a newline) is not well-formed: read them all then."""
        starts: set[int] = set()
        well_formed = False

        def on_match(ident: int, _from: int, to: int, _flags: int, _ctx: object) -> None:
            nonlocal well_formed
            if ident == WELL_FORMED:  # ``$`` also holds before a last newline: not enough
                well_formed = well_formed or to == len(chunk)
            else:  # ``to - 1``: a match may end on the newline after its line
                starts.add(chunk.rfind(b"\n", 0, to - 1) + 1)

        self.db.scan(chunk, match_event_handler=on_match)
        return sorted(starts) if well_formed else None


def available() -> bool:
    """Whether Hyperscan is installed here (its wheel covers x86_64 and aarch64)."""
    return _hs is not None


def _shape(fast: bytes, host_group: int = 0) -> tuple[bytes, bytes, bytes]:
    """(a line without anchors or captures, the part before the host, the host's character
    class) of a ``^…([^…]*)…$`` pattern whose group ``host_group`` is the host cell."""
    if not (fast.startswith(b"^") and fast.endswith(b"$")):
        raise ValueError("a fast pattern is anchored at both ends")
    body = fast[1:-1]
    opens = [m.start() for m in _CAPTURE.finditer(body) if m.group() == b"("]
    if len(opens) <= host_group:
        raise ValueError("a fast pattern captures the host")
    prefix = _non_capturing(body[: opens[host_group]])
    cell = body[opens[host_group] + 1 :].partition(b")")[0]
    if not (cell.startswith(b"[^") and cell.endswith(b"]*") and b"]" not in cell[2:-2]):
        raise ValueError(f"the host cell is a negated class, not {cell!r}")
    return _non_capturing(body), prefix, cell[:-1]


def _non_capturing(body: bytes) -> bytes:
    """``body`` with each capturing ``(`` made non-capturing."""
    out, at = [], 0
    for m in _CAPTURE.finditer(body):
        out.append(body[at : m.start()])
        out.append(b"(?:" if m.group() == b"(" else m.group())
        at = m.end()
    out.append(body[at:])
    return b"".join(out)
