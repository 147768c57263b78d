"""Coaching grants: a justified user may use a coached service for a while."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import UTC, datetime, timedelta


class CoachGrants:
    """Who justified which service, until when; and form tokens only we can mint.

    Grants live in this process: behind several proxies a user may be coached once per node.
    """

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._until: dict[tuple[str, str], float] = {}

    def token(self, who: str, service_id: str) -> str:
        """A form token binding the coaching page to this person and service."""
        message = f"{who}\x00{service_id}".encode()
        return hmac.new(self._secret, message, hashlib.sha256).hexdigest()[:32]

    def valid(self, who: str, service_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(who, service_id), token)

    def allow(self, who: str, service_id: str, minutes: int) -> datetime:
        """Let ``who`` use the service for ``minutes``; returns when that ends."""
        self._until[(who, service_id)] = time.monotonic() + minutes * 60
        return datetime.now(UTC) + timedelta(minutes=minutes)

    def allowed(self, who: str, service_id: str) -> bool:
        until = self._until.get((who, service_id))
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._until[(who, service_id)]
        return False
