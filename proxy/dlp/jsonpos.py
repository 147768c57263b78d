"""A JSON reader that reports where each string value sits in the source text.

It lets redaction replace one string literal in place, so the rest of the document stays
byte-identical (whitespace, key order, number spelling, escapes elsewhere).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from json.decoder import scanstring  # type: ignore[attr-defined]

_WS = re.compile(r"[ \t\n\r]*")
_NUMBER = re.compile(r"-?(?:0|[1-9][0-9]*)(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?")
MAX_NESTING = 256


class JsonPositionError(ValueError):
    """The text is not one well-formed JSON document."""


class JsonTooDeepError(JsonPositionError):
    """The document nests deeper than :data:`MAX_NESTING`; it was not walked."""


@dataclass(frozen=True, slots=True)
class StringValue:
    """A string value: its JSON pointer, decoded value and the literal's span in the source."""

    pointer: str
    value: str
    start: int  # index of the opening quote
    end: int  # index just past the closing quote


def pointer_token(key: str | int) -> str:
    return str(key).replace("~", "~0").replace("/", "~1")


def string_values(text: str) -> list[StringValue]:
    """Every string value (not keys) in document order; raises JsonPositionError if malformed."""
    out: list[StringValue] = []
    try:
        end = _value(text, _skip(text, 0), "", out, 0)
    except (IndexError, ValueError) as exc:
        if isinstance(exc, JsonPositionError):
            raise
        raise JsonPositionError(str(exc)) from exc
    if _skip(text, end) != len(text):
        raise JsonPositionError("extra data after the JSON document")
    return out


def _skip(text: str, pos: int) -> int:
    m = _WS.match(text, pos)
    return m.end() if m else pos


def _value(text: str, pos: int, path: str, out: list[StringValue], depth: int) -> int:
    if depth > MAX_NESTING:
        raise JsonTooDeepError(f"JSON nested deeper than {MAX_NESTING}")
    ch = text[pos]
    if ch == '"':
        value, end = scanstring(text, pos + 1, True)
        out.append(StringValue(path, value, pos, end))
        return end
    if ch == "{":
        pos = _skip(text, pos + 1)
        if text[pos] == "}":
            return pos + 1
        while True:
            if text[pos] != '"':
                raise JsonPositionError(f"expected a key at {pos}")
            key, pos = scanstring(text, pos + 1, True)
            pos = _skip(text, pos)
            if text[pos] != ":":
                raise JsonPositionError(f"expected ':' at {pos}")
            pos = _value(text, _skip(text, pos + 1), f"{path}/{pointer_token(key)}", out, depth + 1)
            pos = _skip(text, pos)
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
                continue
            if text[pos] == "}":
                return pos + 1
            raise JsonPositionError(f"expected ',' or '}}' at {pos}")
    if ch == "[":
        pos = _skip(text, pos + 1)
        if text[pos] == "]":
            return pos + 1
        index = 0
        while True:
            pos = _value(text, pos, f"{path}/{index}", out, depth + 1)
            index += 1
            pos = _skip(text, pos)
            if text[pos] == ",":
                pos = _skip(text, pos + 1)
                continue
            if text[pos] == "]":
                return pos + 1
            raise JsonPositionError(f"expected ',' or ']' at {pos}")
    for literal in ("true", "false", "null"):
        if text.startswith(literal, pos):
            return pos + len(literal)
    m = _NUMBER.match(text, pos)
    if m:
        return m.end()
    raise JsonPositionError(f"unexpected character at {pos}")


def encode_string(value: str) -> str:
    """A JSON string literal for ``value`` (non-ASCII kept as is, lone surrogates escaped)."""
    return json.dumps(value, ensure_ascii=False)


def replace_strings(text: str, replacements: Iterator[tuple[StringValue, str]]) -> str:
    """``text`` with the given string literals replaced by new values (in document order)."""
    parts: list[str] = []
    pos = 0
    for item, new in sorted(replacements, key=lambda r: r[0].start):
        parts.append(text[pos : item.start])
        parts.append(encode_string(new))
        pos = item.end
    parts.append(text[pos:])
    return "".join(parts)
