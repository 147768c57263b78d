"""Hand-written request shapes of the AI web apps' private APIs: messages and file uploads.

Sources: the field names and URL layouts come from public descriptions of these web clients
- browser-devtools walkthroughs in blog posts, and the open-source unofficial API clients
that re-implement them (ChatGPT's ``backend-api``, claude.ai's ``chat_conversations``,
Gemini's ``BardFrontendService/StreamGenerate`` with its ``f.req`` batchexecute-style body and
Google's resumable "Scotty" upload, Copilot's ``/c/api`` routes). No traffic was captured
for them; every value is made up. The shapes change without notice: the DLP core does not
depend on them (it walks JSON, forms and multipart generically), they only test that the
text and files in each are found, masked where the format allows, and that the conversation
id is picked up where the shape carries one.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from urllib.parse import quote_plus

AWS = "AKIAZ4QK7TRN2WJHX5MP"
EMAIL = "jane.roe@corp-mail.test"
CHATGPT_CONVERSATION = "6a1f3c2e-8b4d-4e5f-9a7b-2c3d4e5f6a7b"
CLAUDE_CONVERSATION = "0f9e8d7c-6b5a-4c3d-8e2f-1a0b9c8d7e6f"
GEMINI_CONVERSATION = "c_4b1e92f07d3a65c8"
COPILOT_CONVERSATION = "Xk2pQ9rT4vW7yZ1a"
BOUNDARY = "----WebKitFormBoundary7MA4YWxkTrZu0gW"


@dataclass(frozen=True)
class Shape:
    name: str
    method: str
    host: str
    path: str
    content_type: str
    body: bytes
    conversation: str | None  # the id the shape carries, if any


def _json(obj: object) -> bytes:
    return json.dumps(obj).encode()


def _multipart(field: str, filename: str, media: str, content: bytes) -> bytes:
    head = (
        f"--{BOUNDARY}\r\n"
        f'Content-Disposition: form-data; name="{field}"; filename="{filename}"\r\n'
        f"Content-Type: {media}\r\n\r\n"
    ).encode()
    return head + content + f"\r\n--{BOUNDARY}--\r\n".encode()


def chatgpt_message() -> Shape:
    """The message a user sends: text in ``content.parts``, files referred to by id."""
    body = {
        "action": "next",
        "messages": [
            {
                "id": "aaa2b3c4-d5e6-4f70-8192-a3b4c5d6e7f8",
                "author": {"role": "user"},
                "content": {"content_type": "text", "parts": [f"why is {AWS} denied?"]},
                "metadata": {"attachments": [{"id": "file-Q2w3E4r5T6y7", "name": "q3.xlsx"}]},
            }
        ],
        "conversation_id": CHATGPT_CONVERSATION,
        "parent_message_id": "bbb1c2d3-e4f5-4a6b-8c7d-9e0f1a2b3c4d",
        "model": "auto",
    }
    return Shape("chatgpt-message", "POST", "chatgpt.com", "/backend-api/conversation",
                 "application/json", _json(body), CHATGPT_CONVERSATION)  # fmt: skip


def chatgpt_blob_upload(document: bytes, media: str) -> Shape:
    """The file itself: ``POST /backend-api/files`` returns a signed Azure Blob URL, and the
    browser PUTs the raw bytes there (``x-ms-blob-type: BlockBlob``) before the message that
    refers to the file id. The PUT carries no conversation."""
    path = "/file-Q2w3E4r5T6y7?se=2026-12-01T00%3A00%3A00Z&sp=cw&sv=2021-08-06&sr=b&sig=REDACTED"
    return Shape("chatgpt-blob-put", "PUT", "files.oaiusercontent.com", path, media, document,
                 None)  # fmt: skip


def claude_message() -> Shape:
    """``completion`` under the conversation's path; pasted or small text files travel inline
    as ``attachments[].extracted_content``."""
    body = {
        "prompt": f"summarise this and mail {EMAIL}",
        "parent_message_uuid": "00000000-0000-4000-8000-000000000000",
        "timezone": "Europe/Brussels",
        "attachments": [
            {
                "file_name": "creds.env",
                "file_type": "text/plain",
                "file_size": 64,
                "extracted_content": f"AWS_ACCESS_KEY_ID={AWS}\nREGION=eu-west-1\n",
            }
        ],
        "files": [],
        "rendering_mode": "messages",
    }
    path = (
        "/api/organizations/7c6b5a49-3827-4160-9f8e-7d6c5b4a3928/chat_conversations/"
        f"{CLAUDE_CONVERSATION}/completion"
    )
    return Shape("claude-message", "POST", "claude.ai", path, "application/json", _json(body),
                 CLAUDE_CONVERSATION)  # fmt: skip


def claude_upload(document: bytes, filename: str, media: str) -> Shape:
    """Binary files (PDF, DOCX, images) go first as multipart to the organisation's upload."""
    return Shape("claude-upload", "POST", "claude.ai",
                 "/api/7c6b5a49-3827-4160-9f8e-7d6c5b4a3928/upload",
                 f"multipart/form-data; boundary={BOUNDARY}",
                 _multipart("file", filename, media, document), None)  # fmt: skip


def gemini_message() -> Shape:
    """Form-encoded ``f.req``: JSON ``[null, "<inner JSON>"]``; the inner array holds the prompt
    and the uploaded files' paths first, the language, then [conversation, response, choice]."""
    inner = [
        [
            f"is {AWS} still valid? my mail is {EMAIL}",
            0,
            None,
            [[["/contrib_service/ttl_1d/1733011200_0a1b2c3d", 1], "notes.txt"]],
            None,
            None,
            0,
        ],
        ["en"],
        [GEMINI_CONVERSATION, "r_9f8e7d6c5b4a3921", "rc_1a2b3c4d5e6f7a8b"],
        None,
        None,
        None,
        [1],
        0,
    ]
    freq = json.dumps([None, json.dumps(inner)])
    body = f"f.req={quote_plus(freq)}&at=AJvLN6M0dummyXsrfToken%3A1733011200000&"
    path = (
        "/_/BardChatUi/data/assistant.lamda.BardFrontendService/StreamGenerate"
        "?bl=boq_assistant-bard-web-server_20261124.08_p0&_reqid=412345&rt=c"
    )
    return Shape("gemini-message", "POST", "gemini.google.com", path,
                 "application/x-www-form-urlencoded;charset=UTF-8", body.encode(),
                 GEMINI_CONVERSATION)  # fmt: skip


def gemini_upload(content: bytes, media: str) -> Shape:
    """Google's resumable upload: a ``start`` request names the file, then ``upload, finalize``
    sends the raw bytes to the session URL it returned; the message refers to the path."""
    return Shape("gemini-upload", "POST", "content-push.googleapis.com",
                 "/upload/?upload_id=ADPycdummySessionId&upload_protocol=resumable",
                 media, content, None)  # fmt: skip


def copilot_message() -> Shape:
    """The message event Copilot's client sends (over its WebSocket; the same JSON here)."""
    body = {
        "event": "send",
        "conversationId": COPILOT_CONVERSATION,
        "content": [{"type": "text", "text": f"fix the login: user admin, key {AWS}"}],
        "mode": "chat",
    }
    return Shape("copilot-message", "POST", "copilot.microsoft.com", "/c/api/chat?api-version=2",
                 "application/json", _json(body), COPILOT_CONVERSATION)  # fmt: skip


def copilot_upload(document: bytes, filename: str, media: str) -> Shape:
    """Attachments are posted as multipart before the message refers to them."""
    return Shape("copilot-upload", "POST", "copilot.microsoft.com", "/c/api/attachments",
                 f"multipart/form-data; boundary={BOUNDARY}",
                 _multipart("file", filename, media, document), None)  # fmt: skip
