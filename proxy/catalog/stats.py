"""Counts of what the catalog holds, as ``shadowlens rules lint --stats`` prints them."""

from __future__ import annotations

from collections import Counter
from typing import Any

from shadowlens.proxy.catalog.index import HostIndex
from shadowlens.proxy.catalog.risk import risk_of


def catalog_stats(catalog: HostIndex) -> dict[str, Any]:
    """Services by category and family, hosts, and how many services carry sourced facts."""
    services = list(catalog.services.values())
    with_facts = [s for s in services if s.facts]
    return {
        "services": len(services),
        "domains": sum(len(s.domains) for s in services),
        "host_patterns": sum(len(s.host_patterns) for s in services),
        "signatures": sum(len(s.signatures) for s in services),
        "services_with_facts": len(with_facts),
        "facts": sum(len(s.facts) for s in with_facts),
        "services_assessed": sum(risk_of(s).assessed for s in services),
        "by_category": dict(sorted(Counter(s.category for s in services).items())),
        "by_family": dict(sorted(Counter(s.family for s in services).items())),
    }
