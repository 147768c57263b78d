"""Policy: who may use which AI with which data, decided rule by rule and explained. It
owns identities, the policy file, the decision and the verdict (``enforce``), block and coach
answers and coaching grants; it imports the catalog, the DLP types, errors, metrics and the
rules-file reader, nothing else of ours.
"""

from shadowlens.proxy.policy.decide import decide, service_status
from shadowlens.proxy.policy.identity import IdentityResolver
from shadowlens.proxy.policy.loader import load_identities, load_policy
from shadowlens.proxy.policy.model import Decision, Identity, Policy, Rule

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
