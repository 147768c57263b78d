"""Coaching grants: a justified user may use a coached service for a while."""

from __future__ import annotations

import hmac
import time
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta

from shadowlens.proxy.policy.identity import ANONYMOUS


def holder(user: str | None, client_ip: str) -> str:
    """Whom a grant follows: the user, or the address when we do not know the user."""
    return user if user and user != ANONYMOUS else f"ip:{client_ip}"


class CoachGrants:
    """Who justified which service, until when; and form tokens only we can mint.

    ``secret`` signs the form tokens: proxies of one cluster share it, so a form shown by
    one is accepted by another. Grants made elsewhere arrive through :meth:`merge`.
    """

    def __init__(self, secret: bytes) -> None:
        self._secret = secret
        self._until: dict[tuple[str, str], float] = {}

    def token(self, who: str, service_id: str) -> str:
        """A form token binding the coaching page to this person and service."""
        message = f"{who}\x00{service_id}".encode()
        return hmac.digest(self._secret, message, "sha256").hex()[:32]

    def valid(self, who: str, service_id: str, token: str) -> bool:
        return hmac.compare_digest(self.token(who, service_id), token)

    def allow(self, who: str, service_id: str, minutes: int) -> datetime:
        """Let ``who`` use the service for ``minutes``; returns when that ends."""
        self._until[(who, service_id)] = time.monotonic() + minutes * 60
        return datetime.now(UTC) + timedelta(minutes=minutes)

    def merge(self, grants: Iterable[tuple[str | None, str, str, datetime]]) -> None:
        """Add grants (user, client ip, service, until) other proxies made; the later end wins."""
        now, clock = datetime.now(UTC), time.monotonic()
        for user, client_ip, service_id, until in grants:
            who = holder(user, client_ip)
            ends = clock + (until - now).total_seconds()
            if ends > self._until.get((who, service_id), 0.0):
                self._until[(who, service_id)] = ends

    def allowed(self, who: str, service_id: str) -> bool:
        until = self._until.get((who, service_id))
        if until is None:
            return False
        if until > time.monotonic():
            return True
        del self._until[(who, service_id)]
        return False
