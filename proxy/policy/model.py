"""The policy's data: rules, exemptions, tenant restrictions, identities and decisions."""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIONS = ("allow", "monitor", "coach", "redact", "pseudonymise", "block")
STATUSES = ("sanctioned", "tolerated", "unsanctioned", "unknown")
SEVERITY_RANK = {"low": 0, "medium": 1, "high": 2, "critical": 3}


@dataclass(frozen=True, slots=True)
class Identity:
    """Who is behind a flow and how we know."""

    user: str
    groups: frozenset[str]
    client_ip: str
    source: str  # proxyauth, header, ip_map, anonymous


@dataclass(frozen=True, slots=True)
class Conditions:
    """A rule's ``when``: every given field must hold; a list holds when any value matches."""

    statuses: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()
    categories: frozenset[str] = frozenset()
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    data: frozenset[str] = frozenset()  # DLP finding categories
    accounts: frozenset[str] = frozenset()  # corporate, personal, unknown
    min_severity: str | None = None

    @property
    def needs_data(self) -> bool:
        """Whether the rule looks at what is uploaded, so inspection must have succeeded."""
        return bool(self.data) or self.min_severity is not None


@dataclass(frozen=True, slots=True)
class Rule:
    """One policy rule: first match wins."""

    id: str
    action: str
    when: Conditions = field(default_factory=Conditions)
    on_inspection_error: str = "allow"
    description: str = ""


@dataclass(frozen=True, slots=True)
class Exemption:
    """Users, groups or destinations that bypass the rules (and are recorded as such)."""

    id: str
    users: frozenset[str] = frozenset()
    groups: frozenset[str] = frozenset()
    services: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class TenantRestriction:
    """Headers inserted on requests to ``hosts`` so only the corporate tenant works."""

    id: str
    hosts: tuple[str, ...]
    headers: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Branding:
    """What the block and coaching pages say about the organisation."""

    organisation: str = "Your organisation"
    contact: str = ""
    request_access_url: str = ""
    policy_url: str = ""


@dataclass(frozen=True, slots=True)
class Policy:
    """The whole policy file, validated."""

    rules: tuple[Rule, ...]
    default_action: str = "monitor"
    dry_run: bool = False
    service_status: dict[str, str] = field(default_factory=dict)
    category_status: dict[str, str] = field(default_factory=dict)
    default_status: str = "unknown"
    unknown_llm_status: str = "unknown"
    mcp_server_status: str = "unknown"
    exemptions: tuple[Exemption, ...] = ()
    tenant_restrictions: tuple[TenantRestriction, ...] = ()
    corporate_accounts: dict[str, frozenset[str]] = field(default_factory=dict)
    coach_minutes: int = 60
    branding: Branding = field(default_factory=Branding)


@dataclass(frozen=True, slots=True)
class Decision:
    """What to do with a flow and which rule said so."""

    action: str
    rule_id: str
    status: str
    reason: str
    enforced: bool = True  # False under dry_run: decided and recorded, only monitored
    account_kind: str = "unknown"  # corporate, personal or unknown
    redact_categories: frozenset[str] = frozenset()  # empty: every finding
