"""The AI service catalog: signatures loaded from ``rules/services`` and a compiled matcher."""

from proxy.catalog.index import HostIndex, normalize_host
from proxy.catalog.loader import is_public_suffix, load_catalog, load_shared_hosts
from proxy.catalog.model import CATEGORIES, Match, Service

__all__ = [
    "CATEGORIES",
    "HostIndex",
    "Match",
    "Service",
    "is_public_suffix",
    "load_catalog",
    "load_shared_hosts",
    "normalize_host",
]
