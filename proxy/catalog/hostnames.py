"""Host names from the network, normalised and checked before they name anything.

A plain-HTTP Host header is whatever the client typed: ``api.openai.com\\x00.evil.test``
must not become a register entry that reads like OpenAI. A host is valid when it is an IP
literal, or a DNS name whose labels follow the LDH rule (letters, digits, hyphens; an
underscore is tolerated, as real hosts use it). Non-ASCII names are checked in their IDNA
form.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

# RFC 6761 reserves ``.invalid``: no real host can be confused with it.
INVALID_HOST = "host.invalid"
_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")


def normalize_host(host: str) -> str:
    """Lower-case a host and strip a port, brackets and a trailing dot."""
    host = host.strip().lower()
    if host.startswith("["):  # IPv6 literal, maybe with a port
        return host[1 : host.find("]")] if "]" in host else host[1:]
    if host.count(":") == 1:
        host = host.partition(":")[0]
    return host.rstrip(".")


@lru_cache(maxsize=4096)  # asked for every AI flow's host; bounded, hosts are the client's
def is_valid_host(host: str) -> bool:
    """Whether a normalised ``host`` is an IP literal or a well-formed DNS name."""
    try:
        ipaddress.ip_address(host)
        return True
    except ValueError:
        pass
    try:
        ascii_host = host.encode("idna").decode("ascii")
    except UnicodeError:
        return False
    return 0 < len(ascii_host) <= 253 and all(
        _LABEL.fullmatch(label) for label in ascii_host.split(".")
    )


def checked_host(host: str) -> str:
    """``host`` normalised, or :data:`INVALID_HOST` when it is neither a name nor an IP."""
    host = normalize_host(host)
    return host if is_valid_host(host) else INVALID_HOST


def printable_host(host: str) -> str:
    """``host`` as an inventory records it: control and non-ASCII characters escaped."""
    return host.encode("unicode_escape").decode("ascii")[:255]
