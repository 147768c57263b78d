"""One sink's settings, as given in ``SHADOWLENS_SINKS`` (a JSON list of these)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, SecretStr, model_validator

SYSLOG_SCHEMES = ("udp", "tcp", "tls")
HTTP_SCHEMES = ("http", "https")


class SinkConfig(BaseModel):
    """Where one sink delivers, in which format, and how much it may hold back."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(
        pattern=r"^[a-z0-9][a-z0-9_-]{0,62}$", description="Metric label, spool name."
    )
    kind: Literal["file", "stdout", "syslog", "hec", "webhook"]
    format: Literal["native", "ecs", "ocsf"] = Field(
        default="native", description="Record schema of file, stdout, hec and webhook sinks."
    )
    path: Path | None = Field(default=None, description="file: the NDJSON file.")
    max_bytes: int = Field(default=100 * 1024 * 1024, ge=1024, description="file: rotate past it.")
    backups: int = Field(default=5, ge=0, le=100, description="file: rotated files kept.")
    url: str = Field(default="", description="syslog: udp|tcp|tls://host:port; hec, webhook: URL.")
    token: SecretStr = Field(default=SecretStr(""), description="hec: the HEC token.")
    secret: SecretStr = Field(default=SecretStr(""), description="webhook: HMAC-SHA256 key.")
    signature_header: str = Field(default="X-Shadowlens-Signature")
    ca_file: Path | None = Field(default=None, description="tls, https: CA bundle to trust.")
    facility: int = Field(default=13, ge=0, le=23, description="syslog facility (13: log audit).")
    batch_size: int = Field(default=500, ge=1, le=100_000)
    flush_seconds: float = Field(default=1.0, gt=0)
    timeout: float = Field(default=5.0, gt=0)
    queue_size: int = Field(default=10_000, ge=1)
    spool_max_bytes: int = Field(default=256 * 1024 * 1024, ge=0)

    @model_validator(mode="after")
    def _complete(self) -> SinkConfig:
        if self.kind == "file" and self.path is None:
            raise ValueError(f"sink {self.name}: a file sink needs a path")
        scheme = urlsplit(self.url).scheme
        if self.kind == "syslog" and scheme not in SYSLOG_SCHEMES:
            raise ValueError(f"sink {self.name}: url must be udp://, tcp:// or tls://host:port")
        if self.kind in ("hec", "webhook") and scheme not in HTTP_SCHEMES:
            raise ValueError(f"sink {self.name}: url must be http:// or https://")
        if self.kind == "hec" and not self.token.get_secret_value():
            raise ValueError(f"sink {self.name}: a hec sink needs its token")
        return self
