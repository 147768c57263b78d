"""The LdapGroups addon, driven through mitmproxy's test harness against a real slapd."""

from __future__ import annotations

import asyncio

import pytest
from mitmproxy import exceptions, http
from mitmproxy.test import taddons, tflow

from shadowlens.addons.flowstate import state_of
from shadowlens.addons.ldapgroups import LdapGroups
from shadowlens.addons.stageclock import StageClock
from shadowlens.proxy.settings import Settings
from tests.ldapserver import GROUPS, LdapServer


def _addon() -> LdapGroups:
    return LdapGroups(group_base=GROUPS, group_filter=Settings().ldap_group_filter, ttl=300)


def _with_proxyauth_option(tctx: taddons.context) -> None:
    """Declare mitmproxy's ``proxyauth`` as its ProxyAuth addon does, without its validation."""
    tctx.options.add_option("proxyauth", str | None, None, "proxy authentication")


def _flow(user: str | None, *, ai: bool = True) -> http.HTTPFlow:
    flow = tflow.tflow()
    if user is not None:
        flow.metadata["proxyauth"] = (user, "password")
    if ai:
        state_of(flow).match = object()  # type: ignore[assignment]  # any service will do
    return flow


def test_groups_are_looked_up_for_authenticated_users_of_ai_services(
    ldap_server: LdapServer,
) -> None:
    groups = _addon()
    flows = {"alice": _flow("alice"), "bob": _flow("bob"), "not-ai": _flow("alice", ai=False),
             "anonymous": _flow(None)}  # fmt: skip

    async def scenario() -> None:
        with taddons.context(groups) as tctx:
            _with_proxyauth_option(tctx)
            tctx.configure(groups, proxyauth=ldap_server.proxyauth_spec())
            for flow in flows.values():
                await groups.requestheaders(flow)
            groups.done()

    asyncio.run(scenario())
    assert state_of(flows["alice"]).directory_groups == {"engineering", "ai-approved"}
    assert state_of(flows["bob"]).directory_groups == frozenset()
    assert state_of(flows["not-ai"]).directory_groups is None
    assert state_of(flows["anonymous"]).directory_groups is None


@pytest.mark.parametrize("proxyauth", ["@/etc/htpasswd", "any", None])
def test_off_unless_proxyauth_is_ldap(proxyauth: str | None) -> None:
    groups = _addon()
    with taddons.context(groups) as tctx:
        _with_proxyauth_option(tctx)
        tctx.configure(groups, proxyauth=proxyauth)
        assert groups.directory is None


def test_loaded_only_when_a_group_base_is_set() -> None:
    from shadowlens.addons.launcher import _ldap_groups

    assert _ldap_groups(Settings(ldap_group_base="")) == []
    [loaded, clock] = _ldap_groups(Settings(ldap_group_base=GROUPS))
    assert isinstance(loaded, LdapGroups) and loaded.group_base == GROUPS
    assert isinstance(clock, StageClock) and clock.stage == "directory"


def test_a_bad_ldap_spec_is_an_options_error() -> None:
    groups = _addon()
    with taddons.context(groups) as tctx:
        _with_proxyauth_option(tctx)
        with pytest.raises(exceptions.OptionsError):
            tctx.configure(groups, proxyauth="ldap:only-a-host")
