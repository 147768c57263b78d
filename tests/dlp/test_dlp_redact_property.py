"""Property: redaction removes every detected value and changes nothing outside the spans."""

from __future__ import annotations

import json
import random

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from shadowlens.proxy.dlp import DlpLimits, Scanner, inspect_body, redact_body, redact_text
from shadowlens.proxy.dlp.redact import mask_label, merged_spans
from shadowlens.proxy.dlp.rules import RuleSet
from tests.dlp.samples import example

_FILLER = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=["Cs"]), max_size=40)


def _plant(rules: RuleSet, seed: int, fillers: list[str]) -> tuple[str, list[str]]:
    rng = random.Random(seed)
    dets = [d for d in rules.detectors if d.category in ("secret", "pii")]
    parts: list[str] = []
    planted: list[str] = []
    for filler in fillers:
        parts.append(filler)
        value = example(rng.choice(dets), rng)
        if value:
            planted.append(value)
            parts.append(f" {value} ")
    return "".join(parts), planted


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(seed=st.integers(0, 10**6), fillers=st.lists(_FILLER, min_size=1, max_size=6))
def test_redact_text_property(
    scanner: Scanner, rules: RuleSet, seed: int, fillers: list[str]
) -> None:
    text, _ = _plant(rules, seed, fillers)
    findings = scanner.scan(text)
    out = redact_text(text, findings)
    spans = merged_spans(findings, len(text))
    # 1. no detected value survives
    for f in findings:
        value = text[f.start : f.end]
        if len(value) >= 8:
            assert value not in out
    # 2. everything outside the spans is identical, in order
    pos = 0
    rebuilt = []
    for start, end, label in spans:
        rebuilt.append(text[pos:start])
        rebuilt.append(mask_label(label))
        pos = end
    rebuilt.append(text[pos:])
    assert out == "".join(rebuilt)
    # 3. scanning the redacted text finds no secret or PII that was found before
    before = {f.fingerprint for f in findings if f.category in ("secret", "pii")}
    after = {f.fingerprint for f in scanner.scan(out) if f.category in ("secret", "pii")}
    assert not (before & after)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    seed=st.integers(0, 10**6),
    fillers=st.lists(_FILLER, min_size=1, max_size=4),
    keys=st.lists(
        st.text(min_size=1, max_size=8).filter(lambda k: k not in {"messages", "n", "flag"}),
        min_size=1,
        max_size=4,
        unique=True,
    ),
)
def test_redact_json_body_property(
    scanner: Scanner, rules: RuleSet, seed: int, fillers: list[str], keys: list[str]
) -> None:
    text, _ = _plant(rules, seed, fillers)
    doc = {"messages": [{"role": "user", "content": text}], "n": 1.5, "flag": None}
    for k in keys:
        doc[k] = [text, {"x": k}]
    body = json.dumps(doc, ensure_ascii=bool(seed % 2), indent=seed % 3 or None).encode()
    report = inspect_body(
        body,
        content_type="application/json",
        content_encoding=None,
        scanner=scanner,
        limits=DlpLimits(),
    )
    new, headers = redact_body(
        body, content_type="application/json", content_encoding=None, report=report
    )
    out = json.loads(new)
    assert out.keys() == json.loads(body).keys()  # same structure, still valid JSON
    assert out["n"] == 1.5 and out["flag"] is None
    expected = redact_text(text, scanner.scan(text))
    assert out["messages"][0]["content"] == expected
    for k in keys:
        assert out[k] == [expected, {"x": k}]
    if not report.findings:
        assert new == body and headers == {}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    body=st.binary(max_size=400),
    ctype=st.sampled_from(
        [
            None,
            "application/json",
            "text/plain; charset=utf-8",
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=b",
            "image/png",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ]
    ),
    encoding=st.sampled_from([None, "gzip", "deflate", "br", "zstd", "gzip, br", "weird"]),
)
def test_inspect_and_redact_never_crash(
    scanner: Scanner, body: bytes, ctype: str | None, encoding: str | None
) -> None:
    from shadowlens.proxy.dlp.body import RedactionError

    report = inspect_body(
        body, content_type=ctype, content_encoding=encoding, scanner=scanner, limits=DlpLimits()
    )
    assert "internal-error" not in report.flags
    try:
        new, _ = redact_body(body, content_type=ctype, content_encoding=encoding, report=report)
    except RedactionError:
        assert report.truncated or any(f.location.endswith(".docx") for f in report.findings)
    else:
        if not report.redactable:
            assert new == body
