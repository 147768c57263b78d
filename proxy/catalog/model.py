"""What the catalog knows about an AI service, and what a match says."""

from __future__ import annotations

from dataclasses import dataclass

CATEGORIES = frozenset(
    {
        "chat_assistant",
        "llm_api",
        "code_assistant",
        "image_generation",
        "video_generation",
        "audio_generation",
        "meeting_assistant",
        "writing_assistant",
        "search_engine",
        "agent_platform",
        "browser_extension",
        "cloud_ai",
        "ml_platform",
    }
)


@dataclass(frozen=True, slots=True)
class Service:
    """One AI service in the catalog."""

    id: str
    name: str
    vendor: str
    category: str
    domains: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Match:
    """A classification hit: the service, the signal that found it, and what matched."""

    service: Service
    evidence: str  # the signal: "host" or "sni"
    matched: str  # the catalog domain that matched
