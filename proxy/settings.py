"""Runtime configuration, read from the environment with the prefix ``SHADOWLENS_``.

Every field here is documented in the README's settings table; a test enforces it.
"""

from __future__ import annotations

import ipaddress
from functools import cached_property
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from shadowlens.proxy.pac import split_domains, split_nodes
from shadowlens.proxy.sinkconfig import SinkConfig

PROJECT_ROOT = Path(__file__).resolve().parent.parent


class Settings(BaseSettings):
    """All shadowlens settings; each maps to the variable ``SHADOWLENS_<NAME>``."""

    model_config = SettingsConfigDict(env_prefix="SHADOWLENS_", extra="ignore")

    data_dir: Path = Field(
        default=Path("data"),
        description="Folder for the SQLite database, the proxy CA and spool files.",
    )
    database_url: str = Field(
        default="",
        description="SQLAlchemy URL of the inventory database. Empty: SQLite in the data dir.",
    )
    rules_dir: Path = Field(
        default=PROJECT_ROOT / "rules",
        description="Folder holding services/*.yaml, dlp/*.yaml and policy.yaml.",
    )
    proxy_host: str = Field(default="127.0.0.1", description="Address the proxy listens on.")
    proxy_port: int = Field(default=8080, ge=0, le=65535, description="Proxy port (0: any).")
    api_host: str = Field(default="127.0.0.1", description="Address the API listens on.")
    api_port: int = Field(default=8000, ge=0, le=65535, description="API port (0: any).")
    metrics_port: int = Field(
        default=9464,
        ge=0,
        le=65535,
        description="Port of /metrics for `shadowlens proxy` alone (0: off). "
        "`run` and `api` serve /metrics on the API port.",
    )
    api_tokens: str = Field(
        default="",
        description="Comma-separated bearer tokens accepted by /api. Empty: `run` makes one.",
    )
    oidc_jwks_file: str = Field(
        default="",
        description="JWKS file of the identity provider's signing keys; when set, the API "
        "also accepts RS256 OIDC bearer tokens. Empty: off.",
    )
    oidc_issuer: str = Field(default="", description="Required `iss` of OIDC tokens.")
    oidc_audience: str = Field(default="", description="Required `aud` of OIDC tokens.")
    oidc_role_claim: str = Field(
        default="shadowlens_role",
        description="Claim holding the role (viewer, analyst, admin) or a list of roles.",
    )
    writer_queue_size: int = Field(
        default=10_000, ge=1, description="Events the proxy holds before it drops new ones."
    )
    writer_batch_size: int = Field(
        default=5000, ge=1, description="Most events written in one database transaction."
    )
    writer_flush_seconds: float = Field(
        default=0.2, gt=0, description="Longest an event waits in the queue before a write."
    )
    spool_max_bytes: int = Field(
        default=1024 * 1024 * 1024,
        ge=0,
        description="Cap on the spool file that keeps events while the database is away; "
        "past it events are dropped and counted (0: no spool, retry in memory).",
    )
    journal: Literal["write", "fsync", "off"] = Field(
        default="write",
        description="How an AI flow's event is written ahead before the answer: write "
        "(survives a kill), fsync (survives a power cut too; grouped syncs) or off.",
    )
    shutdown_grace_seconds: float = Field(
        default=10.0,
        ge=0,
        description="At SIGTERM, how long flows in flight may take to finish, then how long "
        "the writer may take to drain.",
    )
    retention_detections_days: int = Field(
        default=0, ge=0, description="Detections older than this are purged (0: kept forever)."
    )
    retention_findings_days: int = Field(
        default=0, ge=0, description="DLP findings older than this are purged (0: kept forever)."
    )
    retention_justifications_days: int = Field(
        default=0,
        ge=0,
        description="Coaching justifications older than this are purged (0: kept forever).",
    )
    retention_interval_seconds: float = Field(
        default=3600, gt=0, description="How often the proxy purges what retention expires."
    )
    policy_file: Path = Field(
        default_factory=lambda given: given["rules_dir"] / "policy.yaml",
        description="The policy: service status, rules, exemptions, tenant restrictions.",
    )
    identity_file: Path = Field(
        default_factory=lambda given: given["rules_dir"] / "identities.yaml",
        description="Address-to-user and network-to-department map, and users' groups.",
    )
    trusted_proxies: str = Field(
        default="",
        description="Comma-separated CIDRs whose user header and X-Forwarded-For are believed.",
    )
    decrypt: Literal["all", "ai"] = Field(
        default="all",
        description="What TLS the proxy decrypts: all of it, or only catalog AI hosts, SaaS "
        "hosts with AI signatures and hosts the policy names (the rest is tunnelled).",
    )
    pseudonym_ttl_seconds: float = Field(
        default=3600,
        gt=0,
        description="How long a pseudonymised value's surrogate is kept (in memory only) "
        "after its last use, to be restored in the AI's answers.",
    )
    proxy_allowed_clients: str = Field(
        default="",
        description="Comma-separated CIDRs of the clients the proxy serves; others are "
        "refused. Required, unless proxyauth is set, when the proxy listens beyond loopback.",
    )
    trusted_user_header: str = Field(
        default="X-Authenticated-User",
        description="Header naming the user, accepted only from trusted proxies.",
    )
    ldap_group_base: str = Field(
        default="",
        description="When proxyauth uses LDAP: the DN under which users' groups are searched "
        "(empty: groups come from the identity file only).",
    )
    ldap_group_filter: str = Field(
        default="(|(member={dn})(uniqueMember={dn})(memberUid={user}))",
        description="LDAP filter finding a user's groups; {dn} and {user} are filled in.",
    )
    ldap_group_cache_seconds: float = Field(
        default=300, gt=0, description="How long a user's LDAP groups are reused."
    )
    coach_token_key: str = Field(
        default="",
        description="Secret key signing coaching-page forms; give every proxy of a cluster the "
        "same one. Empty: a random key kept in the data dir (coach-token.key).",
    )
    coach_sync_seconds: float = Field(
        default=5,
        ge=0,
        description="How often the proxy reads the coaching grants other proxies wrote to the "
        "inventory (0: off).",
    )
    rules_reload_seconds: float = Field(
        default=2.0, ge=0, description="How often the proxy checks the rules for changes (0: off)."
    )
    no_decrypt_hosts: str = Field(
        default="",
        description="Comma-separated domains never decrypted (banking, health…); "
        "discovered by SNI only.",
    )
    pac_proxies: str = Field(
        default="",
        description="Comma-separated host:port of the proxy nodes /proxy.pac hands out, in "
        "order of preference (empty: /proxy.pac answers 404).",
    )
    pac_bypass_domains: str = Field(
        default="",
        description="Comma-separated domains (and their subdomains) /proxy.pac sends DIRECT.",
    )
    passthrough_learn_seconds: float = Field(
        default=3600,
        ge=0,
        description="How long a host whose client rejected our CA is passed through (0: never).",
    )
    dlp_engine: Literal["auto", "hyperscan", "python"] = Field(
        default="auto",
        description="DLP scan engine: hyperscan, python (fallback), or auto (Hyperscan if there).",
    )
    dlp_fingerprint_key: str = Field(
        default="",
        description="Secret key for DLP finding fingerprints (HMAC-SHA256). "
        "Empty: a random key kept in the data dir (dlp-fingerprint.key).",
    )
    dlp_keywords: str = Field(
        default="",
        description="Comma-separated confidential keywords (project code names) DLP reports.",
    )
    dlp_redact_all: bool = Field(
        default=False,
        description="Mask every DLP finding in uploads to AI services before they leave.",
    )
    dlp_workers: int = Field(
        default=1,
        ge=0,
        le=64,
        description="Scan worker processes that inspect uploads over 1 KiB off the proxy's "
        "event loop (0: scan in the proxy process). One per spare core.",
    )
    dlp_worker_timeout: float = Field(
        default=30.0,
        gt=0,
        description="Seconds a scan worker may take on one upload before it is stopped and "
        "the upload counts as a scan error (the policy's fail mode applies).",
    )
    dlp_max_body_bytes: int = Field(
        default=8 * 1024 * 1024,
        ge=1024,
        description="Largest request body DLP buffers and scans; a larger one is a finding.",
    )
    dlp_max_decoded_bytes: int = Field(
        default=16 * 1024 * 1024,
        ge=1024,
        description="Cap on a body's decompressed size; past it DLP flags a decompression bomb.",
    )
    strip_alt_svc: bool = Field(
        default=True,
        description="Remove HTTP/3 (h3) adverts from Alt-Svc, so clients stay on TCP.",
    )
    dlp_max_depth: int = Field(
        default=3,
        ge=0,
        le=10,
        description="How deep DLP follows nested content (base64 in JSON, files in multipart).",
    )
    dlp_ocr: bool = Field(
        default=True,
        description="Read text in uploaded images (PNG, JPEG, WebP) with tesseract, if installed.",
    )
    dlp_ocr_timeout: float = Field(
        default=10.0,
        gt=0,
        le=120,
        description="Seconds tesseract may take for one image; past it the image is not read.",
    )
    dlp_ocr_max_pixels: int = Field(
        default=25_000_000,
        ge=1,
        description="Largest image (width x height) DLP reads with OCR; larger ones are skipped.",
    )

    sinks: list[SinkConfig] = Field(
        default_factory=list,
        description="SIEM sinks, a JSON list of {name, kind, format, ...} (docs/siem.md).",
    )
    alerts_file: Path = Field(
        default_factory=lambda given: given["rules_dir"] / "alerts.yaml",
        description="The alert rules and the webhooks they notify.",
    )
    alert_check_seconds: float = Field(
        default=3600.0,
        ge=0,
        description="How often overdue reviews and services without an owner are checked (0: off).",
    )
    api_base_url: str = Field(
        default="",
        description="The API's address as analysts reach it, for links in alerts. "
        "Empty: http://<api host>:<api port>.",
    )

    @field_validator("trusted_proxies", "proxy_allowed_clients")
    @classmethod
    def _cidrs(cls, value: str) -> str:
        for cidr in filter(None, (c.strip() for c in value.split(","))):
            ipaddress.ip_network(cidr, strict=False)  # ValueError names the bad one
        return value

    @field_validator("ldap_group_filter")
    @classmethod
    def _group_filter(cls, value: str) -> str:
        try:
            value.format(dn="", user="")
        except (KeyError, IndexError, ValueError) as exc:
            raise ValueError(f"only {{dn}} and {{user}} may be filled in ({exc!r})") from exc
        return value

    @field_validator("pac_proxies")
    @classmethod
    def _pac_proxies(cls, value: str) -> str:
        split_nodes(value)
        return value

    @field_validator("pac_bypass_domains")
    @classmethod
    def _pac_bypass(cls, value: str) -> str:
        split_domains(value)
        return value

    @field_validator("data_dir", "rules_dir", "policy_file", "identity_file", "alerts_file")
    @classmethod
    def _absolute(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @cached_property
    def effective_database_url(self) -> str:
        """The database URL in force: the configured one, or SQLite in the data dir."""
        return self.database_url or f"sqlite:///{self.data_dir / 'shadowlens.db'}"

    @cached_property
    def token_set(self) -> frozenset[str]:
        """The configured API tokens, blanks removed."""
        return frozenset(t.strip() for t in self.api_tokens.split(",") if t.strip())

    @cached_property
    def trusted_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The trusted proxies' networks."""
        return _networks(self.trusted_proxies)

    @cached_property
    def allowed_client_networks(self) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
        """The networks of the clients the proxy serves; empty: any that can reach it."""
        return _networks(self.proxy_allowed_clients)

    @cached_property
    def no_decrypt_set(self) -> frozenset[str]:
        """The do-not-decrypt domains, lower-case."""
        return frozenset(h.strip().lower() for h in self.no_decrypt_hosts.split(",") if h.strip())

    @property
    def api_link_base(self) -> str:
        """The API's base URL for links, without a trailing slash."""
        return (self.api_base_url or f"http://{self.api_host}:{self.api_port}").rstrip("/")

    @property
    def confdir(self) -> Path:
        """Where mitmproxy keeps the CA that clients must trust."""
        return self.data_dir / "mitmproxy"


def _networks(cidrs: str) -> list[ipaddress.IPv4Network | ipaddress.IPv6Network]:
    return [ipaddress.ip_network(c.strip(), strict=False) for c in cidrs.split(",") if c.strip()]
