"""Engine behaviour: both engines agree, offsets are exact, values never leave the scanner."""

from __future__ import annotations

import hashlib
import hmac
import random
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from dlp_support import KEY, KEYWORDS, RULES_DIR

from shadowlens.proxy.dlp import HYPERSCAN_AVAILABLE, Finding, Scanner, load_scanner, redact_text
from shadowlens.proxy.dlp.model import mask_preview
from shadowlens.proxy.dlp.rules import RuleSet
from shadowlens.proxy.inspection import finding_records
from shadowlens.proxy.settings import PROJECT_ROOT
from tests.dlp.samples import example

AWS = "AKIAZ4QK7TRN2WJHX5MP"

# In a fresh interpreter: which lazily loaded validator tables are there before and after a
# scanner is built (phone: a tried region and one sharing +1 with the US; the CN region table).
WARM_CHECK = """
import phonenumbers
from stdnum import numdb
from shadowlens.proxy.dlp import load_scanner

def loaded():
    regions = phonenumbers.PhoneMetadata._region_metadata
    return sorted({"BR", "DE", "AG"} & set(regions)), "cn/loc" in numdb._open_databases

print(loaded())
load_scanner(RULES, fingerprint_key=b"k", engine="python")
print(loaded())
"""


def _mixed_corpus(rules: RuleSet, seed: int, n: int = 300) -> list[str]:
    rng = random.Random(seed)
    words = "the quick brown fox jumps over a lazy dog while we deploy version 2.4.1 to"
    words_list = words.split(" ")
    dets = [d for d in rules.detectors if d.category != "code"]
    chunks = []
    for _ in range(n):
        parts = []
        for _ in range(rng.randint(5, 40)):
            if rng.random() < 0.15:
                det = rng.choice(dets)
                value = example(det, rng)
                parts.append(value or "")
            else:
                parts.append(" ".join(rng.choice(words_list) for _ in range(rng.randint(1, 12))))
            parts.append(rng.choice([" ", "\n", ", ", ': "', '"\n']))
        chunks.append("".join(parts))
    return chunks


@pytest.mark.skipif(not HYPERSCAN_AVAILABLE, reason="hyperscan wheel not installed")
def test_engines_agree_on_mixed_text(rules: RuleSet) -> None:
    py = load_scanner(RULES_DIR, fingerprint_key=KEY, engine="python", keywords=KEYWORDS)
    hs = load_scanner(RULES_DIR, fingerprint_key=KEY, engine="hyperscan", keywords=KEYWORDS)
    assert (py.engine_name, hs.engine_name) == ("python", "hyperscan")
    total = 0
    for text in _mixed_corpus(rules, seed=11):
        a, b = py.scan(text), hs.scan(text)
        assert a == b, text
        total += len(a)
    assert total > 100


def test_offsets_in_non_ascii_text(scanner: Scanner) -> None:
    text = "Grüße aus Köln ✓ — 鍵は " + AWS + " です, mail jörg@example.de? nein: jorg@example.de"
    found = {f.detector: text[f.start : f.end] for f in scanner.scan(text)}
    assert found["aws-access-key-id"] == AWS
    assert found["email-address"] == "jorg@example.de"


def test_invalid_utf8_text_is_scanned(scanner: Scanner) -> None:
    raw = b"\xff\xfe bad bytes \xc3( then " + AWS.encode() + b" end"
    text = raw.decode("utf-8", "surrogateescape")
    [f] = [f for f in scanner.scan(text) if f.category == "secret"]
    assert text[f.start : f.end] == AWS
    assert redact_text(text, [f]).encode("utf-8", "surrogateescape").startswith(b"\xff\xfe bad")


def test_finding_carries_no_raw_value(scanner: Scanner) -> None:
    text = f"key {AWS} card 4111 1111 1111 1111"
    for f in scanner.scan(text):
        value = text[f.start : f.end]
        assert value not in repr(f) and value not in str(f.to_dict())
        assert value not in f.preview
        expected = hmac.new(KEY, value.encode(), hashlib.sha256).hexdigest()[:32]
        assert f.fingerprint == expected


def test_fingerprint_is_keyed_and_stable() -> None:
    a = load_scanner(RULES_DIR, fingerprint_key=b"one", engine="python")
    b = load_scanner(RULES_DIR, fingerprint_key=b"two", engine="python")
    fa1 = a.scan(f"x {AWS} y")[0]
    fa2 = a.scan(f"other text, same key: {AWS}")[0]
    fb = b.scan(f"x {AWS} y")[0]
    assert fa1.fingerprint == fa2.fingerprint != fb.fingerprint
    with pytest.raises(ValueError, match="fingerprint_key"):
        load_scanner(RULES_DIR, fingerprint_key=b"", engine="python")


def test_mask_preview() -> None:
    assert mask_preview("AKIAIOSFODNN7EXAMPLE") == "AKIA************MPLE"
    assert mask_preview("123456") == "******"
    assert mask_preview("secret-pw1") == "s********1"
    long = mask_preview("x" * 500)
    assert len(long) == 32 and long.count("*") == 24


def test_unknown_engine_rejected() -> None:
    with pytest.raises(ValueError, match="engine"):
        load_scanner(RULES_DIR, fingerprint_key=KEY, engine="re2")


def test_redact_text_masks_spans_only(scanner: Scanner) -> None:
    text = f"before {AWS} middle 536-22-8137 after"
    out = redact_text(text, scanner.scan(text))
    assert out == "before [REDACTED:aws-access-key-id] middle [REDACTED:us-ssn] after"
    assert redact_text(text, []) == text


def test_overlapping_findings_merge_in_redaction() -> None:
    f1 = Finding("a", "secret", "high", 2, 8, "", "")
    f2 = Finding("b", "code", "low", 0, 5, "", "")
    f3 = Finding("limit", "limit", "low", 0, 0, "", "")
    assert redact_text("0123456789", [f1, f2, f3]) == "[REDACTED:b]89"


def test_scanner_is_thread_safe(scanner: Scanner, rules: RuleSet) -> None:
    corpus = _mixed_corpus(rules, seed=5, n=40)
    expected = [scanner.scan(t) for t in corpus]
    errors: list[str] = []

    def work() -> None:
        for text, want in zip(corpus, expected, strict=True):
            if scanner.scan(text) != want:
                errors.append(text)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert not errors


def test_empty_and_huge_inputs(scanner: Scanner) -> None:
    assert scanner.scan("") == []
    big = ("lorem ipsum " * 50_000) + AWS
    assert [f.detector for f in scanner.scan(big)] == ["aws-access-key-id"]


def test_rules_dir_is_path_or_str() -> None:
    s = load_scanner(Path(str(RULES_DIR)), fingerprint_key=KEY, engine="python")
    assert len(s.detectors) > 150


def test_no_raw_value_in_logs_or_reports(
    scanner: Scanner, caplog: pytest.LogCaptureFixture
) -> None:
    import json as _json
    import logging

    from shadowlens.proxy.dlp import DlpLimits, inspect_body

    caplog.set_level(logging.DEBUG)
    body = _json.dumps({"messages": [{"content": f"{AWS} 4111 1111 1111 1111"}]}).encode()
    report = inspect_body(
        body,
        content_type="application/json",
        content_encoding=None,
        scanner=scanner,
        limits=DlpLimits(),
    )
    assert len(report.findings) == 2
    dumped = repr(report) + caplog.text
    assert AWS not in dumped and "4111 1111 1111 1111" not in dumped


@pytest.mark.skipif(not HYPERSCAN_AVAILABLE, reason="hyperscan wheel not installed")
def test_engines_agree_on_floods_and_numeric_text() -> None:
    py = load_scanner(RULES_DIR, fingerprint_key=KEY, engine="python")
    hs = load_scanner(RULES_DIR, fingerprint_key=KEY, engine="hyperscan")
    texts = [
        "1" * 20_000 + f" {AWS} " + "2" * 100,  # flood: falls back to the Python path
        "12 " * 5_000 + " call +44 20 7946 0958 ",
        "\n".join(f"2024-05-{d:02d},{d * 7919},{d}.5,(415) 555-2671" for d in range(1, 29)),
        "é" * 1000 + f" {AWS} " + "ü 4111 1111 1111 1111",  # non-ASCII: byte to char offsets
    ]
    for text in texts:
        assert py.scan(text) == hs.scan(text)
    assert any(f.detector == "aws-access-key-id" for f in hs.scan(texts[0]))


def test_building_a_scanner_loads_the_validators_tables() -> None:
    source = f"RULES = {str(RULES_DIR)!r}\n" + WARM_CHECK
    result = subprocess.run(
        [sys.executable, "-c", source], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True
    )
    before, after = result.stdout.splitlines()
    assert before == "([], False)"
    assert after == "(['AG', 'BR', 'DE'], True)"


def test_finding_records_group_by_value(scanner: Scanner) -> None:
    text = f"{AWS} again {AWS} and AKIAQ7ZK3Y2MR6VT4XWN card 4111 1111 1111 1111"
    found = [replace(f, location=f"/m/{i % 2}") for i, f in enumerate(scanner.scan(text))]
    records = finding_records(found)
    assert sorted((r.detector, r.count) for r in records) == [
        ("aws-access-key-id", 1),
        ("aws-access-key-id", 2),
        ("credit-card-number", 1),
    ]
    assert records[0].severity == "critical" and records[-1].detector == "credit-card-number"
    assert [r.location for r in records if r.count == 2] == ["/m/0,/m/1"]
    assert all(AWS not in repr(r) for r in records)
