"""Policy: identity, rule precedence, groups, spoofing, dry run, fail-closed, responses."""

from __future__ import annotations

import dataclasses
import ipaddress
import json
from pathlib import Path

import pytest
import yaml

from shadowlens.proxy.catalog import HostIndex, load_catalog
from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.policy import IdentityResolver, Policy, load_identities, load_policy
from shadowlens.proxy.policy.decide import Upload, decide, service_status
from shadowlens.proxy.policy.model import Identity
from shadowlens.proxy.policy.responses import block_answer, client_kind, coach_answer
from tests.conftest import RULES_DIR

FIXTURES = Path(__file__).parent / "fixtures" / "policy"
PROXY_NET = [ipaddress.ip_network("192.0.2.0/24")]


@pytest.fixture(scope="module")
def policy() -> Policy:
    return load_policy(FIXTURES / "scenario.yaml")


@pytest.fixture(scope="module")
def catalog() -> HostIndex:
    return load_catalog(RULES_DIR)


@pytest.fixture(scope="module")
def resolver() -> IdentityResolver:
    addresses, groups = load_identities(FIXTURES / "identities.yaml")
    return IdentityResolver(addresses=addresses, groups=groups, trusted_proxies=PROXY_NET)


def _who(resolver: IdentityResolver, ip: str) -> Identity:
    return resolver.resolve(peer_ip=ip, headers={})


SECRET = Upload([("secret", "critical")])
CODE = Upload([("code", "medium")])
NOTHING = Upload()


@pytest.mark.parametrize(
    ("ip", "service", "upload", "action", "rule"),
    [
        # alice, engineering
        ("10.1.0.5", "chatgpt", NOTHING, "monitor", "default"),
        ("10.1.0.5", "chatgpt", CODE, "monitor", "default"),  # sanctioned: code may go
        ("10.1.0.5", "chatgpt", SECRET, "redact", "redact-secrets"),
        ("10.1.0.5", "deepseek", NOTHING, "block", "block-unsanctioned"),
        ("10.1.0.5", "deepseek", CODE, "block", "block-code-to-unsanctioned"),
        ("10.1.0.5", "midjourney", NOTHING, "coach", "coach-image-generators"),
        ("10.1.0.5", "perplexity", NOTHING, "monitor", "default"),
        ("10.1.0.5", "perplexity", CODE, "block", "block-code-to-unsanctioned"),
        ("10.1.0.5", "perplexity", SECRET, "redact", "redact-secrets"),
        # bob, finance
        ("10.2.0.7", "chatgpt", NOTHING, "monitor", "default"),
        ("10.2.0.7", "chatgpt", SECRET, "redact", "redact-secrets"),
        ("10.2.0.7", "perplexity", NOTHING, "block", "finance-sanctioned-only"),
        ("10.2.0.7", "deepseek", NOTHING, "block", "block-unsanctioned"),
        ("10.2.0.7", "midjourney", NOTHING, "coach", "coach-image-generators"),
    ],
)
def test_scenario_for_engineering_and_finance(
    policy: Policy,
    catalog: HostIndex,
    resolver: IdentityResolver,
    ip: str,
    service: str,
    upload: Upload,
    action: str,
    rule: str,
) -> None:
    identity = _who(resolver, ip)
    decision = decide(policy, identity=identity, service=catalog.services[service], upload=upload)
    assert (decision.action, decision.rule_id) == (action, rule)
    assert decision.enforced


def test_identities_from_the_address_map(resolver: IdentityResolver) -> None:
    alice = _who(resolver, "10.1.0.5")
    assert (alice.user, alice.groups, alice.source) == ("alice", {"engineering"}, "ip_map")
    stranger = _who(resolver, "10.9.9.9")
    assert (stranger.user, stranger.groups, stranger.source) == ("anonymous", set(), "anonymous")
    assert stranger.client_ip == "10.9.9.9"


def test_proxyauth_wins_and_groups_come_from_the_map(resolver: IdentityResolver) -> None:
    carol = resolver.resolve(peer_ip="10.2.0.7", headers={}, proxyauth_user="carol")
    assert (carol.user, carol.source) == ("carol", "proxyauth")
    assert carol.groups == {"security", "finance"}  # her own groups and her network's


def test_an_untrusted_client_cannot_claim_a_user(resolver: IdentityResolver) -> None:
    spoofed = resolver.resolve(
        peer_ip="10.2.0.7",
        headers={"x-authenticated-user": "ceo", "x-forwarded-for": "10.1.0.5"},
    )
    assert (spoofed.user, spoofed.client_ip) == ("bob", "10.2.0.7")


def test_a_trusted_proxy_header_and_forwarded_chain_are_believed(
    resolver: IdentityResolver,
) -> None:
    via_proxy = resolver.resolve(
        peer_ip="192.0.2.10",
        headers={"x-authenticated-user": "dave", "x-forwarded-for": "10.2.0.7"},
    )
    assert (via_proxy.user, via_proxy.source, via_proxy.client_ip) == ("dave", "header", "10.2.0.7")
    assert via_proxy.groups == {"finance"}


@pytest.mark.parametrize(
    ("forwarded", "client"),
    [
        ("10.1.0.5", "10.1.0.5"),
        ("10.2.0.7, 192.0.2.20", "10.2.0.7"),  # a second trusted hop is walked through
        ("6.6.6.6, 10.1.0.5", "10.1.0.5"),  # the client's own claim (6.6.6.6) is not
        ("garbage, 10.1.0.5", "10.1.0.5"),
        ("10.1.0.5, garbage", "192.0.2.10"),  # a garbled last hop ends the chain
    ],
)
def test_forwarded_for_is_walked_right_to_left(
    resolver: IdentityResolver, forwarded: str, client: str
) -> None:
    assert resolver.client_ip("192.0.2.10", {"x-forwarded-for": forwarded}) == client


def test_exemptions_come_first(
    policy: Policy, catalog: HostIndex, resolver: IdentityResolver
) -> None:
    carol = resolver.resolve(peer_ip="10.9.9.9", headers={}, proxyauth_user="carol")
    decision = decide(policy, identity=carol, service=catalog.services["deepseek"], upload=CODE)
    assert (decision.action, decision.rule_id) == ("allow", "exemption:security-team")


def test_dry_run_decides_and_records_but_does_not_enforce(
    policy: Policy, catalog: HostIndex, resolver: IdentityResolver
) -> None:
    dry = dataclasses.replace(policy, dry_run=True)
    decision = decide(
        dry,
        identity=_who(resolver, "10.1.0.5"),
        service=catalog.services["deepseek"],
        upload=NOTHING,
    )
    assert (decision.action, decision.rule_id, decision.enforced) == (
        "block",
        "block-unsanctioned",
        False,
    )


def test_failed_inspection_fails_closed_for_data_rules(
    policy: Policy, catalog: HostIndex, resolver: IdentityResolver
) -> None:
    alice = _who(resolver, "10.1.0.5")
    failed = Upload(failure="scan_error")
    # perplexity (unknown): the code rule cannot be checked, and it blocks: fail closed
    decision = decide(policy, identity=alice, service=catalog.services["perplexity"], upload=failed)
    assert (decision.action, decision.rule_id) == ("block", "block-code-to-unsanctioned")
    assert "could not be inspected" in decision.reason


def test_on_inspection_error_allow_is_respected(tmp_path: Path, catalog: HostIndex) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        yaml.safe_dump(
            {
                "rules": [
                    {
                        "id": "note-pii",
                        "when": {"data": ["pii"]},
                        "action": "block",
                        "on_inspection_error": "allow",
                    }
                ]
            }
        )
    )
    anyone = Identity("x", frozenset(), "10.0.0.1", "anonymous")
    decision = decide(
        load_policy(path),
        identity=anyone,
        service=catalog.services["chatgpt"],
        upload=Upload(failure="scan_error"),
    )
    # The unchecked rule does not act, and it hides no later rule: the default applies.
    assert (decision.action, decision.rule_id) == ("monitor", "default")
    assert "note-pii could not check the upload (scan_error)" in decision.reason


def test_statuses_for_catalog_unknown_endpoints_and_categories(
    policy: Policy, catalog: HostIndex
) -> None:
    from shadowlens.proxy.catalog.model import unknown_endpoint

    assert service_status(policy, catalog.services["chatgpt"]) == "sanctioned"
    assert service_status(policy, catalog.services["midjourney"]) == "tolerated"
    assert service_status(policy, catalog.services["perplexity"]) == "unknown"
    assert (
        service_status(policy, unknown_endpoint("unknown-llm-endpoint", "x.test")) == "unsanctioned"
    )


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("rules: [{id: a, action: explode}]", "action: 'explode' is not one of"),
        ("rules: [{id: a, action: block}, {id: a, action: allow}]", "duplicate rule id"),
        ("rules: []\nstatus: {services: {chatgpt: loved}}", "status/services/chatgpt: 'loved'"),
        ("rules: [{id: a, action: block, when: {data: [gossip]}}]", "when/data/0: 'gossip'"),
        ("rules: [\n", "<file>"),
    ],
)
def test_bad_policy_files_name_entry_and_reason(tmp_path: Path, text: str, reason: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    with pytest.raises(RulesError) as error:
        load_policy(path)
    assert reason in str(error.value) and "policy.yaml" in error.value.file


def test_shipped_policy_and_identities_load() -> None:
    shipped = load_policy(RULES_DIR / "policy.yaml")
    assert shipped.default_action == "monitor" and not shipped.dry_run
    assert load_identities(RULES_DIR / "identities.yaml") == ([], {})


@pytest.mark.parametrize(
    ("path", "headers", "kind"),
    [
        ("/v1/messages", {"anthropic-version": "2023-06-01"}, "anthropic"),
        ("/v1beta/models/g:generateContent", {}, "gemini"),
        ("/v1/chat/completions", {"accept": "application/json"}, "openai"),
        ("/", {"accept": "text/html,application/xhtml+xml"}, "browser"),
        ("/events", {"accept": "text/event-stream"}, "sse"),
    ],
)
def test_client_kinds(path: str, headers: dict[str, str], kind: str) -> None:
    assert client_kind(path, headers) == kind


def test_block_answers_speak_each_sdks_error_format(policy: Policy) -> None:
    def answer(kind: str) -> dict:
        result = block_answer(
            kind=kind,
            service="DeepSeek",
            reason="not approved",
            rule_id="r",
            branding=policy.branding,
        )
        assert result.status == 403
        return dict(json.loads(result.body))

    assert answer("openai")["error"]["type"] == "permission_error"
    assert answer("anthropic") == {
        "type": "error",
        "error": {"type": "permission_error", "message": answer("anthropic")["error"]["message"]},
    }
    assert answer("gemini")["error"]["status"] == "PERMISSION_DENIED"
    page = block_answer(
        kind="browser", service="Deep<Seek>", reason="x", rule_id="r", branding=policy.branding
    )
    assert b"Deep&lt;Seek&gt;" in page.body and b"Example Corp" in page.body
    assert b"https://it.example.com/ai-access" in page.body


def test_coach_page_carries_form_token_and_escapes(policy: Policy) -> None:
    page = coach_answer(
        service="Midjourney",
        reason="image generators need a reason",
        rule_id="coach-image-generators",
        branding=policy.branding,
        return_to='https://x/"><script>',
        token="abc123",
    )
    assert page.status == 200
    assert b'name="token" value="abc123"' in page.body
    assert b"<script>" not in page.body


@pytest.mark.parametrize(
    ("account", "kind", "action"),
    [
        ("ws-corp-1234", "corporate", "monitor"),
        ("ws-personal-99", "personal", "block"),
        (None, "unknown", "monitor"),
    ],
)
def test_personal_and_corporate_accounts(
    policy: Policy,
    catalog: HostIndex,
    resolver: IdentityResolver,
    account: str | None,
    kind: str,
    action: str,
) -> None:
    decision = decide(
        policy,
        identity=_who(resolver, "10.1.0.5"),
        service=catalog.services["chatgpt"],
        upload=NOTHING,
        account=account,
    )
    assert (decision.account_kind, decision.action) == (kind, action)
