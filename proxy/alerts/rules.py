"""The alert rules file (``rules/alerts.yaml``): loaded, validated, into plain data."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.rulesfile import check_unique_ids, read_rules

# What an alert of each kind is de-duplicated on, and for how long, unless the rule says.
_DEFAULT_DEDUPE: dict[str, tuple[tuple[str, ...], int]] = {
    "finding": (("user", "detector"), 60),
    "action": (("user", "service"), 60),
    "new_service": (("service",), 0),
    "upload_volume": (("user",), 60),
    "review_overdue": (("service",), 1440),
    "no_owner": (("service",), 10080),
}
NOT_SANCTIONED = frozenset({"unsanctioned", "unknown"})
EVENT_KINDS = frozenset({"finding", "action", "new_service", "upload_volume"})


@dataclass(frozen=True, slots=True)
class Webhook:
    name: str
    url: str  # empty: record the alert, do not send it
    format: str  # slack or teams


@dataclass(frozen=True, slots=True)
class AlertRule:
    """One rule: what raises it, how loud it is, whom it tells, and its de-duplication."""

    id: str
    kind: str
    description: str = ""
    severity: str = "medium"
    notify: tuple[str, ...] = ()
    dedupe_key: tuple[str, ...] = ()
    dedupe_minutes: int = 60  # 0: an alert with the same key is never sent again
    min_severity: str = "high"
    detectors: frozenset[str] = frozenset()
    actions: frozenset[str] = frozenset()
    statuses: frozenset[str] = NOT_SANCTIONED
    bytes: int = 0
    window_minutes: int = 60
    days: int = 0


@dataclass(frozen=True, slots=True)
class AlertRules:
    rules: tuple[AlertRule, ...] = ()
    webhooks: dict[str, Webhook] = field(default_factory=dict)

    def of_kinds(self, kinds: frozenset[str]) -> tuple[AlertRule, ...]:
        return tuple(r for r in self.rules if r.kind in kinds)


def _rule(raw: dict[str, Any]) -> AlertRule:
    key, minutes = _DEFAULT_DEDUPE[raw["kind"]]
    dedupe = raw.get("dedupe", {})
    optional = {
        name: raw[name] for name in ("description", "severity", "min_severity", "bytes",
                                     "window_minutes", "days") if name in raw
    }  # fmt: skip
    return AlertRule(
        id=raw["id"],
        kind=raw["kind"],
        notify=tuple(raw.get("notify", ())),
        dedupe_key=tuple(dedupe.get("key", key)),
        dedupe_minutes=dedupe.get("minutes", minutes),
        detectors=frozenset(raw.get("detectors", ())),
        actions=frozenset(raw.get("actions", ())),
        statuses=frozenset(raw.get("status", NOT_SANCTIONED)),
        **optional,
    )


def load_alert_rules(path: Path) -> AlertRules:
    """The validated alert rules in ``path`` (none when it does not exist); RulesError names
    the file, entry and reason."""
    if not path.exists():
        return AlertRules()
    data = read_rules(path, "alerts.schema.json")
    webhooks = {
        name: Webhook(name=name, url=w["url"], format=w["format"])
        for name, w in (data.get("webhooks") or {}).items()
    }
    rules = tuple(_rule(r) for r in data["rules"])
    check_unique_ids(path, (rule.id for rule in rules))
    for rule in rules:
        unknown = [name for name in rule.notify if name not in webhooks]
        if unknown:
            raise RulesError(path, rule.id, f"notify names unknown webhooks: {unknown}")
    return AlertRules(rules=rules, webhooks=webhooks)
