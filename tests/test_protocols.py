"""LLM and MCP protocol shapes: one positive and one negative example for each."""

from __future__ import annotations

import json

import pytest

from shadowlens.proxy.catalog.protocols import is_candidate, recognize_request, recognize_stream

JSON = {"content-type": "application/json"}
CHAT = [{"role": "user", "content": "hi"}]

POSITIVE = [
    ("openai", "/v1/chat/completions", {"model": "gpt-4o", "messages": CHAT}, "gpt-4o"),
    ("openai", "/openai/deployments/d/chat/completions", {"messages": CHAT}, None),
    ("openai", "/v1/completions", {"model": "m", "prompt": "x"}, "m"),
    ("openai", "/v1/responses", {"model": "o3", "input": "x"}, "o3"),
    ("openai", "/v1/embeddings", {"model": "e", "input": ["x"]}, "e"),
    ("anthropic", "/v1/messages", {"model": "claude", "max_tokens": 9, "messages": CHAT}, "claude"),
    (
        "gemini",
        "/v1beta/models/gemini-2.0-flash:generateContent",
        {"contents": [{"parts": [{"text": "x"}]}]},
        "gemini-2.0-flash",
    ),
    (
        "gemini",
        "/v1/models/g:streamGenerateContent",
        {"contents": [{"role": "user", "parts": []}]},
        "g",
    ),
    ("ollama", "/api/chat", {"model": "llama3", "messages": CHAT}, "llama3"),
    ("ollama", "/api/generate", {"model": "llama3", "prompt": "x"}, "llama3"),
    ("cohere", "/v1/chat", {"message": "hi"}, None),
    ("cohere", "/v2/chat", {"model": "command-r", "messages": CHAT}, "command-r"),
    ("tgi", "/generate", {"inputs": "x", "parameters": {"max_new_tokens": 5}}, None),
    ("tgi", "/generate_stream", {"inputs": "x"}, None),
]

NEGATIVE = [
    ("/v1/chat/completions", {"messages": "not a list"}),
    ("/v1/chat/completions", {"order": 1}),
    ("/v1/completions", {"prompt": "x"}),
    ("/v1/responses", {"input": "x"}),
    ("/v1/messages", {"messages": CHAT}),  # no max_tokens: not Anthropic
    ("/v1beta/models/x:generateContent", {"contents": "x"}),
    ("/api/generate", {"invoice": 42}),
    ("/api/chat", {"messages": CHAT}),  # Ollama always names a model
    ("/v1/chat", {"text": "hi"}),
    ("/generate", {"inputs": 5}),
    ("/api/orders", {"model": "gpt-4o", "messages": CHAT}),  # the right body on another path
]


@pytest.mark.parametrize(("protocol", "path", "body", "model"), POSITIVE)
def test_llm_request_shapes(protocol: str, path: str, body: dict, model: str | None) -> None:
    assert is_candidate("POST", path, JSON)
    hit = recognize_request(path, json.dumps(body).encode())
    assert hit is not None and (hit.protocol, hit.kind, hit.model) == (
        protocol,
        "unknown-llm-endpoint",
        model,
    )


@pytest.mark.parametrize(("path", "body"), NEGATIVE)
def test_ordinary_json_apis_do_not_trigger(path: str, body: dict) -> None:
    assert recognize_request(path, json.dumps(body).encode()) is None


@pytest.mark.parametrize(
    ("method", "path", "headers"),
    [
        ("GET", "/v1/chat/completions", JSON),
        ("POST", "/v1/chat/completions", {"content-type": "text/plain"}),
        ("POST", "/api/orders", JSON),
    ],
)
def test_non_candidates_are_never_buffered(method: str, path: str, headers: dict) -> None:
    assert not is_candidate(method, path, headers)


def test_mcp_json_rpc_over_streamable_http() -> None:
    headers = JSON | {"accept": "application/json, text/event-stream"}
    assert is_candidate("POST", "/mcp", headers)
    body = {"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {}}
    hit = recognize_request("/mcp", json.dumps(body).encode())
    assert hit is not None and (hit.protocol, hit.kind) == ("mcp", "mcp-server")
    call = {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "x"}}
    assert recognize_request("/anything", json.dumps(call).encode()) is not None
    assert is_candidate("POST", "/x", JSON | {"mcp-session-id": "abc"})


def test_other_json_rpc_is_not_mcp() -> None:
    body = {"jsonrpc": "2.0", "id": 1, "method": "eth_blockNumber", "params": []}
    assert recognize_request("/", json.dumps(body).encode()) is None


@pytest.mark.parametrize("body", [b"", b"not json", b"\xff\xfe", b"[1,2]", b'"x"', b"{" * 10])
def test_malformed_bodies_are_not_an_error(body: bytes) -> None:
    assert recognize_request("/v1/chat/completions", body) is None


@pytest.mark.parametrize(
    ("first_bytes", "protocol", "model"),
    [
        (
            b'data: {"id":"c","object":"chat.completion.chunk","model":"gpt-4o"}\n\n',
            "openai",
            "gpt-4o",
        ),
        (b"event: response.created\ndata: {}\n\n", "openai", None),
        (
            b'event: message_start\ndata: {"type":"message_start","message":{"model":"c3"}}',
            "anthropic",
            "c3",
        ),
        (b'data: {"candidates": [{"content": {"parts": [{"text": "x"}]}}]}', "gemini", None),
        (b'data: {"candidates":[{"content":{"parts":[{"text":"x"}]}}]}\r\n', "gemini", None),
        (b'{"model":"llama3","created_at":"t","message":{},"done":false}\n', "ollama", "llama3"),
        (b'data: {"token":{"id":5,"text":"x"}}\n\n', "tgi", None),
        (b'{"event_type":"stream-start","generation_id":"g"}\n', "cohere", None),
        (b'event: message\ndata: {"jsonrpc":"2.0","id":1,"result":{}}\n\n', "mcp", None),
        (b"data: stock price 42\n\n", None, None),
        (b'data: {"type":"heartbeat"}\n\n', None, None),
    ],
)
def test_stream_shapes(first_bytes: bytes, protocol: str | None, model: str | None) -> None:
    hit = recognize_stream(first_bytes)
    assert (hit.protocol if hit else None) == protocol
    if hit:
        assert hit.model == model
