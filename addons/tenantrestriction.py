"""TenantRestriction: the policy's tenant-restriction headers on every request to its hosts."""

from __future__ import annotations

from mitmproxy import http

from shadowlens.addons.flowstate import state_of
from shadowlens.proxy import metrics
from shadowlens.proxy.catalog.index import suffixes
from shadowlens.proxy.runtime import PolicyRef


class TenantRestriction:
    """Sets the headers, replacing whatever the client sent, so only the corporate tenant works.

    It runs first among the request hooks, so no other addon's failure can skip it.
    """

    def __init__(self, policy: PolicyRef) -> None:
        self.policy = policy

    def requestheaders(self, flow: http.HTTPFlow) -> None:
        restrictions = self.policy.tenant_hosts
        if not restrictions:
            return
        host = flow.request.pretty_host.lower()
        for suffix in suffixes(host):
            for restriction in restrictions.get(suffix, ()):
                for name, value in restriction.headers:
                    flow.request.headers[name] = value
                state_of(flow).tenant_restricted = True
                metrics.TENANT_RESTRICTIONS.labels(restriction=restriction.id).inc()
