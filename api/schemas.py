"""Pydantic response models, kept apart from the SQLAlchemy models."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


class ServiceOut(BaseModel):
    """An AI service seen in traffic."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["chatgpt"])
    name: str = Field(examples=["ChatGPT"])
    vendor: str = Field(examples=["OpenAI"])
    category: str = Field(examples=["chat_assistant"])
    first_seen: datetime
    last_seen: datetime
    requests: int = Field(examples=[42])
    bytes_up: int = Field(examples=[18231])
    bytes_down: int = Field(examples=[90211])
    users: int = Field(examples=[7], description="Distinct users seen using it.")
    data_classes: list[str] = Field(
        examples=[["pii", "secret"]], description="Sensitive data categories seen going to it."
    )
    status: str = Field(
        examples=["tolerated"], description="sanctioned, tolerated, unsanctioned or unknown."
    )
    owner: str | None = Field(examples=["jane.doe@example.com"])
    justification: str | None = Field(examples=["Marketing copy drafts; no customer data."])
    risk_score: int | None = Field(
        examples=[55], description="0 (low) to 100 (high); null when unassessed (no sourced facts)."
    )
    risk_factors: list[RiskFactor]
    risk_source: str = Field(
        examples=["catalog"],
        description="catalog (from the service's facts), review, or unassessed (no facts).",
    )
    review_due: datetime | None
    reviewed_at: datetime | None
    notes: str | None
    updated_by: str | None = Field(description="Who last changed the governance record.")


class RiskFactor(BaseModel):
    """One contribution to a risk score, and why."""

    name: str = Field(examples=["training"])
    points: int = Field(examples=[25])
    reason: str = Field(default="", examples=["inputs train models by default"])


class ServiceList(BaseModel):
    items: list[ServiceOut]


class GovernancePatch(BaseModel):
    """Changes to a service's governance record; fields left out stay as they are."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "status": "unsanctioned",
                    "owner": "ciso@example.com",
                    "justification": "Trains on inputs; use the sanctioned assistant instead.",
                    "review_due": "2027-03-01T00:00:00Z",
                }
            ]
        },
    )

    status: Literal["sanctioned", "tolerated", "unsanctioned", "unknown"] | None = None
    owner: str | None = Field(default=None, max_length=255)
    justification: str | None = Field(default=None, max_length=4000)
    risk_score: int | None = Field(default=None, ge=0, le=100)
    risk_factors: list[RiskFactor] | None = None
    review_due: datetime | None = None
    notes: str | None = Field(default=None, max_length=4000)


class DetectionOut(BaseModel):
    """One flow to an AI service."""

    model_config = ConfigDict(from_attributes=True)

    id: str
    ts: datetime
    client_ip: str = Field(examples=["10.1.2.3"])
    user: str | None = Field(examples=["alice"])
    service_id: str = Field(examples=["chatgpt"])
    evidence: str = Field(
        examples=["host"],
        description="Strongest signal: sni, user_agent, host, protocol, header, path or content; "
        "log for a row from `shadowlens logs scan`.",
    )
    confidence: float = Field(examples=[0.9], description="How sure the match is, 0 to 1.")
    signals: list[str] = Field(examples=[["host", "protocol", "user_agent"]])
    client: str | None = Field(examples=["openai-python"], description="AI client by User-Agent.")
    model: str | None = Field(examples=["gpt-4o"], description="Model named in the request.")
    account: str | None = Field(
        examples=["org-abc123"], description="Organisation or workspace id the request names."
    )
    method: str = Field(examples=["POST"])
    host: str = Field(examples=["chatgpt.com"])
    path: str = Field(examples=["/backend-api/conversation"])
    request_bytes: int
    response_bytes: int = Field(
        description="Bytes down: the body received, counted as it passed when it streamed."
    )
    requests: int = Field(
        default=1, description="Flows this row stands for: 1, or more for a log scan's row."
    )
    last_ts: datetime | None = Field(
        default=None, description="For a log scan's row, the time of its latest flow."
    )
    status: int | None = Field(examples=[200])
    error: str | None = None
    action: str = Field(
        examples=["redact"], description="allow, monitor, coach, redact, pseudonymise or block."
    )
    rule_id: str | None = Field(
        examples=["redact-secrets"], description="The policy rule that decided the action."
    )
    enforced: bool = Field(description="False when the policy ran in dry-run mode.")
    account_kind: str = Field(
        examples=["corporate"], description="corporate, personal or unknown (see the policy)."
    )
    groups: list[str] = Field(examples=[["engineering"]], description="The user's groups.")
    tenant_restricted: bool = Field(
        description="Tenant-restriction headers were inserted on this request."
    )
    data_classes: list[str] = Field(
        examples=[["pii", "secret"]], description="Sensitive data categories in the upload."
    )
    justification: str | None = Field(
        examples=["Drafting a press release; no customer data."],
        description="What the user wrote on the coaching page to go on, when this flow did.",
    )
    conversation: str | None = Field(
        default=None,
        examples=["6745a1f0-2b3c-8000-9d4e-0a1b2c3d4e5f"],
        description="The web app's conversation id, where its request names one: findings of "
        "one conversation group by it.",
    )

    @field_validator("signals", "data_classes", "groups", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [s for s in value.split(",") if s] if isinstance(value, str) else value


class DetectionPage(BaseModel):
    items: list[DetectionOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class JustificationOut(BaseModel):
    """A user's reason for going on past a coaching page, and how long it allows the service."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(description="The id of the detection that carried it.")
    ts: datetime
    user: str | None = Field(examples=["alice"])
    client_ip: str = Field(examples=["10.1.2.3"])
    service_id: str = Field(examples=["chatgpt"])
    rule_id: str = Field(examples=["coach-unsanctioned"], description="The coaching rule.")
    text: str = Field(examples=["Drafting a press release; no customer data."])
    allowed_until: datetime = Field(description="Until when the user may use the service.")


class JustificationPage(BaseModel):
    items: list[JustificationOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])


class ErrorBody(BaseModel):
    detail: str


class FindingOut(BaseModel):
    """Sensitive data found in one upload: the detector, a masked preview, a fingerprint.

    The API's wire format of a stored ``FindingRow``, read from it by attribute."""

    model_config = ConfigDict(from_attributes=True)

    detection_id: str
    ts: datetime
    detector: str = Field(examples=["aws-access-key-id"])
    category: str = Field(examples=["secret"], description="secret, pii, code, keyword or limit.")
    severity: str = Field(examples=["critical"])
    count: int = Field(examples=[1], description="Times this value occurred in the upload.")
    preview: str = Field(examples=["AKIA************WB6P"])
    fingerprint: str = Field(
        description="Keyed HMAC of the value: equal values match, the value cannot be recovered."
    )
    location: str = Field(examples=["/messages/0/content"])


class FindingPage(BaseModel):
    items: list[FindingOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class Ranked(BaseModel):
    """One entry of a top-N list: requests for services and users, findings for detectors."""

    model_config = ConfigDict(from_attributes=True)

    key: str = Field(examples=["chatgpt"])
    count: int = Field(examples=[1234])


class SummaryOut(BaseModel):
    """What happened in a time range, counted from the hourly rollups (whole hours)."""

    model_config = ConfigDict(from_attributes=True)

    since: datetime
    until: datetime
    requests: int = Field(examples=[18233])
    bytes_up: int
    bytes_down: int
    findings: int = Field(examples=[41], description="DLP findings in uploads.")
    services: int = Field(examples=[23], description="Distinct services used.")
    users: int = Field(examples=[310], description="Distinct users.")
    blocked: int = Field(examples=[12])
    redacted: int = Field(examples=[30])
    by_action: dict[str, int] = Field(examples=[{"monitor": 18191, "block": 12, "redact": 30}])
    new_services: list[str] = Field(
        examples=[["perplexity"]], description="First seen in this range."
    )
    top_services: list[Ranked]
    top_users: list[Ranked] | None = Field(description="null for the viewer role.")
    top_detectors: list[Ranked]


class UserOut(BaseModel):
    """A user of AI services: identity, groups, first and last seen, requests in the range."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["alice"])
    groups: list[str] = Field(examples=[["engineering"]])
    first_seen: datetime
    last_seen: datetime
    requests: int
    bytes_up: int

    @field_validator("groups", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [s for s in value.split(",") if s] if isinstance(value, str) else value


class UserList(BaseModel):
    items: list[UserOut]


class AuditOut(BaseModel):
    """One change made through the API or the CLI."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ts: datetime
    actor: str = Field(examples=["token:3f2a9c0d1e2b4a5c:soc-admin"])
    action: str = Field(examples=["governance.update"])
    target: str = Field(examples=["chatgpt"])
    before: dict[str, Any] | None
    after: dict[str, Any] | None

    @field_validator("before", "after", mode="before")
    @classmethod
    def _parse(cls, value: object) -> object:
        return json.loads(value) if isinstance(value, str) else value


class AuditPage(BaseModel):
    items: list[AuditOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")


class TokenCreate(BaseModel):
    """A token to make: who or what it is for, and its role."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"name": "soc-dashboard", "role": "viewer"}]},
    )

    name: str = Field(min_length=1, max_length=200)
    role: Literal["viewer", "analyst", "admin"]


class TokenOut(BaseModel):
    """A token as listed: never its secret, which only its creator ever sees."""

    model_config = ConfigDict(from_attributes=True)

    id: str = Field(examples=["3f2a9c0d1e2b4a5c"])
    name: str = Field(examples=["soc-dashboard"])
    role: str = Field(examples=["viewer"])
    created_at: datetime
    created_by: str
    revoked_at: datetime | None


class TokenCreated(TokenOut):
    """A new token; ``token`` is shown this once, only its SHA-256 is stored."""

    token: str = Field(examples=["slk_…"])


class TokenList(BaseModel):
    items: list[TokenOut]


class PolicyRuleView(BaseModel):
    id: str = Field(examples=["redact-secrets"])
    description: str
    action: str = Field(examples=["redact"])
    when: dict[str, Any] = Field(examples=[{"data": ["secret"], "min_severity": "high"}])
    on_inspection_error: str = Field(examples=["block"])


class PolicyView(BaseModel):
    """The policy in force. Tenant-restriction header values and account ids are not shown."""

    dry_run: bool
    default_action: str
    status: dict[str, Any]
    rules: list[PolicyRuleView]
    exemptions: list[dict[str, Any]]
    tenant_restrictions: list[dict[str, Any]]
    corporate_accounts: dict[str, int] = Field(description="Service id to how many ids are listed.")
    coach_minutes: int


class AlertOut(BaseModel):
    """An alert an alert rule raised, and whether its webhooks took it."""

    model_config = ConfigDict(from_attributes=True)

    id: int
    ts: datetime
    rule_id: str = Field(examples=["high-severity-finding"])
    kind: str = Field(
        examples=["finding"],
        description="finding, action, new_service, upload_volume, review_overdue or no_owner.",
    )
    dedupe_key: str = Field(examples=["user=alice,detector=aws-access-key-id"])
    severity: str = Field(examples=["high"])
    title: str
    service_id: str | None = Field(examples=["chatgpt"])
    user: str | None = Field(examples=["alice"])
    detection_id: str | None = Field(description="The detection that raised it, if one did.")
    link: str = Field(description="Where its subject is in the API.")
    webhooks: list[str] = Field(examples=[["soc"]], description="Webhooks the rule notifies.")
    status: str = Field(
        examples=["sent"],
        description="sent, failed (a webhook never took it) or recorded (no webhook URL set).",
    )

    @field_validator("webhooks", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [w for w in value.split(",") if w] if isinstance(value, str) else value


class AlertPage(BaseModel):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page.")
