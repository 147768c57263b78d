"""Reversible pseudonymisation: typed surrogates out, the original values back in.

Each sensitive value a user sends is replaced by a surrogate of the same type (an e-mail
address, a Luhn-valid test card, an ``AKIA`` key of the same shape), the same one every time
within that user's conversation, so the model can still refer to it. On the way back, the
surrogates in the answer are turned into the original values again, for that user only.

The pairs live in this process's memory for a limited time and never reach the database,
a log or a sink.
"""

from __future__ import annotations

import base64
import hmac
import json
import re
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

# SSE fields whose string values carry streamed text: OpenAI's delta.content and tool-call
# arguments, Anthropic's text and partial JSON.
STREAMED_TEXT_KEYS = frozenset({"content", "text", "arguments", "partial_json"})
_DIGITS = re.compile(r"\d")


def _luhn_completed(digits: str) -> str:
    """``digits`` with a check digit appended that makes the whole number Luhn-valid."""
    total = 0
    for index, char in enumerate(reversed(digits)):
        n = int(char) * (2 if index % 2 == 0 else 1)
        total += n - 9 if n > 9 else n
    return digits + str((10 - total % 10) % 10)


def _card(value: str, digest: bytes) -> str:
    """A test card (issuer 4000 00) of the value's length, in the value's own grouping."""
    count = len(_DIGITS.findall(value))
    filler = "".join(str(b % 10) for b in digest)
    digits = iter(_luhn_completed(("400000" + filler)[: max(count - 1, 7)]))
    return _DIGITS.sub(lambda _: next(digits, "0"), value)


def _shape(detector: str, value: str, digest: bytes) -> str:
    tag = digest.hex()
    if "email" in detector:
        return f"EMAIL_{tag[:6]}@example.invalid"
    if "card" in detector:
        return _card(value, digest)
    if detector == "aws-access-key-id":
        return "AKIA" + base64.b32encode(digest).decode()[:16]
    name = re.sub(r"[^A-Z0-9]+", "_", detector.upper()).strip("_")
    return f"{name}_{tag[:10]}"


@dataclass(slots=True)
class _Pairs:
    to_original: dict[str, str] = field(default_factory=dict)
    expires: dict[str, float] = field(default_factory=dict)


class Pseudonyms:
    """Per-user surrogate ↔ original pairs, in memory, each kept ``ttl`` seconds after use."""

    def __init__(
        self,
        key: bytes,
        *,
        ttl: float,
        max_per_user: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.key = key
        self.ttl = ttl
        self.max_per_user = max_per_user
        self.clock = clock
        self.users: dict[str, _Pairs] = {}

    def labeller(self, holder: str) -> Callable[[str, str], str]:
        """The replacement function for ``holder``'s uploads (see ``redact_text``)."""
        return lambda detector, value: self.surrogate(holder, detector, value)

    def surrogate(self, holder: str, detector: str, value: str) -> str:
        """The surrogate of ``value`` for ``holder``: the same one for as long as it is kept."""
        mac = hmac.digest(self.key, f"{holder}\0{detector}\0{value}".encode(), "sha256")
        fake = _shape(detector, value, mac)
        pairs = self.users.setdefault(holder, _Pairs())
        pairs.to_original[fake] = value
        pairs.expires[fake] = self.clock() + self.ttl
        if len(pairs.to_original) > self.max_per_user:
            oldest = min(pairs.expires, key=pairs.expires.__getitem__)
            del pairs.to_original[oldest], pairs.expires[oldest]
        return fake

    def restorer(self, holder: str) -> Restorer | None:
        """What turns ``holder``'s surrogates back into their values, or None if it has none."""
        pairs = self.users.get(holder)
        if pairs is None:
            return None
        now = self.clock()
        for fake in [f for f, until in pairs.expires.items() if until <= now]:
            del pairs.to_original[fake], pairs.expires[fake]
        if not pairs.to_original:
            del self.users[holder]
            return None
        return Restorer(dict(pairs.to_original))


class Restorer:
    """Replaces known surrogates in text, and says how much of a text's end to hold back."""

    def __init__(self, to_original: dict[str, str]) -> None:
        self.to_original = to_original
        longest_first = sorted(to_original, key=len, reverse=True)
        self.pattern = re.compile("|".join(re.escape(f) for f in longest_first))

    def restore(self, text: str) -> str:
        """``text`` with every surrogate replaced by its original value."""
        return self.pattern.sub(lambda m: self.to_original[m.group(0)], text)

    def pending(self, text: str) -> int:
        """Length of the longest end of ``text`` that may be the start of a surrogate."""
        longest = 0
        for fake in self.to_original:
            for size in range(min(len(fake) - 1, len(text)), longest, -1):
                if text.endswith(fake[:size]):
                    longest = size
                    break
        return longest


class SseRestorer:
    """A mitmproxy response stream function restoring surrogates in Server-Sent Events.

    A surrogate may be split over several events (each token its own ``delta``): the text of
    each streamed field is held back while it may still be the start of a surrogate, and
    released, restored, with the next event or at the end of the stream.
    """

    def __init__(self, restorer: Restorer) -> None:
        self.restorer = restorer
        self.buffer = b""
        self.pending: dict[Path, str] = {}
        self.shapes: dict[Path, Any] = {}  # the last event that carried each streamed field

    def __call__(self, chunk: bytes) -> bytes:
        self.buffer += chunk
        out: list[bytes] = []
        while (end := self.buffer.find(b"\n\n")) >= 0:
            event, self.buffer = self.buffer[: end + 2], self.buffer[end + 2 :]
            out.append(self._event(event))
        if not chunk:  # the end of the stream: release what is held
            out.append(self._flush() + self.buffer)
            self.buffer = b""
        return b"".join(out)

    def _event(self, event: bytes) -> bytes:
        lines = event.decode("utf-8", "replace").split("\n")
        data = [line for line in lines if line.startswith("data:")]
        if len(data) != 1:
            return event
        try:
            parsed = json.loads(data[0][5:])
        except ValueError:  # [DONE], or not JSON: release what is held before it
            return self._flush() + event
        shape = json.dumps(parsed)
        for container, key, path in _streamed_fields(parsed, _root(parsed)):
            self.shapes[path] = shape
            container[key] = self._release(path, container[key])
        lines[lines.index(data[0])] = "data: " + json.dumps(parsed, separators=(",", ":"))
        return "\n".join(lines).encode()

    def _release(self, path: Path, text: str) -> str:
        text = self.pending.pop(path, "") + text
        held = self.restorer.pending(text)
        if held:
            self.pending[path] = text[-held:]
            text = text[:-held]
        return self.restorer.restore(text)

    def _flush(self) -> bytes:
        """One more event per held field, shaped like the last that carried it."""
        out = []
        for path, text in self.pending.items():
            event = json.loads(self.shapes[path])
            for container, key, field_path in _streamed_fields(event, _root(event)):
                container[key] = self.restorer.restore(text) if field_path == path else ""
            _clear_finish(event)
            out.append(b"data: " + json.dumps(event, separators=(",", ":")).encode() + b"\n\n")
        self.pending.clear()
        return b"".join(out)


Path = tuple[Any, ...]


def _root(event: Any) -> Path:
    """Anthropic numbers its content blocks at the top of each event."""
    return (event.get("index"),) if isinstance(event, dict) else ()


def _streamed_fields(node: Any, path: Path) -> Iterator[tuple[Any, Any, Path]]:
    """(container, key, path) of each streamed text field; list items by their ``index``."""
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if isinstance(value, str) and key in STREAMED_TEXT_KEYS:
            yield node, key, (*path, key)
        elif isinstance(value, dict | list):
            step = value.get("index", key) if isinstance(value, dict) else key
            yield from _streamed_fields(value, (*path, step))


def _clear_finish(node: Any) -> None:
    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if key in ("finish_reason", "stop_reason"):
            node[key] = None
        elif isinstance(value, dict | list):
            _clear_finish(value)
