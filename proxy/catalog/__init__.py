"""The AI service catalog: the service, shared-host and client signatures loaded from
``rules/``, the compiled matcher that classifies a request by host, path, headers and
protocol shape, and each service's explained risk. It owns what counts as AI; it imports only
errors, the rules-file reader and the JSON helpers of ours.
"""

from shadowlens.proxy.catalog.clients import Client, ClientMatcher
from shadowlens.proxy.catalog.hostnames import normalize_host
from shadowlens.proxy.catalog.index import HostIndex
from shadowlens.proxy.catalog.loader import is_public_suffix, load_catalog, load_shared_hosts
from shadowlens.proxy.catalog.model import MCP_SERVER, UNKNOWN_LLM, Fact, Match, Service, Signature

__all__ = [
    "MCP_SERVER",
    "UNKNOWN_LLM",
    "Client",
    "ClientMatcher",
    "Fact",
    "HostIndex",
    "Match",
    "Service",
    "Signature",
    "is_public_suffix",
    "load_catalog",
    "load_shared_hosts",
    "normalize_host",
]
