"""Answers in the client's own language: a page for a person, an SDK's error for a program.

The ``openai`` and ``anthropic`` SDKs turn a 403 with their error body into a
``PermissionDeniedError``; Google's clients read ``PERMISSION_DENIED``. A browser gets a
page in the organisation's branding, and an ``EventSource`` gets an ``error`` event.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from html import escape

from shadowlens.proxy.policy.model import Branding

COACH_PATH = "/.shadowlens/coach"


@dataclass(frozen=True, slots=True)
class Answer:
    """A response the proxy sends instead of the service's."""

    status: int
    headers: dict[str, str]
    body: bytes


def client_kind(path: str, headers: Mapping[str, str]) -> str:
    """browser, anthropic, gemini, sse or openai (the default for programs)."""
    accept = headers.get("accept", "")
    if "anthropic-version" in headers or path.endswith("/v1/messages"):
        return "anthropic"
    if "x-goog-api-key" in headers or "generateContent" in path:
        return "gemini"
    if "text/html" in accept:
        return "browser"
    if accept.startswith("text/event-stream") and "json" not in accept:
        return "sse"
    return "openai"


def _json(status: int, body: object) -> Answer:
    headers = {"content-type": "application/json", "cache-control": "no-store"}
    return Answer(status, headers, json.dumps(body).encode())


def _api_error(kind: str, message: str) -> Answer:
    if kind == "anthropic":
        body: object = {
            "type": "error",
            "error": {"type": "permission_error", "message": message},
        }
        return _json(403, body)
    if kind == "gemini":
        return _json(
            403, {"error": {"code": 403, "message": message, "status": "PERMISSION_DENIED"}}
        )
    body = {
        "error": {
            "message": message,
            "type": "permission_error",
            "param": None,
            "code": "shadowlens_blocked",
        }
    }
    return _json(403, body)


def block_answer(
    *, kind: str, service: str, reason: str, rule_id: str, branding: Branding, coach_url: str = ""
) -> Answer:
    """The answer to a blocked (or, for programs, a coached) request."""
    message = f"{branding.organisation} policy blocks {service}: {reason} (rule {rule_id})."
    if coach_url:
        message += f" Open {coach_url} in a browser to continue with a justification."
    if branding.request_access_url:
        message += f" Request access: {branding.request_access_url}"
    if kind == "browser":
        return _page(403, f"{service} is blocked", _block_body(service, reason, rule_id, branding))
    if kind == "sse":
        event = f"event: error\ndata: {json.dumps({'error': message})}\n\n".encode()
        return Answer(
            403, {"content-type": "text/event-stream", "cache-control": "no-store"}, event
        )
    return _api_error(kind, message)


def coach_answer(
    *, service: str, reason: str, rule_id: str, branding: Branding, return_to: str, token: str
) -> Answer:
    """The interstitial: the risk explained, a justification asked for, and a way on."""
    body = f"""
<p class="lead">Before you use <strong>{escape(service)}</strong>, please read this.</p>
<p>Why you see this: {escape(reason)}.</p>
<p>Uploads to it are recorded, and the security team reviews them.</p>
<form method="post" action="{COACH_PATH}">
  <label for="justification">Why do you need {escape(service)} for this work?</label>
  <textarea id="justification" name="justification" required minlength="5" maxlength="1000"
    rows="4"></textarea>
  <input type="hidden" name="return_to" value="{escape(return_to, quote=True)}">
  <input type="hidden" name="token" value="{escape(token, quote=True)}">
  <input type="hidden" name="rule" value="{escape(rule_id, quote=True)}">
  <button type="submit" id="continue">Continue</button>
</form>
{_footer(rule_id, branding)}"""
    return _page(200, f"Using {service}", body)


def _block_body(service: str, reason: str, rule_id: str, branding: Branding) -> str:
    access = ""
    if branding.request_access_url:
        url = escape(branding.request_access_url, quote=True)
        access = f'<p><a href="{url}">Request access to {escape(service)}</a></p>'
    return f"""
<p class="lead"><strong>{escape(service)}</strong> is blocked by {escape(branding.organisation)}
policy.</p>
<p>Reason: {escape(reason)}.</p>
{access}
{_footer(rule_id, branding)}"""


def _footer(rule_id: str, branding: Branding) -> str:
    parts = [f"Policy rule: <code>{escape(rule_id)}</code>"]
    if branding.policy_url:
        parts.append(f'<a href="{escape(branding.policy_url, quote=True)}">AI use policy</a>')
    if branding.contact:
        parts.append(f"Questions: {escape(branding.contact)}")
    return f'<p class="meta">{" · ".join(parts)}</p>'


def _page(status: int, title: str, body: str) -> Answer:
    html = f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)}</title>
<style>
body{{font:16px/1.5 system-ui,sans-serif;max-width:40rem;margin:4rem auto;padding:0 1rem;
color:#1d2430}}
h1{{font-size:1.5rem}} .lead{{font-size:1.15rem}} .meta{{color:#5b6472;font-size:.9rem}}
textarea{{width:100%;font:inherit}} button{{font:inherit;padding:.5rem 1.25rem;margin-top:.5rem}}
</style></head>
<body><h1>{escape(title)}</h1>{body}
<p class="meta">shadowlens AI access control</p></body></html>
"""
    headers = {"content-type": "text/html; charset=utf-8", "cache-control": "no-store"}
    return Answer(status, headers, html.encode())


def redirect_answer(location: str) -> Answer:
    """See other: back to where the user was going."""
    return Answer(303, {"location": location, "cache-control": "no-store"}, b"")
