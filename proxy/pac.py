"""The proxy auto-configuration (PAC) file the API serves at /proxy.pac."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence

PAC_MEDIA_TYPE = "application/x-ns-proxy-autoconfig"
# host:port, the host a DNS name, an IPv4 address or a bracketed IPv6 address.
NODE = re.compile(r"^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$")
DOMAIN = re.compile(r"^\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*$")

PAC_TEMPLATE = """\
// shadowlens proxy auto-configuration; generated from SHADOWLENS_PAC_* settings.
var PROXIES = %(proxies)s;
var BYPASS = %(bypass)s;

function FindProxyForURL(url, host) {
  host = host.toLowerCase();
  if (isPlainHostName(host) || host === "localhost" || shExpMatch(host, "127.*") ||
      host === "::1" || host === "[::1]") {
    return "DIRECT";
  }
  for (var i = 0; i < BYPASS.length; i++) {
    if (host === BYPASS[i] || dnsDomainIs(host, "." + BYPASS[i])) {
      return "DIRECT";
    }
  }
  // In order, the next when one does not answer; never DIRECT, so traffic is not unseen.
  return PROXIES;
}
"""


def split_nodes(text: str) -> list[str]:
    """The proxy nodes of a comma-separated setting; ValueError names a bad one."""
    nodes = [node.strip() for node in text.split(",") if node.strip()]
    for node in nodes:
        if not NODE.match(node) or not 0 < int(node.rsplit(":", 1)[1]) < 65536:
            raise ValueError(f"{node!r} is not host:port")
    return nodes


def split_domains(text: str) -> list[str]:
    """The bypass domains of a comma-separated setting, lower-case, without a leading dot."""
    domains = [d.strip().lower() for d in text.split(",") if d.strip()]
    for domain in domains:
        if not DOMAIN.match(domain):
            raise ValueError(f"{domain!r} is not a domain name")
    return [domain.removeprefix(".") for domain in domains]


def render_pac(*, proxies: Sequence[str], bypass: Sequence[str]) -> str:
    """The PAC file: ``proxies`` in order with failover, ``bypass`` domains DIRECT."""
    chain = "; ".join(f"PROXY {node}" for node in proxies)
    return PAC_TEMPLATE % {"proxies": json.dumps(chain), "bypass": json.dumps(list(bypass))}
