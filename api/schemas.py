"""Pydantic response models, kept apart from the SQLAlchemy models."""

from __future__ import annotations

from datetime import datetime

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


class ServiceList(BaseModel):
    items: list[ServiceOut]


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
        description="Strongest signal: sni, user_agent, host, protocol, header, path or content.",
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
    status: int | None = Field(examples=[200])
    error: str | None = None
    action: str = Field(examples=["redact"], description="monitor, redact or block.")
    data_classes: list[str] = Field(
        examples=[["pii", "secret"]], description="Sensitive data categories in the upload."
    )

    @field_validator("signals", "data_classes", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        return [s for s in value.split(",") if s] if isinstance(value, str) else value


class DetectionPage(BaseModel):
    items: list[DetectionOut]
    next_cursor: str | None = Field(
        description="Pass as `cursor` for the next page; null at the end."
    )


class Health(BaseModel):
    status: str = Field(examples=["ok"])
    database: str = Field(examples=["ok"])


class ErrorBody(BaseModel):
    detail: str


class FindingOut(BaseModel):
    """Sensitive data found in one upload: the detector, a masked preview, a fingerprint."""

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
