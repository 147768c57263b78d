"""LdapGroups: users' groups from the LDAP directory that proxy authentication uses."""

from __future__ import annotations

import asyncio
import logging

from mitmproxy import ctx, http
from mitmproxy.addons.proxyauth import Ldap

from shadowlens.addons.flowstate import KEY, FlowState
from shadowlens.proxy.policy.directory import GroupDirectory, LdapServer

log = logging.getLogger(__name__)


class LdapGroups:
    """Looks up the groups of each proxy-authenticated user of an AI service, off the loop.

    Loaded only when a group base is configured, so other proxies pay nothing per flow; it
    acts when mitmproxy's ``proxyauth`` is an LDAP spec, whose server, bind DN and user search
    it reuses. Runs before Enforcement, which adds the groups to the user's identity.
    """

    def __init__(self, *, group_base: str, group_filter: str, ttl: float) -> None:
        self.group_base = group_base
        self.group_filter = group_filter
        self.ttl = ttl
        self.directory: GroupDirectory | None = None

    def configure(self, updated: set[str]) -> None:
        if "proxyauth" not in updated:
            return
        self.done()
        spec = ctx.options.proxyauth or ""
        if not spec.startswith("ldap"):
            log.warning("SHADOWLENS_LDAP_GROUP_BASE is set, but proxyauth does not use LDAP")
            return
        use_ssl, host, port, bind_dn, password, user_base, user_key = Ldap.parse_spec(spec)
        server = LdapServer(
            host=host, port=port, use_ssl=use_ssl, bind_dn=bind_dn, password=password,
            user_base=user_base, user_key=user_key, group_base=self.group_base,
            group_filter=self.group_filter,
        )  # fmt: skip
        self.directory = GroupDirectory(server, ttl=self.ttl)

    async def requestheaders(self, flow: http.HTTPFlow) -> None:
        await self._look_up(flow)

    async def request(self, flow: http.HTTPFlow) -> None:
        await self._look_up(flow)  # for endpoints recognised only by their body

    async def _look_up(self, flow: http.HTTPFlow) -> None:
        directory, credentials = self.directory, flow.metadata.get("proxyauth")
        state: FlowState | None = flow.metadata.get(KEY)
        if directory is None or not credentials or state is None or state.match is None:
            return
        if state.directory_groups is not None:
            return
        user = str(credentials[0])
        groups = directory.cached(user)
        if groups is None:
            groups = await asyncio.to_thread(directory.lookup, user)
        state.directory_groups = groups

    def done(self) -> None:
        if self.directory is not None:
            self.directory.close()
            self.directory = None
