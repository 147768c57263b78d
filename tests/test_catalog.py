"""The service catalog: loading, validation and the compiled host index."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from shadowlens.proxy.catalog import (
    Fact,
    HostIndex,
    Match,
    Service,
    is_public_suffix,
    load_catalog,
    normalize_host,
)
from shadowlens.proxy.catalog.classify import classify_request
from shadowlens.proxy.catalog.loader import load_shared_hosts
from shadowlens.proxy.catalog.risk import risk_of
from shadowlens.proxy.errors import RulesError
from tests.conftest import RULES_DIR

REQUIRED_IDS = {
    "chatgpt", "openai-api", "claude", "anthropic-api", "gemini", "gemini-api",
    "microsoft-copilot", "github-copilot", "perplexity", "mistral", "deepseek", "xai-grok",
    "meta-ai", "poe", "character-ai", "huggingface", "cohere", "groq", "together-ai",
    "replicate", "openrouter", "cursor", "windsurf", "tabnine", "midjourney", "stability-ai",
    "elevenlabs", "runway", "jasper", "otter",
}  # fmt: skip


@pytest.fixture(scope="module")
def catalog() -> HostIndex:
    return load_catalog(RULES_DIR)


def _write_rules(tmp_path: Path, services: object, shared: object = None) -> Path:
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "test.yaml").write_text(yaml.safe_dump({"services": services}))
    if shared is not None:
        (tmp_path / "shared_hosts.yaml").write_text(yaml.safe_dump({"shared_hosts": shared}))
    return tmp_path


def _entry(**overrides: object) -> dict[str, object]:
    entry: dict[str, object] = {"id": "x-ai", "name": "X", "vendor": "X Inc"}
    entry |= {"category": "llm_api", "domains": ["x-ai.example"]}
    entry.update(overrides)
    return entry


def test_shipped_catalog_has_the_best_known_services(catalog: HostIndex) -> None:
    assert catalog.services.keys() >= REQUIRED_IDS


def test_every_listed_domain_classifies_to_its_own_service(catalog: HostIndex) -> None:
    for service in catalog.services.values():
        for domain in service.domains:
            match = catalog.lookup(domain)
            assert match is not None and match.service.id == service.id, domain
            sub = catalog.lookup(f"deep.sub.{domain}")
            assert sub is not None and sub.matched.endswith(domain)


def test_shared_infrastructure_never_classifies(catalog: HostIndex) -> None:
    shared = load_shared_hosts(RULES_DIR)
    assert len(shared) >= 50
    for domain in shared:
        assert catalog.lookup(domain) is None, domain


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("chatgpt.com", "chatgpt"),
        ("CHATGPT.COM.", "chatgpt"),
        ("chatgpt.com:443", "chatgpt"),
        ("ab.chatgpt.com", "chatgpt"),
        ("chat.openai.com", "chatgpt"),
        ("api.openai.com", "openai-api"),
        ("api.anthropic.com", "anthropic-api"),
        ("claude.ai", "claude"),
        ("notchatgpt.com", None),
        ("chatgpt.com.evil.example", None),
        ("example.com", None),
        ("", None),
        ("[::1]:8080", None),
    ],
)
def test_lookup(catalog: HostIndex, host: str, expected: str | None) -> None:
    match = catalog.lookup(host)
    assert (match.service.id if match else None) == expected


def test_longest_suffix_wins() -> None:
    broad = Service("broad", "Broad", "V", "llm_api", ("example.ai",))
    narrow = Service("narrow", "Narrow", "V", "llm_api", ("api.example.ai",))
    index = HostIndex([broad, narrow])
    assert index.lookup("x.api.example.ai").service.id == "narrow"  # type: ignore[union-attr]
    assert index.lookup("www.example.ai").service.id == "broad"  # type: ignore[union-attr]


def test_normalize_host() -> None:
    assert normalize_host(" Api.OpenAI.com.:443 ") == "api.openai.com"
    assert normalize_host("[2001:db8::1]:443") == "2001:db8::1"


VALID_HOSTS = ["api.openai.com", "localhost", "10.0.0.7", "2001:db8::1", "xn--bcher-kva.example",
               "bücher.example", "my_host.corp.example", "a" * 63 + ".example"]  # fmt: skip
INVALID_HOSTS = ["api.openai.com\x00.evil.test", "a b.example", "-bad.example", "bad-.example",
                 "a..b", "", "a" * 64 + ".example", "evil.test/x", "x\r\nset-cookie: a",
                 "api.openai.com%00.evil.test", "*.example", ("a." * 127) + "example"]  # fmt: skip


@pytest.mark.parametrize("host", VALID_HOSTS)
def test_valid_hosts_key_unknown_endpoints(host: str) -> None:
    from shadowlens.proxy.catalog.hostnames import checked_host, is_valid_host

    assert is_valid_host(host) and checked_host(host.upper() + ".") == host.lower()


@pytest.mark.parametrize("host", INVALID_HOSTS)
def test_invalid_hosts_never_name_a_register_entry(host: str) -> None:
    from shadowlens.proxy.catalog.hostnames import INVALID_HOST, is_valid_host
    from shadowlens.proxy.catalog.model import unknown_endpoint

    assert not is_valid_host(normalize_host(host))
    assert unknown_endpoint("mcp-server", host).id == f"mcp-server:{INVALID_HOST}"


def test_a_nul_in_the_host_cannot_pose_as_openai_in_the_register() -> None:
    from shadowlens.proxy.catalog.classify import classify_headers

    match = classify_headers(load_catalog(RULES_DIR), host="api.openai.com\x00.evil.test",
                             headers={"user-agent": "OpenAI/Python 1.54.0"})  # fmt: skip
    assert match is not None and match.service.id == "unknown-llm-endpoint:host.invalid"


def test_public_suffixes_come_from_the_bundled_list() -> None:
    assert is_public_suffix("co.uk") and is_public_suffix("vercel.app")
    assert not is_public_suffix("chatgpt.com")


@pytest.mark.parametrize(
    ("entry", "label", "reason"),
    [
        (_entry(category="toaster"), "x-ai", "category: 'toaster' is not one of"),
        (_entry(domains=["https://x.example/"]), "x-ai", "domains/0: 'https://x.example/' does"),
        (_entry(domains=[]), "x-ai", "domains: [] should be non-empty"),
        (_entry(id="Bad Id"), "Bad Id", "id: 'Bad Id' does not match"),
        (_entry(domains=["vercel.app"]), "x-ai", "vercel.app is a public suffix"),
        (_entry(colour="red"), "x-ai", "('colour' was unexpected)"),
        ({"id": "x-ai", "name": "X"}, "x-ai", "is a required property"),
        ("just a string", "entry 0", "'just a string' is not of type 'object'"),
        (
            _entry(signatures=[{"hosts": ["a.example"], "evidence": "path", "path": "^/(x"}]),
            "x-ai",
            "bad regex '^/(x'",
        ),
        (
            _entry(signatures=[{"hosts": ["a.example"], "evidence": "path", "path": "/x"}]),
            "x-ai",
            "signatures/0/path: '/x' does not match",
        ),
    ],
)
def test_malformed_entry_names_file_entry_and_reason(
    tmp_path: Path, entry: object, label: str, reason: str
) -> None:
    rules = _write_rules(tmp_path, [entry])
    with pytest.raises(RulesError) as error:
        load_catalog(rules)
    assert error.value.file.endswith("test.yaml")
    assert error.value.entry == label
    assert reason in error.value.reason


def test_duplicate_ids_and_domains_are_rejected(tmp_path: Path) -> None:
    rules = _write_rules(tmp_path, [_entry(), _entry(domains=["other.example"])])
    with pytest.raises(RulesError, match=r"x-ai: duplicate id"):
        load_catalog(rules)


def test_overlapping_domains_are_rejected(tmp_path: Path) -> None:
    rules = _write_rules(tmp_path, [_entry(), _entry(id="y-ai")])
    with pytest.raises(RulesError, match=r"x-ai\.example is also in x-ai"):
        load_catalog(rules)


def test_a_shared_host_cannot_be_a_service(tmp_path: Path) -> None:
    rules = _write_rules(
        tmp_path, [_entry(domains=["stripe.com"])], [{"domain": "stripe.com", "kind": "payments"}]
    )
    with pytest.raises(RulesError, match=r"stripe\.com is shared infrastructure"):
        load_catalog(rules)


def test_yaml_syntax_error_names_the_file(tmp_path: Path) -> None:
    (tmp_path / "services").mkdir()
    (tmp_path / "services" / "broken.yaml").write_text("services: [\n")
    with pytest.raises(RulesError, match=r"broken.yaml: <file>"):
        load_catalog(tmp_path)


def test_empty_rules_dir_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(RulesError, match="no services"):
        load_catalog(tmp_path)


FIXTURES = Path(__file__).parent / "fixtures"
EMBEDDED = yaml.safe_load((FIXTURES / "embedded_ai_examples.yaml").read_text())["examples"]
USER_AGENTS = yaml.safe_load((FIXTURES / "client_user_agents.yaml").read_text())


def test_every_embedded_feature_has_examples(catalog: HostIndex) -> None:
    embedded = {s.id for s in catalog.services.values() if s.category == "embedded_ai"}
    assert len(embedded) >= 25
    assert embedded == {e["service"] for e in EMBEDDED}


@pytest.mark.parametrize("example", EMBEDDED, ids=lambda e: e["service"])
def test_embedded_ai_positive_and_negative(catalog: HostIndex, example: dict) -> None:
    def classify(request: dict) -> Match | None:
        return classify_request(
            catalog, request["url"], method=request["method"], headers=request.get("headers")
        )

    hit = classify(example["positive"])
    assert hit is not None and hit.service.id == example["service"]
    assert hit.evidence in ("path", "header")
    miss = classify(example["negative"])
    assert miss is None or miss.service.id != example["service"]


@pytest.mark.parametrize(("client_id", "user_agent"), sorted(USER_AGENTS["clients"].items()))
def test_client_user_agents(catalog: HostIndex, client_id: str, user_agent: str) -> None:
    client = catalog.clients.match(user_agent)
    assert client is not None and client.id == client_id


@pytest.mark.parametrize("user_agent", USER_AGENTS["none"])
def test_browsers_and_tools_are_no_ai_client(catalog: HostIndex, user_agent: str) -> None:
    assert catalog.clients.match(user_agent) is None


def test_sdk_user_agent_marks_an_unknown_host_but_an_ide_does_not(catalog: HostIndex) -> None:
    sdk = classify_request(
        catalog, "https://llm.corp.test/v1/models", headers={"User-Agent": "OpenAI/Python 1.99.0"}
    )
    assert sdk is not None and (sdk.service.id, sdk.evidence) == (
        "unknown-llm-endpoint:llm.corp.test",
        "user_agent",
    )
    ide = USER_AGENTS["clients"]["cursor"]
    assert (
        classify_request(catalog, "https://registry.npmjs.org/x", headers={"User-Agent": ide})
        is None
    )
    on_shared = classify_request(
        catalog, "https://api.github.com/repos", headers={"User-Agent": "OpenAI/Python 1.0"}
    )
    assert on_shared is None


def test_host_patterns_match_regional_endpoints(catalog: HostIndex) -> None:
    patterned = [s for s in catalog.services.values() if s.host_patterns]
    assert patterned
    for service in patterned:
        for pattern in service.host_patterns:
            host = pattern.replace("*", "eu-west-9")
            match = catalog.lookup(host)
            assert match is not None and match.service.id == service.id, host


def test_account_headers_are_recorded(catalog: HostIndex) -> None:
    match = classify_request(
        catalog,
        "https://api.openai.com/v1/chat/completions",
        method="POST",
        headers={"OpenAI-Organization": "org-corp"},
    )
    assert match is not None and match.account == "org-corp"


def test_facts_have_sources_read_dates_and_feed_the_risk_score(catalog: HostIndex) -> None:
    with_facts = [s for s in catalog.services.values() if s.facts]
    assert len(with_facts) >= 40
    for service in with_facts:
        for fact in service.facts.values():
            assert fact.source.startswith("https://") and fact.read == "2026-11-30"
        risk = risk_of(service)
        if risk.assessed:
            assert risk.score == max(0, min(100, sum(f.points for f in risk.factors)))


def _facts(**values: object) -> dict[str, Fact]:
    return {
        name: Fact(value, "https://v.example/trust", "2026-11-30") for name, value in values.items()
    }


def test_a_service_without_facts_is_unassessed_not_scored() -> None:
    bare = Service("bare", "Bare", "V", "llm_api", ("bare.example",))
    only_country = Service("c", "C", "V", "llm_api", ("c.example",), facts=_facts(hq_country="US"))
    for service in (bare, only_country):
        risk = risk_of(service)
        assert risk.score is None and not risk.assessed
        assert [f.name for f in risk.factors] == ["unassessed"]
        assert "trains_on_inputs_by_default" in risk.unknown


def test_risk_moves_only_with_sourced_facts() -> None:
    vetted = _facts(
        trains_on_inputs_by_default=False,
        enterprise_no_training=True,
        retention_days=0,
        certifications=["soc2", "iso42001"],
        sso=True,
        dpa=True,
        data_residency=["US", "EU"],
    )
    careless = _facts(
        trains_on_inputs_by_default=True,
        enterprise_no_training=False,
        retention_days=365,
        certifications=[],
        dpa=False,
    )
    low = risk_of(Service("v", "V", "V", "llm_api", ("v.example",), facts=vetted))
    high = risk_of(Service("h", "H", "V", "llm_api", ("h.example",), facts=careless))
    assert low.score == 0  # 50 - 15 - 5 - 10 - 15 - 5 - 5 - 5, clamped
    assert high.score == 100  # 50 + 25 + 15 + 10 + 5 + 15, clamped
    one_fact = risk_of(Service("o", "O", "V", "llm_api", ("o.example",), facts=_facts(sso=True)))
    assert one_fact.score == 45 and "training" not in {f.name for f in one_fact.factors}
    assert "trains_on_inputs_by_default" in one_fact.unknown


def test_shipped_scores_discriminate(catalog: HostIndex) -> None:
    scores = [r.score for s in catalog.services.values() if (r := risk_of(s)).score is not None]
    assert len(scores) >= 40
    assert max(scores) - min(scores) >= 40  # not a flat band of unknown-penalties


@pytest.mark.parametrize(
    ("fact", "reason"),
    [
        ({"value": True, "source": "https://v.example/"}, "'read' is a required property"),
        ({"value": True, "source": "https://v.example/", "read": "2026-02-31"}, "is not a date"),
        ({"value": True, "source": "http://v.example/", "read": "2026-11-30"}, "does not match"),
        ({"value": "yes", "source": "https://v.example/", "read": "2026-11-30"}, "is not of type"),
    ],
)
def test_loader_rejects_facts_without_a_source_date_or_type(
    tmp_path: Path, fact: dict[str, object], reason: str
) -> None:
    rules = _write_rules(tmp_path, [_entry(facts={"sso": fact})])
    with pytest.raises(RulesError, match=reason):
        load_catalog(rules)
