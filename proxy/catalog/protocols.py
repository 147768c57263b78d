"""LLM and MCP protocol shapes: recognising AI endpoints that no catalog lists.

Two steps keep ordinary traffic cheap. :func:`is_candidate` looks only at the method, path
and headers, and decides whether a request to an uncatalogued host is worth buffering.
:func:`recognize_request` then confirms the shape from the JSON body, and
:func:`recognize_stream` from the first bytes of a streamed response. A path alone is never
enough: ``POST /api/generate`` with an ordinary JSON body stays ordinary.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shadowlens.proxy.catalog.model import MCP_SERVER, UNKNOWN_LLM
from shadowlens.proxy.jsondoc import parse_untrusted

_LLM_PATH = re.compile(
    r"""(?x)
    (?P<openai>/(chat/completions|completions|responses|embeddings))$
    | (?P<anthropic>/v1/messages)$
    | (?P<gemini>/models/(?P<gemini_model>[^/:]+):(stream)?[gG]enerate[cC]ontent)$
    | (?P<ollama>/api/(chat|generate|embed|embeddings))$
    | (?P<cohere>/v[12]/chat)$
    | (?P<tgi>/(generate|generate_stream))$
    """
)
_MCP_METHODS = frozenset(
    {"initialize", "tools/list", "tools/call", "resources/list", "resources/read", "prompts/get"}
)


@dataclass(frozen=True, slots=True)
class ProtocolHit:
    """A recognised protocol: which one, which inventory kind, and the model if named."""

    protocol: str
    kind: str  # UNKNOWN_LLM or MCP_SERVER
    model: str | None = None


def _is_json(headers: Mapping[str, str]) -> bool:
    return "json" in headers.get("content-type", "")


def is_candidate(method: str, path: str, headers: Mapping[str, str]) -> bool:
    """Could this request be an LLM or MCP call? Only then is its body worth buffering."""
    if method != "POST" or not _is_json(headers):
        return False
    if "mcp-session-id" in headers or "mcp-protocol-version" in headers:
        return True
    if "text/event-stream" in headers.get("accept", ""):
        return True  # MCP's streamable HTTP clients accept JSON and SSE on every POST
    return _LLM_PATH.search(path) is not None


def _model(body: dict[str, Any]) -> str | None:
    model = body.get("model")
    return model[:200] if isinstance(model, str) and model else None


def _is_chat(messages: Any) -> bool:
    return (
        isinstance(messages, list)
        and bool(messages)
        and all(isinstance(m, dict) and "role" in m for m in messages)
    )


def _openai(body: dict[str, Any], path: str) -> bool:
    if path.endswith("/chat/completions"):
        return _is_chat(body.get("messages"))
    if path.endswith("/completions"):
        return "prompt" in body and _model(body) is not None
    return "input" in body and _model(body) is not None  # responses, embeddings


def _gemini(body: dict[str, Any], path: str) -> bool:
    contents = body.get("contents")
    return isinstance(contents, list) and all(
        isinstance(c, dict) and isinstance(c.get("parts"), list) for c in contents
    )


_BODY_SHAPES: dict[str, Callable[[dict[str, Any], str], bool]] = {
    "openai": _openai,
    "anthropic": lambda b, _: _is_chat(b.get("messages")) and isinstance(b.get("max_tokens"), int),
    "gemini": _gemini,
    "ollama": lambda b, _: _model(b) is not None and ("messages" in b or "prompt" in b),
    "cohere": lambda b, _: isinstance(b.get("message"), str) or _is_chat(b.get("messages")),
    "tgi": lambda b, _: (
        isinstance(b.get("inputs"), str) and isinstance(b.get("parameters", {}), dict)
    ),
}


def recognize_request(path: str, body: bytes) -> ProtocolHit | None:
    """The LLM or MCP protocol this request body speaks, if any."""
    data = parse_untrusted(body)
    if isinstance(data, dict) and data.get("jsonrpc") == "2.0":
        return ProtocolHit("mcp", MCP_SERVER) if data.get("method") in _MCP_METHODS else None
    found = _LLM_PATH.search(path)
    if found is None or not isinstance(data, dict) or found.lastgroup is None:
        return None
    protocol = next(name for name in _BODY_SHAPES if found.group(name))
    if not _BODY_SHAPES[protocol](data, path):
        return None
    model = found.group("gemini_model") if protocol == "gemini" else _model(data)
    return ProtocolHit(protocol, UNKNOWN_LLM, model)


# Markers that only a streamed LLM or MCP response carries in its first event.
_STREAM_MARKERS: tuple[tuple[re.Pattern[bytes], str, str], ...] = tuple(
    (re.compile(rx), protocol, kind)
    for rx, protocol, kind in (
        (rb'"object"\s*:\s*"chat\.completion\.chunk"', "openai", UNKNOWN_LLM),
        (rb"event: response\.created", "openai", UNKNOWN_LLM),
        (rb'event: message_start|"type"\s*:\s*"message_start"', "anthropic", UNKNOWN_LLM),
        (rb'^data: \{\s*"candidates"\s*:\s*\[', "gemini", UNKNOWN_LLM),
        (rb'"event_type"\s*:\s*"stream-start"|event: message-start', "cohere", UNKNOWN_LLM),
        (rb'^data: \{\s*"token"\s*:\s*\{\s*"id"', "tgi", UNKNOWN_LLM),
        (rb'"created_at"\s*:.*"done"\s*:\s*false', "ollama", UNKNOWN_LLM),
        (rb'"jsonrpc"\s*:\s*"2\.0"', "mcp", MCP_SERVER),
    )
)
_STREAM_MODEL = re.compile(rb'"model"\s*:\s*"([^"]{1,200})"')


def recognize_stream(first_bytes: bytes) -> ProtocolHit | None:
    """The protocol of a streamed response, from its first bytes (a few KB at most)."""
    for marker, protocol, kind in _STREAM_MARKERS:
        if marker.search(first_bytes):
            found = _STREAM_MODEL.search(first_bytes)
            model = found.group(1).decode("utf-8", "replace") if found else None
            return ProtocolHit(protocol, kind, model)
    return None
