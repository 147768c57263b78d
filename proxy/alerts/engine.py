"""Which alerts an event, or the register, raises. Pure and cheap: no I/O, no database."""

from __future__ import annotations

import dataclasses
from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from shadowlens.proxy.alerts.rules import EVENT_KINDS, AlertRule, AlertRules
from shadowlens.proxy.governance.register import ServiceRecord
from shadowlens.proxy.inventory.events import DetectionEvent
from shadowlens.proxy.sinks.formats import SEVERITY_RANK


@dataclass(frozen=True, slots=True)
class Alert:
    """An alert a rule raised, before de-duplication."""

    rule: AlertRule
    ts: datetime
    title: str
    service_id: str | None = None
    user: str | None = None
    detector: str | None = None
    action: str | None = None
    detection_id: str | None = None
    status: str = "unknown"  # the policy's status of the service, for a new service

    @property
    def dedupe_key(self) -> str:
        """The values of the rule's de-duplication key, e.g. ``user=alice,detector=jwt``."""
        values = {"user": self.user, "service": self.service_id, "detector": self.detector,
                  "action": self.action}  # fmt: skip
        return ",".join(f"{name}={values[name] or '-'}" for name in self.rule.dedupe_key)


def _who(event: DetectionEvent) -> str:
    return event.user or event.client_ip


class AlertMatcher:
    """Matches events against the rules of the event kinds; ``rules`` is swapped on reload.

    ``status_of`` gives the policy's status of an event's service (sanctioned, unknown…): a
    service seen for the first time has no governance record yet.

    It remembers, per process, the services it has already seen (a new service is then
    confirmed against the inventory) and each user's recent upload volumes.
    """

    def __init__(
        self, rules: AlertRules, status_of: Callable[[DetectionEvent], str] | None = None
    ) -> None:
        self.rules = rules
        self._status_of = status_of or (lambda event: "unknown")
        self._seen_services: set[str] = set()
        self._volumes: dict[tuple[str, str], deque[tuple[datetime, int]]] = {}
        self._totals: dict[tuple[str, str], int] = {}
        self._matchers: dict[str, Callable[[AlertRule, DetectionEvent], Iterable[Alert]]] = {
            "finding": self._finding,
            "action": self._action,
            "new_service": self._new_service,
            "upload_volume": self._upload_volume,
        }

    def match(self, event: DetectionEvent) -> list[Alert]:
        """The alerts ``event`` raises, one per rule (per detector for findings)."""
        alerts = [
            a for r in self.rules.of_kinds(EVENT_KINDS) for a in self._matchers[r.kind](r, event)
        ]
        self._seen_services.add(event.service_id)
        return alerts

    def _finding(self, rule: AlertRule, event: DetectionEvent) -> Iterable[Alert]:
        floor = SEVERITY_RANK[rule.min_severity]
        detectors = {
            f.detector: f.severity
            for f in event.findings
            if SEVERITY_RANK.get(f.severity, 0) >= floor
            and (not rule.detectors or f.detector in rule.detectors)
        }
        for detector, severity in detectors.items():
            who, service = _who(event), event.service_name
            title = f"{severity} finding {detector} in an upload by {who} to {service}"
            yield self._alert(rule, event, title, detector=detector)

    def _action(self, rule: AlertRule, event: DetectionEvent) -> Iterable[Alert]:
        if event.action in rule.actions:
            title = (
                f"{event.action} of {_who(event)} to {event.service_name} "
                f"(policy rule {event.rule_id or '-'})"
            )
            yield self._alert(rule, event, title)

    def _new_service(self, rule: AlertRule, event: DetectionEvent) -> Iterable[Alert]:
        if event.service_id not in self._seen_services:
            title = (
                f"new AI service seen: {event.service_name} ({event.service_id}) by {_who(event)}"
            )
            alert = self._alert(rule, event, title)
            yield dataclasses.replace(alert, status=self._status_of(event))

    def _upload_volume(self, rule: AlertRule, event: DetectionEvent) -> Iterable[Alert]:
        if event.request_bytes <= 0:
            return
        key = (rule.id, _who(event))
        window = self._volumes.setdefault(key, deque())
        window.append((event.ts, event.request_bytes))
        total = self._totals.get(key, 0) + event.request_bytes
        start = event.ts - timedelta(minutes=rule.window_minutes)
        while window and window[0][0] < start:
            total -= window.popleft()[1]
        self._totals[key] = total
        if total > rule.bytes:
            title = (
                f"{_who(event)} sent {total:,} bytes to AI services within "
                f"{rule.window_minutes} minutes (threshold {rule.bytes:,})"
            )
            yield self._alert(rule, event, title, detection=False)

    @staticmethod
    def _alert(
        rule: AlertRule,
        event: DetectionEvent,
        title: str,
        *,
        detector: str | None = None,
        detection: bool = True,
    ) -> Alert:
        return Alert(
            rule=rule,
            ts=event.ts,
            title=title,
            service_id=event.service_id,
            user=event.user or event.client_ip,
            detector=detector,
            action=event.action,
            detection_id=event.id if detection else None,
        )


def register_alerts(
    rules: AlertRules, services: Iterable[ServiceRecord], *, now: datetime
) -> list[Alert]:
    """Alerts the register raises: reviews overdue, services seen N days without an owner."""
    alerts = []
    for service in services:
        for rule in rules.of_kinds(frozenset({"review_overdue", "no_owner"})):
            title = _register_title(rule, service, now)
            if title is not None:
                alerts.append(Alert(rule=rule, ts=now, title=title, service_id=service.id))
    return alerts


def _register_title(rule: AlertRule, service: ServiceRecord, now: datetime) -> str | None:
    if rule.kind == "review_overdue" and service.review_due and service.review_due < now:
        return (
            f"review of {service.name} ({service.id}) overdue since {service.review_due:%Y-%m-%d}"
        )
    seen_for = now - service.first_seen if service.first_seen else timedelta(0)
    if rule.kind == "no_owner" and service.owner is None and seen_for >= timedelta(days=rule.days):
        return f"{service.name} ({service.id}) seen for {seen_for.days} days without an owner"
    return None
