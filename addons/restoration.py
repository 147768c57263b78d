"""Restoration: the surrogates a user was given come back as the values they stand for."""

from __future__ import annotations

from collections.abc import Iterable

from mitmproxy import http

from shadowlens.addons.flowstate import KEY, FlowState
from shadowlens.proxy.dlp.pseudonym import Pseudonyms, SseRestorer
from shadowlens.proxy.policy.coaching import holder

# Responses whose text is restored; anything else is passed on untouched.
RESTORABLE_TYPES = ("application/json", "text/", "application/x-ndjson")


class Restoration:
    """Restores pseudonymised values in every AI answer to the user who sent them."""

    def __init__(self, pseudonyms: Pseudonyms) -> None:
        self.pseudonyms = pseudonyms

    def responseheaders(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.identity is None or not self.pseudonyms.users:
            return
        identity = state.identity
        restorer = self.pseudonyms.restorer(holder(identity.user, identity.client_ip))
        response = flow.response
        if restorer is None or response is None:
            return
        if response.headers.get("content-type", "").startswith("text/event-stream"):
            restore, before = SseRestorer(restorer), response.stream
            if callable(before):  # Discovery's byte count sees the stream as it came
                response.stream = lambda chunk: restore(_joined(before(chunk)))
            else:
                response.stream = restore  # streamed SSE, restored as it passes
        elif not response.stream:
            state.restorer = restorer

    def response(self, flow: http.HTTPFlow) -> None:
        state: FlowState | None = flow.metadata.get(KEY)
        if state is None or state.restorer is None or flow.response is None:
            return
        response = flow.response
        if response.headers.get("content-type", "").startswith(RESTORABLE_TYPES):
            response.text = state.restorer.restore(response.get_text(strict=False) or "")


def _joined(chunks: Iterable[bytes] | bytes) -> bytes:
    return chunks if isinstance(chunks, bytes) else b"".join(chunks)
