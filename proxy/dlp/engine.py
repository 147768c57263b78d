"""Scanners: one Hyperscan database for every detector, or a pure-Python fallback.

Both engines share the confirmation step. The Python engine runs a detector's regex over the
whole text when one of its keywords occurs. The Hyperscan engine runs it only around the
places Hyperscan reported (see ``_confirm_windows``). Every match then goes through the
detector's filters and validators, so spans and results are identical between engines.
"""

from __future__ import annotations

import bisect
import contextlib
import logging
import re
import threading
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from shadowlens.proxy.dlp.model import SEVERITY_RANK, Detector, Finding, fingerprint, mask_preview
from shadowlens.proxy.dlp.rules import CodeBlockRule, load_rules
from shadowlens.proxy.dlp.validators import not_placeholder, shannon_entropy, warm

log = logging.getLogger(__name__)

_hs: Any
try:  # the wheel bundles Vectorscan; missing on some platforms
    import hyperscan as _hs
except ImportError:  # pragma: no cover - depends on the platform
    _hs = None

HYPERSCAN_AVAILABLE = _hs is not None

ENGINES = ("auto", "hyperscan", "python")
_Span = tuple[int, int, Detector]
# Most regex matches one detector confirms per text; past it the rest of the text is not
# checked for that detector (a text of thousands of phone-like numbers, say).
MAX_CANDIDATES = 5000


class Scanner:
    """Scans text with a fixed set of detectors. Thread-safe; build once and share."""

    engine_name = "python"

    def __init__(
        self,
        detectors: Sequence[Detector],
        code_blocks: Sequence[CodeBlockRule],
        *,
        fingerprint_key: bytes,
    ) -> None:
        if not fingerprint_key:
            raise ValueError("fingerprint_key must not be empty")
        self.detectors = tuple(detectors)
        self.code_blocks = tuple(code_blocks)
        self._key = fingerprint_key
        self._always = tuple(d for d in self.detectors if not d.keywords)
        self._keyed = tuple(d for d in self.detectors if d.keywords)
        # tables that validators load lazily are loaded now, not during a request
        warm(name for det in self.detectors for name in det.validator_names)

    # -- candidates --------------------------------------------------------------------------

    def _candidates(self, text: str) -> Iterable[tuple[Detector, int]]:
        """Detectors worth running on this text, each with where its regex can first match."""
        for det in self._always:
            yield det, 0
        if self._keyed:
            lowered = text.lower()
            for det in self._keyed:
                for kw in det.keywords:
                    if kw in lowered:
                        yield det, 0
                        break

    def _spans(self, text: str) -> list[_Span]:
        spans: list[_Span] = []
        for det, pos in self._candidates(text):
            spans.extend(_confirm(det, text, pos))
        return spans

    # -- scanning ----------------------------------------------------------------------------

    def scan(self, text: str) -> list[Finding]:
        """Findings in ``text``, ordered by start offset; the raw values are not kept."""
        chosen = _resolve_overlaps(self._spans(text))
        findings = [self._finding(det, text, start, end) for start, end, det in chosen]
        for rule in self.code_blocks:
            for start, end in find_code_blocks(rule, text):
                findings.append(self._block_finding(rule, text, start, end))
        findings.sort(key=lambda f: (f.start, f.end, f.detector))
        return findings

    def _finding(self, det: Detector, text: str, start: int, end: int) -> Finding:
        value = text[start:end]
        return Finding(
            detector=det.id,
            category=det.category,
            severity=det.severity,
            start=start,
            end=end,
            preview=mask_preview(value),
            fingerprint=fingerprint(self._key, value),
        )

    def _block_finding(self, rule: CodeBlockRule, text: str, start: int, end: int) -> Finding:
        value = text[start:end]
        return Finding(
            detector=rule.id,
            category="code",
            severity=rule.severity,
            start=start,
            end=end,
            preview=mask_preview(value.split("\n", 1)[0]),
            fingerprint=fingerprint(self._key, value),
        )


def _confirm(det: Detector, text: str, pos: int) -> Iterable[tuple[int, int, Detector]]:
    group = det.group
    left = det.max_hits or -1
    budget = MAX_CANDIDATES
    for match in det.regex.finditer(text, pos):
        budget -= 1
        if budget < 0:
            return  # a flood of look-alikes: stop paying for validators on this text
        start, end = match.span(group)
        if start < 0 or start == end:
            continue
        value = text[start:end]
        if _passes(det, value, match.group(0)):
            yield start, end, det
            left -= 1
            if left == 0:
                return


def _passes(det: Detector, value: str, whole: str) -> bool:
    if det.min_entropy and shannon_entropy(value) < det.min_entropy:
        return False
    if det.placeholder_filter and not not_placeholder(value):
        return False
    if det.stopwords:
        lowered = value.lower()
        if any(word in lowered for word in det.stopwords):
            return False
    for allow in det.allow:
        if allow.search(value) or allow.search(whole):
            return False
    try:
        return all(check(value) for check in det.validators)
    except Exception:  # a validator failing on odd input rejects the hit, never the scan
        # the exception is not logged: its message could quote the value
        log.debug("dlp validator of %s raised on a candidate", det.id)
        return False


def _resolve_overlaps(spans: list[_Span]) -> list[_Span]:
    """Within a category, keep the best of overlapping hits (priority, severity, length)."""
    if len(spans) < 2:
        return spans
    ranked = sorted(
        spans,
        key=lambda s: (-s[2].priority, -SEVERITY_RANK[s[2].severity], s[0] - s[1], s[0], s[2].id),
    )
    taken: dict[str, tuple[list[int], list[int]]] = {}
    chosen: list[_Span] = []
    for start, end, det in ranked:
        starts, ends = taken.setdefault(det.category, ([], []))
        i = bisect.bisect_left(starts, start)
        if i > 0 and ends[i - 1] > start:
            continue
        if i < len(starts) and starts[i] < end:
            continue
        starts.insert(i, start)
        ends.insert(i, end)
        chosen.append((start, end, det))
    return chosen


def find_code_blocks(rule: CodeBlockRule, text: str) -> list[tuple[int, int]]:
    """Runs of at least ``min_lines`` code-like lines making up ``min_ratio`` of the run.

    A line is code-like when ``rule.line_regex`` matches at its start or it ends (trailing
    blanks aside) with one of ``rule.line_endings``. Blank lines are neutral; a run ends at
    two consecutive other lines.
    """
    if text.count("\n") + 1 < rule.min_lines:
        return []
    if sum(text.count(c) for c in "(={;") * 2 < rule.min_lines:
        return []  # too few of the characters nearly every block of code is full of
    blocks: list[tuple[int, int]] = []
    match = rule.line_regex.match
    endings = rule.line_endings
    last_chars = frozenset(e[-1] for e in endings)
    run_start = run_end = -1
    code = other = gap = 0
    offset = 0
    for line in text.split("\n"):
        line_end = offset + len(line)
        stripped = line.rstrip()
        if not stripped:
            pass
        elif (stripped[-1] in last_chars and stripped.endswith(endings)) or match(line):
            if run_start < 0:
                run_start, code, other = offset + len(line) - len(line.lstrip()), 0, 0
            code += 1
            other += gap
            gap = 0
            run_end = offset + len(stripped)
        elif run_start >= 0:
            gap += 1
            if gap >= 2:
                if code >= rule.min_lines and code / (code + other) >= rule.min_ratio:
                    blocks.append((run_start, run_end))
                run_start, gap = -1, 0
        offset = line_end + 1
    if run_start >= 0 and code >= rule.min_lines and code / (code + other) >= rule.min_ratio:
        blocks.append((run_start, run_end))
    return blocks


# --- Hyperscan ----------------------------------------------------------------------------

_NAMED_GROUP = re.compile(r"\(\?P<[A-Za-z_]\w*>")
_LEADING_I = "(?i)"


def hyperscan_pattern(det: Detector) -> tuple[bytes, int]:
    """The detector's regex in Hyperscan's dialect, with its flags."""
    assert _hs is not None
    pattern = det.prefilter or _NAMED_GROUP.sub("(", det.pattern)
    flags = _hs.HS_FLAG_PREFILTER | _hs.HS_FLAG_ALLOWEMPTY
    if pattern.startswith(_LEADING_I):
        pattern = pattern[len(_LEADING_I) :]
        flags |= _hs.HS_FLAG_CASELESS
    if det.regex.flags & re.IGNORECASE:
        flags |= _hs.HS_FLAG_CASELESS
    return pattern.encode("utf-8"), flags


class HyperscanScanner(Scanner):
    """One Hyperscan database for all detectors: it names the detectors present and where.

    Each detector is compiled in prefilter mode with single-match, so Hyperscan reports at
    most one end offset per detector; the detector's Python regex then runs from that end
    minus the widest match the regex allows, which finds exactly the spans the Python engine
    would find. Detectors Hyperscan cannot compile run through the keyword prefilter instead.
    """

    engine_name = "hyperscan"

    def __init__(
        self,
        detectors: Sequence[Detector],
        code_blocks: Sequence[CodeBlockRule],
        *,
        fingerprint_key: bytes,
    ) -> None:
        if _hs is None:
            raise RuntimeError("the hyperscan module is not installed")
        super().__init__(detectors, code_blocks, fingerprint_key=fingerprint_key)
        compiled, rejected = self._compile(self.detectors)
        self._hs_detectors = compiled
        self._widths = [d.max_width if d.max_width is not None else 1 << 40 for d in compiled]
        self.rejected = tuple(d.id for d in rejected)
        self._always = tuple(d for d in rejected if not d.keywords)
        self._keyed = tuple(d for d in rejected if d.keywords)
        self._local = threading.local()

    def _compile(self, detectors: Sequence[Detector]) -> tuple[list[Detector], list[Detector]]:
        assert _hs is not None
        patterns = [hyperscan_pattern(det) for det in detectors]
        good: list[Detector] = list(detectors)
        bad: list[Detector] = []
        try:
            db = self._build(patterns)
        except Exception:  # some pattern is beyond Hyperscan: find it, compile the rest
            good = []
            kept: list[tuple[bytes, int]] = []
            for det, patt in zip(detectors, patterns, strict=True):
                try:
                    self._build([patt])
                except Exception as exc:  # hyperscan.error and friends
                    log.info("dlp detector %s runs without hyperscan: %s", det.id, exc)
                    bad.append(det)
                    continue
                good.append(det)
                kept.append(patt)
            db = self._build(kept) if kept else None
        self._db = db
        if db is not None:
            self._scratch = _hs.Scratch(db)
        return good, bad

    @staticmethod
    def _build(patterns: Sequence[tuple[bytes, int]]) -> Any:
        assert _hs is not None
        db = _hs.Database(mode=_hs.HS_MODE_BLOCK)
        db.compile(
            expressions=[p for p, _ in patterns],
            ids=list(range(len(patterns))),
            elements=len(patterns),
            flags=[f for _, f in patterns],
        )
        return db

    def _scratch_for_thread(self) -> Any:
        scratch = getattr(self._local, "scratch", None)
        if scratch is None:
            scratch = self._scratch.clone()
            self._local.scratch = scratch
        return scratch

    def _spans(self, text: str) -> list[_Span]:
        spans = super()._spans(text)  # detectors Hyperscan could not compile
        if self._db is None or not text:
            return spans
        ascii_text = text.isascii()
        data = text.encode("ascii") if ascii_text else text.encode("utf-8", "replace")
        widths = self._widths
        ranges: dict[int, list[list[int]]] = {}
        budget = [HIT_BUDGET + len(data) // 16]

        def on_match(ident: int, _from: int, to: int, _flags: int, _ctx: object) -> bool:
            found = ranges.get(ident)
            if found is None:
                ranges[ident] = [[to, to]]
            elif to <= found[-1][1] + widths[ident]:
                found[-1][1] = to
            else:
                found.append([to, to])
            budget[0] -= 1
            return budget[0] <= 0  # True stops the scan

        with contextlib.suppress(_hs.ScanTerminated):
            self._db.scan(data, match_event_handler=on_match, scratch=self._scratch_for_thread())
        if budget[0] <= 0:  # a flood of candidate hits: do what the Python engine does
            lowered = text.lower()
            for det in self._hs_detectors:
                if not det.keywords or any(kw in lowered for kw in det.keywords):
                    spans.extend(_confirm(det, text, 0))
            return spans
        for ident, found in ranges.items():
            det = self._hs_detectors[ident]
            if det.max_width is None or not ascii_text:
                first = found[0][0]
                if not ascii_text:
                    first = len(data[:first].decode("utf-8", "ignore"))
                spans.extend(_confirm(det, text, _earliest_start(det, text, first)))
            else:
                spans.extend(_confirm_windows(det, text, found))
        return spans


def _earliest_start(det: Detector, text: str, hit_end: int) -> int:
    """Where ``det``'s first match can start at the earliest, given the end of the first
    prefilter hit: every match ends at a hit, so it starts at most its widest width, or its
    most line breaks, before the first hit's end."""
    if det.max_width is not None:
        return max(0, hit_end - det.max_width)
    if det.max_newlines is None:
        return 0
    pos = hit_end
    for _ in range(det.max_newlines + 1):
        pos = text.rfind("\n", 0, pos)
        if pos < 0:
            return 0
    return pos + 1


HIT_BUDGET = 2_000  # candidate hits per text before falling back, plus one per 16 bytes
_MARGIN = 32  # room for lookaheads past the widest match


def _confirm_windows(det: Detector, text: str, ranges: list[list[int]]) -> list[_Span]:
    """What ``_confirm(det, text, 0)`` finds, searching only near Hyperscan's hits.

    Every match of the regex contains a prefilter hit end, so it starts at most
    ``max_width`` before one. A search bounded to ``hit + max_width + margin`` is exact for
    matches starting at or before the hit; later ones belong to the next window.
    """
    assert det.max_width is not None
    width = det.max_width
    n = len(text)
    out: list[_Span] = []
    left = det.max_hits or -1
    cursor = 0
    regex = det.regex
    group = det.group
    budget = MAX_CANDIDATES
    for lo, hi in ranges:
        pos = max(cursor, lo - width)
        endpos = min(n, hi + width + _MARGIN)
        while pos <= hi:
            match = regex.search(text, pos, endpos)
            if match is None or match.start() > hi:
                break
            if match.end() > endpos - _MARGIN and endpos < n:
                match = regex.search(text, pos)  # near the bound: redo unbounded
                if match is None:
                    return out
            cursor = pos = match.end() if match.end() > match.start() else match.start() + 1
            budget -= 1
            if budget < 0:
                return out
            start, end = match.span(group)
            if start < 0 or start == end:
                continue
            if _passes(det, text[start:end], match.group(0)):
                out.append((start, end, det))
                left -= 1
                if left == 0:
                    return out
    return out


def load_scanner(
    dlp_dir: Path,
    *,
    fingerprint_key: bytes,
    engine: str = "auto",
    keywords: Sequence[str] = (),
    categories: Collection[str] | None = None,
) -> Scanner:
    """Load the detectors in ``dlp_dir`` (of ``categories``, or all) and compile them for
    ``engine``.

    ``auto`` picks Hyperscan when the module is installed, else the Python engine;
    ``hyperscan`` fails when it is not. Raises :class:`proxy.errors.RulesError` for a bad
    detector file.
    """
    if engine not in ENGINES:
        raise ValueError(f"engine must be one of {ENGINES}, not {engine!r}")
    rules = load_rules(Path(dlp_dir), keywords)
    detectors, blocks = rules.detectors, rules.code_blocks
    if categories is not None:
        detectors = tuple(d for d in detectors if d.category in categories)
        blocks = blocks if "code" in categories else ()
    if engine == "hyperscan" or (engine == "auto" and HYPERSCAN_AVAILABLE):
        return HyperscanScanner(detectors, blocks, fingerprint_key=fingerprint_key)
    return Scanner(detectors, blocks, fingerprint_key=fingerprint_key)


@dataclass(frozen=True, slots=True)
class ScannerRecipe:
    """What :func:`load_scanner` takes to build the configured scanner (``config.recipe``).
    A scan worker is sent this over its pipe, never on its command line (the key is a
    secret), and builds its own; here, apart from the settings, so it loads none of them."""

    rules_dir: Path
    fingerprint_key: bytes
    engine: str
    keywords: tuple[str, ...]

    def build(self) -> Scanner:
        return load_scanner(
            self.rules_dir / "dlp",
            fingerprint_key=self.fingerprint_key,
            engine=self.engine,
            keywords=list(self.keywords),
        )
