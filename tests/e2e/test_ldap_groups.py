"""Groups from LDAP: curl authenticates to the real proxy against a real slapd, and the
policy acts on the user's directory groups."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import RunningProxy, routed_args, start_shadowlens, stop_shadowlens
from tests.e2e.upstream import Upstream
from tests.ldapserver import GROUPS, LdapServer

pytestmark = pytest.mark.e2e

POLICY = """\
default_action: monitor
status:
  services: {deepseek: unsanctioned}
rules:
  - id: block-unsanctioned
    when: {status: [unsanctioned]}
    action: block
exemptions:
  - id: approved-for-ai
    groups: [ai-approved]
"""


@pytest.fixture
def authenticating(
    tmp_path: Path, upstream: Upstream, ldap_server: LdapServer
) -> Iterator[RunningProxy]:
    (tmp_path / "policy.yaml").write_text(POLICY)
    env = {
        "SHADOWLENS_POLICY_FILE": str(tmp_path / "policy.yaml"),
        "SHADOWLENS_LDAP_GROUP_BASE": GROUPS,
    }
    args = [*routed_args(upstream), "--set", f"proxyauth={ldap_server.proxyauth_spec()}"]
    running = start_shadowlens(tmp_path / "data", args, env)
    try:
        yield running
    finally:
        assert stop_shadowlens(running) == 0, "".join(running.output)


def _curl_as(proxy: RunningProxy, credentials: str) -> str:
    """The proxy's answer to CONNECT, then the answer to the request."""
    result = subprocess.run(
        ["curl", "-s", "-o", "/dev/null", "-w", "%{http_connect} %{http_code}",
         "-x", proxy.proxy_url,
         "--proxy-user", credentials, "--cacert", str(proxy.ca_file),
         "https://chat.deepseek.com/"],
        capture_output=True, text=True, timeout=30, check=False,
    )  # fmt: skip
    return result.stdout


def test_directory_groups_decide_and_are_recorded(authenticating: RunningProxy) -> None:
    assert _curl_as(authenticating, "alice:alice-pw") == "200 200"  # ai-approved: exempt
    assert _curl_as(authenticating, "bob:bob-pw") == "200 403"  # no groups: blocked
    assert _curl_as(authenticating, "alice:wrong") == "407 000"  # the directory said no
    detections = authenticating.wait_for_detections(2, service="deepseek")
    by_user = {d["user"]: d for d in detections}
    assert set(by_user) == {"alice", "bob"}
    assert by_user["alice"]["rule_id"] == "exemption:approved-for-ai"
    assert set(by_user["alice"]["groups"]) == {"ai-approved", "engineering"}
    assert (by_user["bob"]["action"], by_user["bob"]["groups"]) == ("block", [])
