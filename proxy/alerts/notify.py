"""Alert messages for Slack and Microsoft Teams incoming webhooks.

Titles hold values that came from traffic (user names, hosts), so they are escaped for each
format's markup: nobody can slip a link or a mention into a SOC channel through a header.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any
from urllib.parse import quote

from shadowlens.proxy.alerts.engine import Alert
from shadowlens.proxy.alerts.rules import Webhook
from shadowlens.proxy.sinks.transports import HttpError, post

log = logging.getLogger(__name__)

ATTEMPTS = 3
TIMEOUT = 5.0


def alert_link(alert: Alert, base: str) -> str:
    """Where the alert's subject is in the API: its detection, else its service."""
    if alert.detection_id:
        return f"{base}/api/v1/detections/{quote(alert.detection_id, safe='')}"
    if alert.rule.kind == "upload_volume" and alert.user:
        return f"{base}/api/v1/detections?user={quote(alert.user, safe='')}"
    return f"{base}/api/v1/services/{quote(alert.service_id or '', safe='')}"


_SLACK_ESCAPES = str.maketrans({"&": "&amp;", "<": "&lt;", ">": "&gt;"})
_TEAMS_ESCAPES = str.maketrans({c: f"\\{c}" for c in "\\[]()*_`#<>~"})


def slack_payload(alert: Alert, link: str) -> dict[str, Any]:
    """A Slack message: the title, the rule and a link, as text and as one section block."""
    title = alert.title.translate(_SLACK_ESCAPES)
    text = (
        f"*[{alert.rule.severity}] {title}*\n"
        f"rule `{alert.rule.id}`: {alert.rule.description.translate(_SLACK_ESCAPES)}\n"
        f"<{link}|Open in shadowlens>"
    )
    return {"text": text, "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text}}]}


def teams_payload(alert: Alert, link: str) -> dict[str, Any]:
    """A Teams message: an Adaptive Card with the title, the rule and a link button."""
    card = {
        "type": "AdaptiveCard",
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "version": "1.4",
        "body": [
            {"type": "TextBlock", "weight": "Bolder", "wrap": True,
             "text": f"[{alert.rule.severity}] {alert.title.translate(_TEAMS_ESCAPES)}"},
            {"type": "TextBlock", "wrap": True,
             "text": f"rule {alert.rule.id}: {alert.rule.description.translate(_TEAMS_ESCAPES)}"},
        ],
        "actions": [{"type": "Action.OpenUrl", "title": "Open in shadowlens", "url": link}],
    }  # fmt: skip
    return {
        "type": "message",
        "attachments": [
            {"contentType": "application/vnd.microsoft.card.adaptive", "content": card}
        ],
    }


PAYLOADS = {"slack": slack_payload, "teams": teams_payload}


def send(alert: Alert, webhook: Webhook, link: str) -> bool:
    """POST the alert to one webhook, trying a few times with backoff; False if it never took it."""
    body = json.dumps(PAYLOADS[webhook.format](alert, link)).encode()
    headers = {"Content-Type": "application/json"}
    for attempt in range(ATTEMPTS):
        try:
            post(webhook.url, body, headers, timeout=TIMEOUT)
        except HttpError as exc:
            log.warning("alert webhook %s refused (%s), attempt %d", webhook.name, exc, attempt + 1)
            if attempt + 1 < ATTEMPTS:
                time.sleep(0.5 * 2**attempt)
            continue
        return True
    return False
