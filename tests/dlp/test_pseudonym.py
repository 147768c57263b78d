"""Reversible pseudonymisation: typed, consistent surrogates, restored for their user only."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence

from hypothesis import given, settings
from hypothesis import strategies as st

from shadowlens.proxy.dlp.pseudonym import Pseudonyms, SseRestorer

EMAIL, CARD, AWS = "bob@corp.example", "4111 1111 1111 1111", "AKIAZ7Q2XK4M7TR3WB6P"


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _luhn_valid(number: str) -> bool:
    digits = [int(c) for c in number if c.isdigit()]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d * 2 > 9 else d * 2) for i, d in
                enumerate(reversed(digits)))  # fmt: skip
    return total % 10 == 0


def test_surrogates_keep_the_type_and_stay_the_same_for_a_user() -> None:
    names = Pseudonyms(b"k", ttl=60)
    email = names.surrogate("alice", "email-address", EMAIL)
    card = names.surrogate("alice", "credit-card-number", CARD)
    key = names.surrogate("alice", "aws-access-key-id", AWS)
    assert email.endswith("@example.invalid") and email.startswith("EMAIL_")
    assert _luhn_valid(card) and card != CARD and card.count(" ") == 3 and len(card) == len(CARD)
    assert key.startswith("AKIA") and len(key) == len(AWS) and key != AWS
    assert names.surrogate("alice", "email-address", EMAIL) == email
    assert names.surrogate("bob", "email-address", EMAIL) != email


def test_only_the_user_who_sent_a_value_gets_it_back() -> None:
    names = Pseudonyms(b"k", ttl=60)
    fake = names.surrogate("alice", "aws-access-key-id", AWS)
    restorer = names.restorer("alice")
    assert restorer is not None and restorer.restore(f"use {fake}.") == f"use {AWS}."
    assert names.restorer("mallory") is None


def test_pairs_are_forgotten_after_their_time() -> None:
    clock = Clock()
    names = Pseudonyms(b"k", ttl=60, clock=clock)
    names.surrogate("alice", "email-address", EMAIL)
    clock.now = 61
    assert names.restorer("alice") is None
    assert names.users == {}


def test_each_user_holds_a_bounded_number_of_pairs() -> None:
    names = Pseudonyms(b"k", ttl=60, max_per_user=3)
    for n in range(10):
        names.surrogate("alice", "email-address", f"user{n}@corp.example")
    assert len(names.users["alice"].to_original) == 3


def _sse(events: Sequence[Mapping[str, object]]) -> bytes:
    return b"".join(f"data: {json.dumps(e)}\n\n".encode() for e in events) + b"data: [DONE]\n\n"


def _deltas(text: str, size: int) -> list[dict[str, object]]:
    events: list[dict[str, object]] = [
        {"choices": [{"index": 0, "delta": {"content": text[i : i + size]}, "finish_reason": None}]}
        for i in range(0, len(text), size)
    ]
    return [*events, {"choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}]}]


def _content(stream: bytes) -> str:
    out = []
    for line in stream.decode().splitlines():
        if line.startswith("data: {"):
            for choice in json.loads(line[6:])["choices"]:
                out.append(choice["delta"].get("content", ""))
    return "".join(out)


@settings(max_examples=200, deadline=None)
@given(size=st.integers(1, 12), cuts=st.lists(st.integers(1, 40), min_size=1, max_size=30))
def test_a_surrogate_split_over_events_and_chunks_is_restored(size: int, cuts: list[int]) -> None:
    names = Pseudonyms(b"k", ttl=60)
    fake_mail = names.surrogate("alice", "email-address", EMAIL)
    fake_key = names.surrogate("alice", "aws-access-key-id", AWS)
    restorer = names.restorer("alice")
    assert restorer is not None
    stream = _sse(_deltas(f"Mail {fake_mail} the key {fake_key}, then AKIA", size))
    restore = SseRestorer(restorer)
    out, pos = [], 0
    for cut in cuts:
        out.append(restore(stream[pos : pos + cut]))
        pos += cut
    out.append(restore(stream[pos:]))
    out.append(restore(b""))
    assert _content(b"".join(out)) == f"Mail {EMAIL} the key {AWS}, then AKIA"


def test_tool_call_arguments_are_restored_per_call() -> None:
    names = Pseudonyms(b"k", ttl=60)
    fake = names.surrogate("alice", "email-address", EMAIL)
    restorer = names.restorer("alice")
    assert restorer is not None
    arguments = json.dumps({"to": fake})
    events: list[dict[str, object]] = [
        {"choices": [{"index": 0, "delta": {"tool_calls": [
            {"index": i % 2, "function": {"arguments": arguments[j : j + 3]}}]}}]}
        for j in range(0, len(arguments), 3) for i in (0, 1)
    ]  # fmt: skip
    restore = SseRestorer(restorer)
    out = restore(_sse(events)) + restore(b"")
    calls: dict[int, str] = {0: "", 1: ""}
    for line in out.decode().splitlines():
        if line.startswith("data: {"):
            for call in json.loads(line[6:])["choices"][0]["delta"]["tool_calls"]:
                calls[call["index"]] += call["function"]["arguments"]
    assert json.loads(calls[0]) == json.loads(calls[1]) == {"to": EMAIL}
