"""Load detectors from ``rules/dlp/*.yaml`` (and gitleaks ``*.toml``) into :class:`Detector`.

A bad file is rejected with :class:`proxy.errors.RulesError` naming the file, the entry and
the reason; nothing is half-loaded.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from shadowlens.proxy.dlp import validators as _validators
from shadowlens.proxy.dlp.model import CATEGORIES, SEVERITIES, Detector
from shadowlens.proxy.errors import RulesError

_ID = re.compile(r"[a-z0-9][a-z0-9._:-]{0,99}")
_DETECTOR_KEYS = {
    "id",
    "description",
    "category",
    "severity",
    "regex",
    "group",
    "keywords",
    "case_insensitive",
    "min_entropy",
    "validators",
    "allow",
    "stopwords",
    "placeholder_filter",
    "priority",
    "kind",
    "min_lines",
    "min_ratio",
    "line_regex",
    "tags",
    "max_hits",
    "prefilter",
    "line_endings",
}
_DETECTOR_CATEGORIES = tuple(c for c in CATEGORIES if c != "limit")


@dataclass(frozen=True, slots=True)
class CodeBlockRule:
    """Finds runs of source-code lines: ``min_lines`` code-like lines, ``min_ratio`` of the run."""

    id: str
    severity: str
    line_regex: re.Pattern[str]
    min_lines: int = 20
    min_ratio: float = 0.6
    description: str = ""
    line_endings: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RuleSet:
    detectors: tuple[Detector, ...]
    code_blocks: tuple[CodeBlockRule, ...]


def widest(pattern: re.Pattern[str]) -> int | None:
    """The longest text the pattern can match, or None when it is unbounded."""
    try:
        width = re._parser.parse(pattern.pattern, pattern.flags).getwidth()[1]  # type: ignore[attr-defined, unused-ignore]
    except Exception:
        return None
    return None if width >= 65535 else int(width)


def most_newlines(pattern: re.Pattern[str]) -> int | None:
    """The most line breaks one match can hold, or None when unbounded (or unknown).

    A match of a pattern that cannot span many lines starts a few lines before the first
    prefilter hit, so confirming it need not search the text from its beginning."""
    try:
        parsed = re._parser.parse(pattern.pattern, pattern.flags)  # type: ignore[attr-defined, unused-ignore]
    except Exception:
        return None
    return _newlines(list(parsed), dotall=bool(pattern.flags & re.DOTALL))


_C: Any = re._constants  # type: ignore[attr-defined, unused-ignore]
_NEWLINE_CATEGORIES = {_C.CATEGORY_SPACE, _C.CATEGORY_NOT_DIGIT, _C.CATEGORY_NOT_WORD,
                       _C.CATEGORY_LINEBREAK, _C.CATEGORY_UNI_SPACE, _C.CATEGORY_UNI_NOT_DIGIT,
                       _C.CATEGORY_UNI_NOT_WORD, _C.CATEGORY_UNI_LINEBREAK}  # fmt: skip
_ZERO_WIDTH = {_C.AT, _C.ASSERT, _C.ASSERT_NOT}
_REPEATS = {_C.MAX_REPEAT, _C.MIN_REPEAT, getattr(_C, "POSSESSIVE_REPEAT", None)}


def _newlines(items: list[tuple[Any, Any]], *, dotall: bool) -> int | None:
    total = 0
    for op, av in items:
        found = _item_newlines(op, av, dotall=dotall)
        if found is None:
            return None
        total += found
    return total


def _item_newlines(op: Any, av: Any, *, dotall: bool) -> int | None:
    if op in _ZERO_WIDTH:
        return 0
    if op in _REPEATS:
        _, high, item = av
        inner = _newlines(list(item), dotall=dotall)
        if inner is None or (inner and high == _C.MAXREPEAT):
            return None
        return inner * high
    if op is _C.SUBPATTERN:
        return _newlines(list(av[3]), dotall=dotall or bool(av[1] & re.DOTALL))
    if op is _C.ATOMIC_GROUP:
        return _newlines(list(av), dotall=dotall)
    if op is _C.BRANCH:
        counts = [_newlines(list(branch), dotall=dotall) for branch in av[1]]
        return None if None in counts else max(c for c in counts if c is not None)
    return _char_newlines(op, av, dotall=dotall)


def _char_newlines(op: Any, av: Any, *, dotall: bool) -> int | None:
    """1 when the one-character item can match a line break, 0 when not, None if unknown."""
    if op is _C.LITERAL:
        return int(av == 10)
    if op is _C.NOT_LITERAL:
        return int(av != 10)
    if op is _C.ANY:
        return int(dotall)
    if op is _C.IN:
        return int(_set_has_newline(av))
    return None  # a back-reference, a conditional group: not bounded here


def _set_has_newline(items: list[tuple[Any, Any]]) -> bool:
    negate = bool(items) and items[0][0] is _C.NEGATE
    hit = any(
        (op is _C.LITERAL and av == 10)
        or (op is _C.RANGE and av[0] <= 10 <= av[1])
        or (op is _C.CATEGORY and av in _NEWLINE_CATEGORIES)
        for op, av in items
    )
    return hit != negate


def compile_regex(pattern: str, *, case_insensitive: bool = False) -> re.Pattern[str]:
    flags = re.ASCII | (re.IGNORECASE if case_insensitive else 0)
    return re.compile(pattern, flags)


def build_detector(
    entry: dict[str, Any], *, file: Path | str, defaults: dict[str, Any] | None = None
) -> Detector:
    """Validate one mapping from a detector file and compile it."""
    data = {**(defaults or {}), **entry}
    ident = data.get("id")
    if not isinstance(ident, str) or not _ID.fullmatch(ident):
        raise RulesError(file, str(ident), "id must be lower-case letters, digits, . _ : -")
    unknown = set(entry) - _DETECTOR_KEYS
    if unknown:
        raise RulesError(file, ident, f"unknown keys {sorted(unknown)}")
    category = data.get("category")
    if category not in _DETECTOR_CATEGORIES:
        raise RulesError(file, ident, f"category must be one of {_DETECTOR_CATEGORIES}")
    severity = data.get("severity", "medium")
    if severity not in SEVERITIES:
        raise RulesError(file, ident, f"severity must be one of {SEVERITIES}")
    pattern = data.get("regex")
    if not isinstance(pattern, str) or not pattern:
        raise RulesError(file, ident, "regex is required")
    try:
        regex = compile_regex(pattern, case_insensitive=bool(data.get("case_insensitive")))
    except re.error as exc:
        raise RulesError(file, ident, f"regex does not compile: {exc}") from exc
    group = data.get("group", 0)
    if isinstance(group, int):
        if not 0 <= group <= regex.groups:
            raise RulesError(file, ident, f"group {group} not in regex")
    elif isinstance(group, str):
        if group not in regex.groupindex:
            raise RulesError(file, ident, f"named group {group!r} not in regex")
    else:
        raise RulesError(file, ident, "group must be an int or a group name")
    if group == 0 and "secret" in regex.groupindex:
        group = "secret"
    keywords = _str_list(data.get("keywords", []), file, ident, "keywords")
    names = _str_list(data.get("validators", []), file, ident, "validators")
    checks = []
    for name in names:
        try:
            checks.append(_validators.resolve(name))
        except LookupError as exc:
            raise RulesError(file, ident, str(exc)) from exc
    allow = []
    for item in _str_list(data.get("allow", []), file, ident, "allow"):
        try:
            allow.append(re.compile(item, re.IGNORECASE))
        except re.error as exc:
            raise RulesError(file, ident, f"allow regex {item!r}: {exc}") from exc
    min_entropy = data.get("min_entropy", 0.0)
    if not isinstance(min_entropy, int | float) or not 0 <= min_entropy <= 8:
        raise RulesError(file, ident, "min_entropy must be a number from 0 to 8")
    priority = data.get("priority", 50)
    if not isinstance(priority, int):
        raise RulesError(file, ident, "priority must be an integer")
    max_hits = data.get("max_hits", 0)
    if not isinstance(max_hits, int) or max_hits < 0:
        raise RulesError(file, ident, "max_hits must be a non-negative integer")
    prefilter = data.get("prefilter", "")
    if not isinstance(prefilter, str):
        raise RulesError(file, ident, "prefilter must be a string")
    placeholder = data.get("placeholder_filter", category == "secret")
    return Detector(
        id=ident,
        category=category,
        severity=severity,
        pattern=pattern,
        regex=regex,
        group=group,
        keywords=tuple(k.lower() for k in keywords),
        min_entropy=float(min_entropy),
        validators=tuple(checks),
        validator_names=tuple(names),
        allow=tuple(allow),
        stopwords=tuple(s.lower() for s in _str_list(data.get("stopwords", []), file, ident, "")),
        placeholder_filter=bool(placeholder),
        priority=priority,
        description=str(data.get("description", "")),
        source=str(file),
        max_width=widest(regex),
        max_newlines=most_newlines(regex),
        max_hits=max_hits,
        prefilter=prefilter,
        tags=tuple(_str_list(data.get("tags", []), file, ident, "tags")),
    )


def _code_block(entry: dict[str, Any], file: Path | str) -> CodeBlockRule:
    ident = str(entry.get("id"))
    line = entry.get("line_regex")
    if not isinstance(line, str):
        raise RulesError(file, ident, "code_block needs line_regex")
    try:
        line_regex = re.compile(line, re.ASCII)
    except re.error as exc:
        raise RulesError(file, ident, f"line_regex does not compile: {exc}") from exc
    min_lines = entry.get("min_lines", 20)
    min_ratio = entry.get("min_ratio", 0.6)
    if not isinstance(min_lines, int) or min_lines < 2:
        raise RulesError(file, ident, "min_lines must be an integer >= 2")
    if not isinstance(min_ratio, int | float) or not 0 < min_ratio <= 1:
        raise RulesError(file, ident, "min_ratio must be in (0, 1]")
    severity = entry.get("severity", "medium")
    if severity not in SEVERITIES:
        raise RulesError(file, ident, f"severity must be one of {SEVERITIES}")
    endings = _str_list(entry.get("line_endings", []), file, ident, "line_endings")
    return CodeBlockRule(
        id=ident,
        severity=severity,
        line_regex=line_regex,
        min_lines=min_lines,
        min_ratio=float(min_ratio),
        description=str(entry.get("description", "")),
        line_endings=tuple(endings),
    )


def _str_list(value: Any, file: Path | str, ident: str, key: str) -> list[str]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RulesError(file, ident, f"{key or 'stopwords'} must be a list of strings")
    return list(value)


def load_yaml_file(path: Path) -> RuleSet:
    try:
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RulesError(path, "-", f"cannot read: {exc}") from exc
    if not isinstance(doc, dict) or not isinstance(doc.get("detectors"), list):
        raise RulesError(path, "-", "expected a mapping with a 'detectors' list")
    defaults = doc.get("defaults", {})
    if not isinstance(defaults, dict):
        raise RulesError(path, "defaults", "must be a mapping")
    detectors: list[Detector] = []
    blocks: list[CodeBlockRule] = []
    for index, entry in enumerate(doc["detectors"]):
        if not isinstance(entry, dict):
            raise RulesError(path, f"#{index}", "each detector must be a mapping")
        kind = entry.get("kind", "regex")
        if kind == "code_block":
            blocks.append(_code_block(entry, path))
        elif kind == "regex":
            detectors.append(build_detector(entry, file=path, defaults=defaults))
        else:
            raise RulesError(path, str(entry.get("id")), f"unknown kind {kind!r}")
    return RuleSet(tuple(detectors), tuple(blocks))


def keyword_detector(keywords: Sequence[str]) -> Detector | None:
    """One detector for the customer's confidentiality keywords (whole words, any case)."""
    words = sorted({k.strip() for k in keywords if k.strip()}, key=len, reverse=True)
    if not words:
        return None
    alternation = "|".join(re.escape(w) for w in words)
    pattern = rf"(?<![A-Za-z0-9_])(?:{alternation})(?![A-Za-z0-9_])"
    return build_detector(
        {
            "id": "custom-keyword",
            "category": "keyword",
            "severity": "high",
            "regex": pattern,
            "keywords": [w.lower() for w in words],
            "case_insensitive": True,
            "priority": 80,
            "description": "Confidentiality keyword from configuration",
        },
        file="<settings: dlp_keywords>",
    )


# --- gitleaks import -----------------------------------------------------------------------


def _go_to_python(regex: str) -> str:
    """Translate the few RE2 spellings Python's re reads differently."""
    out = regex.replace(r"\z", r"\Z")
    out = re.sub(r"\\x\{([0-9A-Fa-f]{1,4})\}", lambda m: f"\\u{int(m.group(1), 16):04x}", out)
    out = re.sub(r"\[\[:(\w+):\]\]", lambda m: _POSIX.get(m.group(1), m.group(0)), out)
    # RE2 allows flags mid-pattern like (?i) at the start of a group: Python wants them global.
    if "(?i)" in out and not out.startswith("(?i)"):
        out = "(?i)" + out.replace("(?i)", "")
    return out


_POSIX = {
    "alpha": "[A-Za-z]",
    "digit": "[0-9]",
    "alnum": "[A-Za-z0-9]",
    "upper": "[A-Z]",
    "lower": "[a-z]",
    "space": r"\s",
    "xdigit": "[0-9A-Fa-f]",
    "word": r"\w",
    "punct": r"[!-/:-@\[-`{-~]",
}


def load_gitleaks(path: Path, *, severity: str = "high") -> list[Detector]:
    """Turn a gitleaks config's ``[[rules]]`` into secret detectors.

    Reads id, description, regex, secretGroup, keywords, entropy and the rule's allowlists
    (``regexes``, ``stopwords``); the global ``[allowlist]`` applies to every rule. Path-only
    rules and path allowlists do not apply to request bodies and are skipped.
    """
    try:
        doc = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise RulesError(path, "-", f"cannot read gitleaks config: {exc}") from exc
    rules = doc.get("rules", [])
    if not isinstance(rules, list):
        raise RulesError(path, "rules", "expected [[rules]] tables")
    global_allow, global_stop = _gitleaks_allowlists(doc.get("allowlist"), path, "allowlist")
    glob2 = doc.get("allowlists")
    if isinstance(glob2, list):
        for item in glob2:
            more_allow, more_stop = _gitleaks_allowlists(item, path, "allowlists")
            global_allow += more_allow
            global_stop += more_stop
    detectors: list[Detector] = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, dict):
            raise RulesError(path, f"rules[{index}]", "must be a table")
        rid = str(rule.get("id", f"rule-{index}"))
        if "regex" not in rule:
            continue  # path-only rule
        allow, stop = _gitleaks_allowlists(rule.get("allowlist"), path, rid)
        extra = rule.get("allowlists") or []
        for item in extra if isinstance(extra, list) else [extra]:
            more_allow, more_stop = _gitleaks_allowlists(item, path, rid)
            allow += more_allow
            stop += more_stop
        try:
            group = int(rule.get("secretGroup", 0) or 0)
            entropy = float(rule.get("entropy", 0.0) or 0.0)
        except (TypeError, ValueError) as exc:
            raise RulesError(path, rid, "secretGroup and entropy must be numbers") from exc
        ident = "gitleaks:" + re.sub(r"[^a-z0-9._-]+", "-", rid.lower()).strip("-")[:80]
        entry: dict[str, Any] = {
            "id": ident,
            "description": str(rule.get("description", "")),
            "category": "secret",
            "severity": severity,
            "regex": _go_to_python(str(rule["regex"])),
            "group": group,
            "keywords": _str_list(rule.get("keywords", []), path, rid, "keywords"),
            "min_entropy": entropy,
            "allow": [_go_to_python(a) for a in allow + global_allow],
            "stopwords": stop + global_stop,
            "placeholder_filter": False,
            "priority": 60,
        }
        try:
            detectors.append(build_detector(entry, file=path))
        except RulesError as exc:
            raise RulesError(path, rid, exc.reason) from exc
    return detectors


def _gitleaks_allowlists(table: Any, path: Path, entry: str) -> tuple[list[str], list[str]]:
    if table is None:
        return [], []
    if not isinstance(table, dict):
        raise RulesError(path, entry, "allowlist must be a table")
    regexes = table.get("regexes", [])
    stops = table.get("stopwords", [])
    if not isinstance(regexes, list) or not isinstance(stops, list):
        raise RulesError(path, entry, "allowlist regexes/stopwords must be lists")
    return [str(r) for r in regexes], [str(s) for s in stops]


def load_rules(dlp_dir: Path, keywords: Iterable[str] = ()) -> RuleSet:
    """Every detector in ``dlp_dir``: ``*.yaml`` files, then gitleaks ``*.toml`` configs."""
    if not dlp_dir.is_dir():
        raise RulesError(dlp_dir, "-", "DLP rules folder does not exist")
    detectors: list[Detector] = []
    blocks: list[CodeBlockRule] = []
    for path in sorted(dlp_dir.glob("*.yaml")) + sorted(dlp_dir.glob("*.yml")):
        rules = load_yaml_file(path)
        detectors.extend(rules.detectors)
        blocks.extend(rules.code_blocks)
    for path in sorted(dlp_dir.glob("*.toml")):
        detectors.extend(load_gitleaks(path))
    custom = keyword_detector(list(keywords))
    if custom is not None:
        detectors.append(custom)
    seen: dict[str, str] = {}
    for det in detectors:
        if det.id in seen:
            raise RulesError(det.source, det.id, f"duplicate id (also in {seen[det.id]})")
        seen[det.id] = det.source
    if not detectors and not blocks:
        raise RulesError(dlp_dir, "-", "no detectors found")
    return RuleSet(tuple(detectors), tuple(blocks))
