"""Conversation ids in the private APIs of AI web apps, so findings group by conversation.

Where each shape keeps its id (tests/dlp/webapp_shapes.py has the request shapes):
- ChatGPT: ``conversation_id`` in the JSON body of ``POST /backend-api/conversation`` (and
  ``/backend-api/f/conversation``); the id in the path of requests about one conversation.
- Claude: the path, ``/api/organizations/<org>/chat_conversations/<uuid>/completion``.
- Gemini: the first item of the third element of the JSON inside ``f.req`` (``c_…``).
- Copilot: ``conversationId`` in the message JSON, or ``/c/api/conversations/<id>`` in the path.
"""

from __future__ import annotations

import re

from shadowlens.proxy.dlp.model import BodyReport

# JSON pointers (as the body walk names them) whose string value is a conversation id.
CONVERSATION_POINTERS = frozenset(
    {
        "/conversation_id",  # ChatGPT
        "/conversationId",  # Copilot
        "form:f.req/1/2/0",  # Gemini: f.req = [null, "[[prompt…], [lang], [conv, resp, choice]…]"]
    }
)
_PATHS = re.compile(
    r"/chat_conversations/(?P<claude>[0-9A-Fa-f-]{36})(?:/|$)"
    r"|/backend-api/(?:f/)?conversation/(?P<chatgpt>[0-9A-Fa-f-]{36})(?:/|$)"
    r"|/c/api/conversations/(?P<copilot>[A-Za-z0-9_-]{8,64})(?:/|$)"
)
_ID = re.compile(r"[A-Za-z0-9_.:-]{1,128}")


def valid_conversation(value: str) -> str | None:
    """The value if it reads as an id (no spaces, at most 128 characters), else None: a
    shape that changed must not put prompt text in the inventory."""
    return value if _ID.fullmatch(value) else None


def conversation_id(path: str, report: BodyReport | None) -> str | None:
    """The conversation a request belongs to: from its path, else from its body."""
    match = _PATHS.search(path)
    if match:
        return next(v for v in match.groups() if v)
    return report.conversation if report else None
