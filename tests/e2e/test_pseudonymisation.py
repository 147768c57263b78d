"""Pseudonymisation end to end with the real openai SDK, streaming and not, tools included."""

from __future__ import annotations

import json
from collections.abc import Iterator

import openai
import pytest
import yaml
from openai.types.chat import (
    ChatCompletionMessageFunctionToolCall,
    ChatCompletionMessageParam,
    ChatCompletionToolParam,
)

from tests.e2e.conftest import RunningProxy, running_shadowlens
from tests.e2e.upstream import Upstream

pytestmark = pytest.mark.e2e

EMAIL, AWS = "bob.jones@corp.example", "AKIAZ7Q2XK4M7TR3WB6P"
SAID = f"Write to {EMAIL} about the key {AWS}, please."
TOOLS: list[ChatCompletionToolParam] = [
    {"type": "function", "function": {"name": "note", "parameters": {"type": "object"}}}
]
RULE = {"services": ["openai-api"], "data": ["pii", "secret"]}
POLICY = {"rules": [{"id": "pseudonymise-openai", "when": RULE, "action": "pseudonymise"}]}


@pytest.fixture(scope="module")
def proxy(tmp_path_factory: pytest.TempPathFactory, upstream: Upstream) -> Iterator[RunningProxy]:
    folder = tmp_path_factory.mktemp("pseudonyms")
    (folder / "policy.yaml").write_text(yaml.safe_dump(POLICY))
    env = {"SHADOWLENS_POLICY_FILE": str(folder / "policy.yaml")}
    with running_shadowlens(folder / "data", upstream, env) as running:
        yield running


@pytest.fixture
def client(proxy: RunningProxy, monkeypatch: pytest.MonkeyPatch) -> openai.OpenAI:
    monkeypatch.setenv("HTTPS_PROXY", proxy.proxy_url)
    monkeypatch.setenv("SSL_CERT_FILE", str(proxy.ca_file))
    monkeypatch.delenv("NO_PROXY", raising=False)
    return openai.OpenAI(api_key="sk-test-not-a-real-key", max_retries=0)


def _sent(upstream: Upstream) -> str:
    body: bytes = upstream.received.requests[-1]["body"]
    return body.decode()


def _assert_pseudonymised(sent: str) -> None:
    assert EMAIL not in sent and AWS not in sent
    assert "@example.invalid" in sent and "AKIA" in sent


def test_a_plain_answer_gets_the_values_back(client: openai.OpenAI, upstream: Upstream) -> None:
    reply = client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": SAID}]
    )
    _assert_pseudonymised(_sent(upstream))
    assert reply.choices[0].message.content == SAID


def test_a_streamed_answer_gets_the_values_back(client: openai.OpenAI, upstream: Upstream) -> None:
    stream = client.chat.completions.create(
        model="echo", messages=[{"role": "user", "content": SAID}], stream=True
    )
    text = "".join(chunk.choices[0].delta.content or "" for chunk in stream if chunk.choices)
    _assert_pseudonymised(_sent(upstream))
    assert text == SAID


def test_tool_call_arguments_get_the_values_back(client: openai.OpenAI, upstream: Upstream) -> None:
    messages: list[ChatCompletionMessageParam] = [{"role": "user", "content": SAID}]
    reply = client.chat.completions.create(model="echo", messages=messages, tools=TOOLS)
    [call] = reply.choices[0].message.tool_calls or []
    assert isinstance(call, ChatCompletionMessageFunctionToolCall)
    assert json.loads(call.function.arguments) == {"text": SAID}
    stream = client.chat.completions.create(
        model="echo", messages=messages, tools=TOOLS, stream=True
    )
    arguments = "".join(
        call.function.arguments or ""
        for chunk in stream
        if chunk.choices
        for call in chunk.choices[0].delta.tool_calls or []
        if call.function is not None
    )
    assert json.loads(arguments) == {"text": SAID}


def test_the_same_value_gets_the_same_surrogate_and_is_recorded_masked(
    client: openai.OpenAI, upstream: Upstream, proxy: RunningProxy
) -> None:
    for _ in range(2):
        client.chat.completions.create(model="echo", messages=[{"role": "user", "content": SAID}])
    first, second = (r["body"] for r in upstream.received.requests[-2:])
    assert first == second
    detections = proxy.wait_for_detections(5, service="openai-api")
    assert {d["action"] for d in detections} == {"pseudonymise"}
    assert AWS not in json.dumps(detections) and EMAIL not in json.dumps(detections)
    assert AWS not in "".join(proxy.output) and EMAIL not in "".join(proxy.output)
