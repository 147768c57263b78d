"""docs/policy.md's decision table, row by row, with every kind of inspection failure."""

from __future__ import annotations

import dataclasses
import gzip
import json

import pytest

from shadowlens.proxy.catalog import Match, load_catalog
from shadowlens.proxy.dlp import BodyReport, DlpLimits, Finding, inspect_body, load_scanner
from shadowlens.proxy.dlp.pseudonym import Pseudonyms
from shadowlens.proxy.dlp.urlpath import scan_path
from shadowlens.proxy.policy.coaching import CoachGrants, holder
from shadowlens.proxy.policy.decide import INSPECTION_FAILURES
from shadowlens.proxy.policy.enforce import Inspected, RequestView, Verdict, enforce, upload_of
from shadowlens.proxy.policy.model import Conditions, Exemption, Identity, Policy, Rule
from tests.conftest import RULES_DIR

CATALOG = load_catalog(RULES_DIR)
SCANNER = load_scanner(RULES_DIR / "dlp", fingerprint_key=b"test-key", engine="auto")
AWS = "AKIAZ7Q2XK4M7TR3WB6P"
ALICE = Identity("alice", frozenset({"engineering"}), "10.1.0.5", "ip_map")
DEEPSEEK = Match(CATALOG.services["deepseek"], "host", "chat.deepseek.com")
UNSANCTIONED = {"deepseek": "unsanctioned"}
BLOCK_UNSANCTIONED = Rule(
    "block-unsanctioned", "block", Conditions(statuses=frozenset({"unsanctioned"}))
)


def _data_rule(action: str, on_error: str) -> Rule:
    return Rule(f"{action}-pii", action, Conditions(data=frozenset({"pii"})), on_error)


def _json(text: str) -> bytes:
    return json.dumps({"messages": [{"role": "user", "content": text}]}).encode()


def _view(body: bytes | None, *, accept: str = "application/json", **headers: str) -> RequestView:
    return RequestView(
        method="POST",
        url="https://chat.deepseek.com/api/chat",
        host="chat.deepseek.com",
        path="/api/chat",
        headers={"content-type": "application/json", "accept": accept, **headers},
        body=body,
    )


def _report(body: bytes, **headers: str) -> BodyReport:
    return inspect_body(
        body,
        content_type="application/json",
        content_encoding=headers.get("content-encoding"),
        scanner=SCANNER,
        limits=DlpLimits(max_body_bytes=4096, max_decoded_bytes=65536, max_depth=1),
    )


def _nested(depth: int) -> bytes:
    import base64

    inner = _json(f"card 4111 1111 1111 1111 key {AWS}")
    for _ in range(depth):
        inner = _json(base64.b64encode(inner).decode())
    return inner


def _failed(kind: str) -> tuple[RequestView, Inspected]:
    """A request whose upload fails inspection in the way ``kind`` names, made for real."""
    if kind == "too_large":
        return _view(None), Inspected()
    if kind == "scan_error":
        return _view(_json("hello")), Inspected(None)
    body, headers = {
        "unknown_encoding": (_json("x"), {"content-encoding": "x-foo"}),
        "bomb": (gzip.compress(b"[" + b"0," * 200_000 + b"0]"), {"content-encoding": "gzip"}),
        "too_deep": (_nested(4), {}),
        "incomplete": (_json("y"), {}),
    }[kind]
    report = _report(body, **headers)
    if kind == "incomplete":  # a report cut short by something that has no failure of its own
        report = dataclasses.replace(report, complete=False)
    return _view(body, **headers), Inspected(report)


def _verdict(
    policy: Policy, request: RequestView, inspected: Inspected, **kwargs: object
) -> Verdict:
    grants = kwargs.pop("grants", CoachGrants(b"k"))
    assert isinstance(grants, CoachGrants)
    return enforce(
        policy,
        request=request,
        identity=ALICE,
        match=DEEPSEEK,
        inspected=inspected,
        grants=grants,
        pseudonyms=Pseudonyms(b"k", ttl=60),
        register=UNSANCTIONED,
    )


# not_decrypted has no request to enforce on: tests/test_tlsdiscovery_addon.py covers it.
REQUEST_FAILURES = [k for k in INSPECTION_FAILURES if k != "not_decrypted"]


@pytest.mark.parametrize("kind", REQUEST_FAILURES)
def test_every_failure_kind_is_recognised(kind: str) -> None:
    request, inspected = _failed(kind)
    assert upload_of(request, inspected).failure == kind


def test_row_1_exemptions_come_first() -> None:
    policy = Policy(
        rules=(BLOCK_UNSANCTIONED,),
        exemptions=(Exemption("eng", groups=frozenset({"engineering"})),),
    )
    verdict = _verdict(policy, _view(_json("hi")), Inspected(_report(_json("hi"))))
    assert (verdict.decision.action, verdict.decision.rule_id, verdict.answer) == (
        "allow",
        "exemption:eng",
        None,
    )


def test_row_2_a_rule_without_data_conditions_acts() -> None:
    verdict = _verdict(
        Policy(rules=(BLOCK_UNSANCTIONED,)), _view(_json("hi")), Inspected(_report(_json("hi")))
    )
    assert verdict.decision.rule_id == "block-unsanctioned"
    assert verdict.answer is not None and verdict.answer.status == 403


def test_rows_3_and_4_data_rules_act_only_on_their_data() -> None:
    policy = Policy(rules=(_data_rule("coach", "allow"),))
    card = _json("card 4111 1111 1111 1111")
    hit = _verdict(policy, _view(card), Inspected(_report(card)))
    miss = _verdict(policy, _view(_json("hi")), Inspected(_report(_json("hi"))))
    assert (hit.decision.action, hit.decision.rule_id) == ("coach", "coach-pii")
    assert (miss.decision.action, miss.decision.rule_id) == ("monitor", "default")


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("kind", REQUEST_FAILURES)
def test_row_5_an_unchecked_rule_that_fails_closed_blocks(kind: str, dry_run: bool) -> None:
    request, inspected = _failed(kind)
    policy = Policy(rules=(_data_rule("redact", "block"),), dry_run=dry_run)
    verdict = _verdict(policy, request, inspected)
    assert (verdict.decision.action, verdict.decision.rule_id) == ("block", "redact-pii")
    assert kind in verdict.decision.reason
    assert verdict.decision.enforced is not dry_run
    assert (verdict.answer is None) is dry_run


@pytest.mark.parametrize("dry_run", [False, True])
@pytest.mark.parametrize("kind", REQUEST_FAILURES)
def test_row_6_an_unchecked_rule_never_hides_a_later_block(kind: str, dry_run: bool) -> None:
    request, inspected = _failed(kind)
    policy = Policy(rules=(_data_rule("coach", "allow"), BLOCK_UNSANCTIONED), dry_run=dry_run)
    verdict = _verdict(policy, request, inspected)
    assert (verdict.decision.action, verdict.decision.rule_id) == ("block", "block-unsanctioned")
    assert verdict.decision.enforced is not dry_run
    assert (verdict.answer is None) is dry_run


@pytest.mark.parametrize("kind", REQUEST_FAILURES)
def test_row_7_the_default_names_the_rule_it_could_not_check(kind: str) -> None:
    request, inspected = _failed(kind)
    verdict = _verdict(Policy(rules=(_data_rule("coach", "allow"),)), request, inspected)
    assert (verdict.decision.action, verdict.decision.rule_id) == ("monitor", "default")
    assert f"coach-pii could not check the upload ({kind})" in verdict.decision.reason


REDACT_ALL = Rule("redact-everything", "redact", Conditions(services=frozenset({"deepseek"})))


@pytest.mark.parametrize("kind", REQUEST_FAILURES)
def test_row_8_what_cannot_be_masked_is_blocked(kind: str) -> None:
    request, inspected = _failed(kind)
    verdict = _verdict(Policy(rules=(REDACT_ALL,)), request, inspected)
    assert (verdict.decision.action, verdict.decision.rule_id) == ("block", "redact-everything")
    assert verdict.decision.reason.startswith("unredactable")
    assert verdict.answer is not None and verdict.body is None


def test_row_8_a_maskable_body_and_query_are_rewritten() -> None:
    body = _json(f"key {AWS}")
    request = dataclasses.replace(_view(body), query=(("token", AWS), ("q", "hello")))
    query = {0: inspect_body(AWS.encode(), content_type="text/plain", content_encoding=None,
                             scanner=SCANNER, limits=DlpLimits())}  # fmt: skip
    verdict = _verdict(Policy(rules=(REDACT_ALL,)), request, Inspected(_report(body), query))
    assert verdict.answer is None and verdict.body is not None and verdict.query is not None
    assert AWS.encode() not in verdict.body
    assert verdict.query[0][1] != AWS and verdict.query[1] == ("q", "hello")


@pytest.mark.parametrize(
    ("sent", "action"), [(f"/api/{AWS}/chat", "redact"), (f"/api/%41{AWS[1:]}/chat", "block")]
)
def test_row_8_a_secret_in_the_path_is_masked_or_blocked(sent: str, action: str) -> None:
    scan = scan_path(sent, scanner=SCANNER, limits=DlpLimits())
    assert scan is not None and scan.decoded == (action == "block")
    request = dataclasses.replace(_view(b""), path=sent)
    verdict = _verdict(Policy(rules=(REDACT_ALL,)), request, Inspected(path=scan))
    assert verdict.decision.action == action and verdict.findings == (("secret", "critical"),)
    if action == "redact":
        assert (
            verdict.answer is None
            and verdict.path == "/api/%5BREDACTED%3Aaws-access-key-id%5D/chat"
        )
    else:
        assert verdict.answer is not None and verdict.path is None


COACH = Rule("coach-deepseek", "coach", Conditions(services=frozenset({"deepseek"})))


def test_row_9_a_running_grant_lets_the_user_continue() -> None:
    grants = CoachGrants(b"k")
    grants.allow(holder(ALICE.user, ALICE.client_ip), "deepseek", 5)
    verdict = _verdict(Policy(rules=(COACH,)), _view(b""), Inspected(), grants=grants)
    assert (verdict.decision.action, verdict.decision.rule_id) == (
        "allow",
        "coach-deepseek:justified",
    )


def test_row_10_coaching_a_program_points_it_to_the_page() -> None:
    api = _verdict(Policy(rules=(COACH,)), _view(b""), Inspected())
    page = _verdict(Policy(rules=(COACH,)), _view(b"", accept="text/html"), Inspected())
    assert api.answer is not None and b"https://chat.deepseek.com/" in api.answer.body
    assert page.answer is not None and b"justification" in page.answer.body


@pytest.mark.parametrize("rule", [BLOCK_UNSANCTIONED, COACH, REDACT_ALL])
def test_row_11_dry_run_holds_on_every_path(rule: Rule) -> None:
    body = _json(f"key {AWS}")
    verdict = _verdict(Policy(rules=(rule,), dry_run=True), _view(body), Inspected(_report(body)))
    assert verdict.decision.enforced is False
    assert (verdict.answer, verdict.body, verdict.query) == (None, None, None)


def test_limit_findings_alone_are_not_data() -> None:
    report = BodyReport(findings=[Finding("dlp-body-too-large", "limit", "medium", 0, 0, "", "")])
    assert upload_of(_view(b"x"), Inspected(report)).findings == (("limit", "medium"),)
