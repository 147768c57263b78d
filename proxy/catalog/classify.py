"""Classification of one request: the same function for the proxy and for ``classify``.

It runs in two steps because the proxy sees headers before the body: :func:`classify_headers`
uses host, SNI, path, headers and User-Agent. :func:`refine_with_body` then adds what the body
shows, which is the protocol shape and the model name.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from urllib.parse import urlsplit

from shadowlens.proxy.catalog.index import HostIndex
from shadowlens.proxy.catalog.model import DEFAULT_CONFIDENCE, UNKNOWN_LLM, Match, unknown_endpoint
from shadowlens.proxy.catalog.protocols import is_candidate, recognize_request
from shadowlens.proxy.jsondoc import parse_untrusted

# Bodies larger than this are not parsed for a model name: not worth the event loop's time.
MAX_JSON_BYTES = 1 << 20


def classify_headers(
    catalog: HostIndex,
    *,
    host: str,
    method: str = "GET",
    path: str = "/",
    headers: Mapping[str, str] | None = None,
    sni: str | None = None,
) -> Match | None:
    """Classify by request signature, host, SNI, then a known AI client's User-Agent."""
    headers = headers or {}
    match = catalog.match(host, method, path, headers) or (
        catalog.lookup(sni, evidence="sni") if sni else None
    )
    client = catalog.clients.match(headers.get("user-agent", ""))
    if match is None:
        if client is None or not client.marks_endpoint or catalog.is_shared(host):
            return None
        service = unknown_endpoint(UNKNOWN_LLM, host)
        match = Match(service=service, evidence="user_agent", matched=client.user_agent)
    return _enrich(match, headers, client.id if client else None)


def _enrich(match: Match, headers: Mapping[str, str], client: str | None) -> Match:
    account = next((headers[h] for h in match.service.account_headers if headers.get(h)), None)
    signals = (*match.signals, "user_agent") if client and match.evidence != "user_agent" else ()
    return dataclasses.replace(
        match,
        client=client,
        account=account[:200] if account else None,
        signals=signals or match.signals,
    )


def refine_with_body(
    match: Match | None,
    *,
    host: str,
    method: str,
    path: str,
    headers: Mapping[str, str],
    body: bytes,
) -> Match | None:
    """Add the protocol shape and model the body shows; may turn an unknown host into a hit."""
    if not is_candidate(method, path, headers):
        return _with_model(match, body) if match else None
    hit = recognize_request(path, body)
    if hit is None:
        return match
    if match is None or match.evidence == "user_agent":
        service = unknown_endpoint(hit.kind, host)
        signals = ("protocol", *(match.signals if match else ()))
        base = match or Match(service=service, evidence="protocol", matched=hit.protocol)
        return dataclasses.replace(
            base,
            service=service,
            evidence="protocol",
            matched=hit.protocol,
            confidence=DEFAULT_CONFIDENCE["protocol"],
            signals=signals,
            model=hit.model,
        )
    signals = match.signals if "protocol" in match.signals else (*match.signals, "protocol")
    return dataclasses.replace(match, signals=signals, model=hit.model or match.model)


def _with_model(match: Match, body: bytes) -> Match:
    """The model named in a JSON body, for catalogued services too."""
    if not body or len(body) > MAX_JSON_BYTES or body.lstrip()[:1] != b"{":
        return match
    data = parse_untrusted(body)
    model = data.get("model") if isinstance(data, dict) else None
    if not isinstance(model, str) or not model:
        return match
    return dataclasses.replace(match, model=model[:200])


def classify_request(
    catalog: HostIndex,
    target: str,
    *,
    method: str = "GET",
    headers: Mapping[str, str] | None = None,
    body: bytes = b"",
) -> Match | None:
    """Classify a host or URL with optional method, headers and body, as the proxy would."""
    parts = urlsplit(target if "://" in target else f"https://{target}")
    host, path = parts.hostname or "", parts.path or "/"
    headers = {k.lower(): v for k, v in (headers or {}).items()}
    match = classify_headers(catalog, host=host, method=method, path=path, headers=headers)
    if not body:
        return match
    return refine_with_body(match, host=host, method=method, path=path, headers=headers, body=body)
