"""Policy: who may use which AI with which data, decided rule by rule and explained."""

from proxy.policy.decide import decide, service_status
from proxy.policy.identity import IdentityResolver
from proxy.policy.loader import load_identities, load_policy
from proxy.policy.model import Decision, Identity, Policy, Rule

__all__ = [
    "Decision",
    "Identity",
    "IdentityResolver",
    "Policy",
    "Rule",
    "decide",
    "load_identities",
    "load_policy",
    "service_status",
]
