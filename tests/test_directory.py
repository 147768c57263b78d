"""Users' groups from a real OpenLDAP server on loopback."""

from __future__ import annotations

import re
from typing import Any

import pytest
from pydantic import ValidationError

from shadowlens.proxy import metrics
from shadowlens.proxy.policy.directory import (
    RETRY_SECONDS,
    GroupDirectory,
    LdapServer,
    _entries,
    _group_name,
)
from shadowlens.proxy.settings import Settings
from tests import ldapserver


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _directory(server: ldapserver.LdapServer, clock: Clock | None = None) -> GroupDirectory:
    where = LdapServer(
        host="127.0.0.1",
        port=server.port,
        use_ssl=False,
        bind_dn=ldapserver.ADMIN_DN,
        password=ldapserver.ADMIN_PASSWORD,
        user_base=ldapserver.PEOPLE,
        user_key="uid",
        group_base=ldapserver.GROUPS,
        group_filter=Settings().ldap_group_filter,
    )
    return GroupDirectory(where, ttl=300, clock=clock or Clock())


def test_groups_by_member_dn_and_by_member_uid(ldap_server: ldapserver.LdapServer) -> None:
    directory = _directory(ldap_server)
    assert directory.lookup("alice") == {"engineering", "ai-approved"}
    assert directory.lookup("bob") == frozenset()
    assert directory.lookup("nobody") == frozenset()
    directory.close()


def test_filter_characters_in_a_user_name_match_nothing(ldap_server: ldapserver.LdapServer) -> None:
    directory = _directory(ldap_server)
    assert directory.lookup("al*") == frozenset()
    assert directory.lookup("*)(uid=alice") == frozenset()
    directory.close()


def test_answers_are_cached_for_the_ttl(ldap_server: ldapserver.LdapServer) -> None:
    clock = Clock()
    directory = _directory(ldap_server, clock)
    assert directory.cached("alice") is None
    groups = directory.lookup("alice")
    clock.now += 299
    assert directory.cached("alice") == groups
    clock.now += 1
    assert directory.cached("alice") is None
    directory.close()


def test_directory_down_keeps_the_last_answer_and_recovers(
    ldap_server: ldapserver.LdapServer,
) -> None:
    clock = Clock()
    directory = _directory(ldap_server, clock)
    assert directory.lookup("alice") == {"engineering", "ai-approved"}
    ldap_server.stop()
    errors = metrics.DIRECTORY_ERRORS._value.get()
    assert directory.lookup("alice") == {"engineering", "ai-approved"}
    assert directory.lookup("bob") == frozenset()  # not asked again at once
    assert metrics.DIRECTORY_ERRORS._value.get() == errors + 1
    ldap_server.start()
    clock.now += RETRY_SECONDS
    assert directory.lookup("bob") == frozenset()
    assert directory.lookup("alice") == {"engineering", "ai-approved"}
    assert metrics.DIRECTORY_ERRORS._value.get() == errors + 1
    directory.close()


def test_a_group_without_cn_is_named_by_its_dn() -> None:
    assert _group_name({"dn": "ou=ops,ou=groups,dc=x", "attributes": {}}) == "ops"
    assert _group_name({"dn": "cn=x,dc=x", "attributes": {"cn": ["eng"]}}) == "eng"


def test_referrals_in_a_search_response_are_not_entries() -> None:
    response: list[dict[str, Any]] = [
        {"type": "searchResRef", "uri": ["ldap://elsewhere.example/dc=x"]},
        {"type": "searchResEntry", "dn": "cn=eng,ou=groups,dc=x", "attributes": {"cn": ["eng"]}},
    ]
    assert [e["dn"] for e in _entries(response)] == ["cn=eng,ou=groups,dc=x"]
    assert _entries(None) == []


def test_a_group_filter_with_an_unknown_placeholder_is_refused() -> None:
    with pytest.raises(ValidationError, match=re.escape("only {dn} and {user}")):
        Settings(ldap_group_filter="(member={who})")
