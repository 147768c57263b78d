"""The default risk score of a service, derived from its governance facts.

Every point has a named factor, so the score can be explained. An unknown fact counts as a
risk, a little less than a known bad one: we do not assume the best of what we have not read.
See docs/risk.md.
"""

from __future__ import annotations

from dataclasses import dataclass

from proxy.catalog.model import Service

CATEGORY_BASE = {
    "chat_assistant": 30,
    "code_assistant": 30,
    "agent_platform": 30,
    "browser_extension": 35,
    "meeting_assistant": 30,
    "writing_assistant": 25,
    "llm_api": 25,
    "embedded_ai": 20,
    "search_engine": 20,
    "image_generation": 20,
    "video_generation": 20,
    "audio_generation": 20,
    "ml_platform": 20,
    "cloud_ai": 15,
    "unknown_llm": 40,
    "mcp_server": 40,
}


@dataclass(frozen=True, slots=True)
class Factor:
    """One contribution to the score and why."""

    name: str
    points: int
    reason: str


@dataclass(frozen=True, slots=True)
class Risk:
    """A score from 0 (low) to 100 (high) with the factors that add up to it."""

    score: int
    factors: tuple[Factor, ...]


def _fact_factors(service: Service) -> list[Factor]:
    facts = service.facts
    factors = []
    training = facts.get("trains_on_inputs_by_default")
    if training is None:
        factors.append(Factor("training", 15, "unknown whether inputs train models by default"))
    elif training.value:
        factors.append(Factor("training", 25, "inputs train models by default"))
    enterprise = facts.get("enterprise_no_training")
    if enterprise is None:
        factors.append(Factor("enterprise_terms", 10, "unknown whether a no-training tier exists"))
    elif not enterprise.value:
        factors.append(Factor("enterprise_terms", 15, "no enterprise tier without training"))
    retention = facts.get("retention_days")
    if retention is None:
        factors.append(Factor("retention", 5, "retention period not published"))
    elif retention.value > 30:
        factors.append(Factor("retention", 10, f"keeps inputs {retention.value} days"))
    if "hq_country" not in facts:
        factors.append(Factor("jurisdiction", 5, "vendor's country unknown"))
    certifications = set(facts["certifications"].value) if "certifications" in facts else set()
    if not certifications & {"soc2", "iso27001"}:
        factors.append(Factor("certifications", 10, "no SOC 2 or ISO 27001 known"))
    if "iso42001" in certifications:
        factors.append(Factor("certifications", -5, "ISO/IEC 42001 certified"))
    return factors


def risk_of(service: Service) -> Risk:
    """The default risk of ``service``: its category's base plus its facts' factors."""
    base = CATEGORY_BASE.get(service.category, 30)
    factors = (Factor("category", base, f"{service.category} services"), *_fact_factors(service))
    score = max(0, min(100, sum(f.points for f in factors)))
    return Risk(score=score, factors=factors)
