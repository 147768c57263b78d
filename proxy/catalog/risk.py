"""The default risk score of a service, derived from its sourced governance facts.

Every point has a named factor, so the score can be explained. Only facts read in a source
move the score: a known good fact lowers it, a known bad one raises it, and an unknown fact is
listed as unknown without points. A service with no facts at all gets no score, only the
reason: a number built from guesses would not discriminate. See docs/risk.md.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from shadowlens.proxy.catalog.model import Fact, Service

NEUTRAL = 50

# Where a category starts from the neutral score: how much, and how directly, users put
# their own content into it.
CATEGORY_DELTA = {
    "browser_extension": 10,
    "unknown_llm": 10,
    "mcp_server": 10,
    "chat_assistant": 5,
    "code_assistant": 5,
    "agent_platform": 5,
    "meeting_assistant": 5,
    "writing_assistant": 0,
    "llm_api": 0,
    "embedded_ai": -5,
    "search_engine": -5,
    "image_generation": -5,
    "video_generation": -5,
    "audio_generation": -5,
    "ml_platform": -5,
    "cloud_ai": -10,
}

UNASSESSED = "no sourced facts about how this service handles data"


@dataclass(frozen=True, slots=True)
class Factor:
    """One contribution to the score and why."""

    name: str
    points: int
    reason: str


@dataclass(frozen=True, slots=True)
class Risk:
    """A score from 0 (low) to 100 (high), or None when unassessed, with its factors."""

    score: int | None
    factors: tuple[Factor, ...]
    unknown: tuple[str, ...] = ()  # facts the catalog has no source for

    @property
    def assessed(self) -> bool:
        """True when the score rests on at least one sourced fact."""
        return self.score is not None


def _training(fact: Fact) -> Factor:
    if fact.value:
        return Factor("training", 25, "inputs train models by default")
    return Factor("training", -15, "inputs do not train models by default")


def _enterprise_terms(fact: Fact) -> Factor:
    if fact.value:
        return Factor("enterprise_terms", -5, "a tier whose inputs never train models")
    return Factor("enterprise_terms", 15, "no tier without training")


def _retention(fact: Fact) -> Factor:
    days = fact.value
    if days == 0:
        return Factor("retention", -10, "inputs are not stored")
    if days <= 30:
        return Factor("retention", -5, f"keeps inputs {days} days at most")
    return Factor("retention", 10, f"keeps inputs {days} days")


def _certifications(fact: Fact) -> Factor:
    held = set(fact.value)
    if "iso42001" in held and held & {"soc2", "iso27001"}:
        return Factor("certifications", -15, "SOC 2 or ISO 27001, and ISO/IEC 42001")
    if held & {"soc2", "iso27001"}:
        return Factor("certifications", -10, "SOC 2 or ISO 27001 audited")
    return Factor("certifications", 5, "neither SOC 2 nor ISO 27001")


def _residency(fact: Fact) -> Factor:
    regions = ", ".join(fact.value)
    if len(fact.value) > 1:
        return Factor("residency", -5, f"data can be kept in a chosen region ({regions})")
    return Factor("residency", 0, f"data kept in {regions}")


def _flag(name: str, good: str, bad: str, bad_points: int) -> Callable[[Fact], Factor]:
    def factor(fact: Fact) -> Factor:
        return Factor(name, -5, good) if fact.value else Factor(name, bad_points, bad)

    return factor


def _jurisdiction(fact: Fact) -> Factor:
    return Factor("jurisdiction", 0, f"vendor based in {fact.value}")


RULES: dict[str, Callable[[Fact], Factor]] = {
    "trains_on_inputs_by_default": _training,
    "enterprise_no_training": _enterprise_terms,
    "retention_days": _retention,
    "certifications": _certifications,
    "data_residency": _residency,
    "dpa": _flag("dpa", "a DPA is offered", "no DPA offered", 15),
    "sso": _flag("sso", "single sign-on offered", "no single sign-on", 5),
    "enterprise_tier": _flag(
        "enterprise_tier", "an enterprise plan exists", "no enterprise plan", 5
    ),
    "hq_country": _jurisdiction,
}


def risk_of(service: Service) -> Risk:
    """The default risk of ``service``: neutral, moved by its category and its sourced facts."""
    unknown = tuple(name for name in RULES if name not in service.facts)
    if not service.facts.keys() - {"hq_country"}:
        return Risk(None, (Factor("unassessed", 0, UNASSESSED),), unknown)
    delta = CATEGORY_DELTA.get(service.category, 0)
    factors = [
        Factor("neutral", NEUTRAL, "starting point"),
        Factor("category", delta, f"{service.category} services"),
    ]
    factors += [rule(service.facts[name]) for name, rule in RULES.items() if name in service.facts]
    score = max(0, min(100, sum(f.points for f in factors)))
    return Risk(score, tuple(factors), unknown)


def score_text(score: int | None) -> str:
    """A score as tables print it: the number, or ``unassessed``."""
    return "unassessed" if score is None else str(score)
