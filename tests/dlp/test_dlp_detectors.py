"""Every detector finds values in its format and ignores look-alikes, on both engines."""

from __future__ import annotations

import random

import pytest
from stdnum import verhoeff

from shadowlens.proxy.dlp import Scanner
from shadowlens.proxy.dlp.rules import RuleSet
from tests.dlp.samples import card_number, example, iban_number, luhn_complete


def _ids(scanner: Scanner, text: str) -> set[str]:
    return {f.detector for f in scanner.scan(text)}


def test_detector_counts(rules: RuleSet) -> None:
    secrets = [d for d in rules.detectors if d.category == "secret"]
    generic = {
        "generic-secret-assignment",
        "password-assignment",
        "authorization-bearer",
        "authorization-basic",
        "private-key",
        "private-key-header",
        "jwt",
        "url-credentials",
        "connection-string-password",
        "putty-private-key",
    }
    assert len([d for d in secrets if d.id not in generic]) >= 100
    assert "generic-secret-assignment" in {d.id for d in secrets}
    assert {d.category for d in rules.detectors} == {"secret", "pii", "code", "keyword"}
    assert rules.code_blocks and rules.code_blocks[0].min_lines == 20


def test_every_detector_finds_its_own_format(scanner: Scanner, rules: RuleSet) -> None:
    rng = random.Random(20261127)
    missing = []
    for det in rules.detectors:
        if det.id == "custom-keyword" or det.category == "code":
            continue
        for _ in range(3):
            value = example(det, rng)
            assert value is not None, det.id
            text = f"Please look at this:\n{value}\nthanks"
            start = text.index(value)
            hits = [f for f in scanner.scan(text) if f.category == det.category]
            inside = [f for f in hits if start <= f.start and f.end <= start + len(value)]
            if not any(f.detector == det.id for f in inside):
                missing.append((det.id, value, [f.detector for f in hits]))
    assert not missing, missing[:10]


SECRETS = {
    "aws-access-key-id": "AKIAZ4QK7TRN2WJHX5MP",
    "github-pat": "ghp_Zr4Kq8Wn2Tx6Vb9Lm3Pc7Hs1Jd5Fg0Ay2Qe4",
    "github-fine-grained-pat": "github_pat_11AQ7ZK3Y0mR8vT2xW4nL9_"
    + "pS6bQ1eY5tU3oI7aD2fG8hJ4kL0zX6cV9bN1mQ3wE5rT7yU2iO4pA8sD6fG",
    "gitlab-pat": "glpat-Zk3mQ8vR2xT7wN4pL9sB",
    "slack-bot-token": "xoxb-2817364950417-5928374615023-Zk3mQ8vR2xT7wN4pL9sBqW2e",
    "stripe-secret-key": "sk_live_51Hx4K2LmN8pQ3rS7tV9wX1yZ2aB4cD6eF8gH",
    "openai-api-key": "sk-proj-Zk3mQ8vR2xT7wN4pL9sBqW2eYt6Uo1Ia5Sd3Fg7Hj9Kl0Zx2Cv4Bn6Mq8Wr",
    "anthropic-api-key": "sk-ant-api03-" + "Zk3mQ8vR2xT7wN4pL9sB" * 4 + "qW2eYt6Uo1Ia5AA",
    "gcp-api-key": "AIzaSyD3kQ9mZ7vR2xT8wN4pL6sB1qW5eYt0Uo2",
    "sendgrid-api-key": "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",
    "npm-access-token": "npm_Zk3mQ8vR2xT7wN4pL9sBqW2eYt6Uo1Ia5Sd3",
    "huggingface-token": "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",
}


@pytest.mark.parametrize(("detector", "value"), sorted(SECRETS.items()))
def test_known_secret_formats(scanner: Scanner, detector: str, value: str) -> None:
    text = f'config = {{"key": "{value}"}}'
    found = [f for f in scanner.scan(text) if f.category == "secret"]
    assert [f.detector for f in found] == [detector]
    f = found[0]
    assert text[f.start : f.end] == value
    assert value not in f.preview and value not in repr(f)


PRIVATE_KEY = (
    "-----BEGIN RSA PRIVATE KEY-----\n"
    "MIIEowIBAAKCAQEA0Zk3mQ8vR2xT7wN4pL9sBqW2eYt6Uo1Ia5Sd3Fg7Hj9Kl0Zx\n"
    "2Cv4Bn6Mq8Wr1Et3Yu5Io7Pa9Sd2Fg4Hj6Kl8Zx0Cv2Bn4Mq6Wr8Et0Yu2Io4Pa6\n"
    "-----END RSA PRIVATE KEY-----"
)


def test_private_key_and_connection_strings(scanner: Scanner) -> None:
    text = (
        f"key:\n{PRIVATE_KEY}\n"
        "DATABASE_URL=postgres://app:S3cr3t-Pa55w0rd@db.internal:5432/app\n"
        "Server=sql1;Database=x;User Id=sa;Password=Tr0ub4dor&3x;\n"
    )
    found = {f.detector: text[f.start : f.end] for f in scanner.scan(text)}
    assert found["private-key"] == PRIVATE_KEY
    assert found["url-credentials"] == "S3cr3t-Pa55w0rd"
    assert found["connection-string-password"] == "Tr0ub4dor&3x"


def test_generic_assignment_needs_entropy(scanner: Scanner) -> None:
    hit = 'api_key = "q8Zk3mR2xT7wN4pL9sBvW2"'
    assert "generic-secret-assignment" in _ids(scanner, hit)
    for miss in (
        'api_key = "aaaaaaaaaaaaaaaaaaaa"',
        'token = "${GITHUB_TOKEN_VALUE}"',
        'secret: "your-secret-key-here-please"',
        "password = xxxxxxxxxxxxxxxxxxxx",
        'api_key = "EXAMPLEKEY1234567890abcd"',
        "token: <insert-your-token-here>",
        "the secret is that everyone_loves_cake",
    ):
        assert not {f for f in scanner.scan(miss) if f.category == "secret"}, miss


HARD_NEGATIVES = [
    "request id 3f2b8c4e-9d1a-4e7b-b6c2-5a8f0e1d2c3b finished",  # UUID
    "commit 9fceb02d0ae598e95dc970b74767f19372d61af8 fixed it",  # git SHA-1
    "sha256: e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
    '<img src="data:image/png;base64,iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk'
    'YPhfDwAChwGA60e6kgAAAABJRU5ErkJggg==">',
    "!function(e,t){var n=e.document,r=t.prototype;for(var i=0;i<n.length;i++){r[i]=n[i]}}"
    "(window,Array);var a=function(){return this.x*2+1}",
    "AWS_ACCESS_KEY_ID=AKIAXXXXXXXXXXXXXXXX and ${AWS_SECRET_ACCESS_KEY}",
    "export GITHUB_TOKEN=ghp_xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx",
    "Lorem ipsum dolor sit amet, consectetur adipiscing elit, sed do eiusmod tempor.",
    "version 1.2.3 released on 2024-05-01; see build 20240501.1",
    "sk-proj-YOUR_API_KEY_HERE and sk_live_xxxxxxxxxxxxxxxxxxxxxxxx",
]


@pytest.mark.parametrize("text", HARD_NEGATIVES)
def test_hard_negatives_are_not_secrets(scanner: Scanner, text: str) -> None:
    assert [f.detector for f in scanner.scan(text) if f.category == "secret"] == []


def test_credit_cards(scanner: Scanner) -> None:
    rng = random.Random(7)
    good = card_number(rng)
    spaced = " ".join(good[i : i + 4] for i in range(0, len(good), 4))
    bad_luhn = good[:-1] + str((int(good[-1]) + 1) % 10)
    bad_issuer = luhn_complete("999999999999999")
    text = f"a {good} b {spaced} c {bad_luhn} d {bad_issuer} e 4111-1111 1111-1111"
    cards = [
        text[f.start : f.end] for f in scanner.scan(text) if f.detector == "credit-card-number"
    ]
    assert cards == [good, spaced]


def test_numbers_inside_hex_ids_are_not_personal_data(scanner: Scanner) -> None:
    card = card_number(random.Random(11))
    digits = "23456789012"
    aadhaar = f"{digits[:4]}-{digits[4:8]}-{digits[8:]}{verhoeff.calc_check_digit(digits)}"
    text = (
        f'{{"id": "6f{card}ea7a", "card": "{card}", "ref": "card_{card}", '
        f'"uuid": "0e2f6a9b-{aadhaar}-4f1c2d3e5a6b", "aadhaar": "{aadhaar}"}}'
    )
    found = [text[f.start : f.end] for f in scanner.scan(text) if f.category == "pii"]
    assert found == [card, card, aadhaar]


def test_iban_ssn_email_phone(scanner: Scanner) -> None:
    rng = random.Random(3)
    iban = iban_number(rng)
    broken = iban[:2] + f"{(int(iban[2:4]) + 1) % 100:02d}" + iban[4:]
    text = (
        f"IBAN {iban} not {broken}. SSN 536-22-8137, not 000-12-3456 or 666-12-3456 or "
        "901-23-4567. Mail jane.roe@example.org. Call +44 20 7946 0958 or (415) 555-2671."
        " Not a phone: 12345."
    )
    found = {(f.detector, text[f.start : f.end]) for f in scanner.scan(text)}
    assert ("iban", iban) in found
    assert not any(v == broken for _, v in found)
    assert ("us-ssn", "536-22-8137") in found
    assert not any(d == "us-ssn" and v != "536-22-8137" for d, v in found)
    assert ("email-address", "jane.roe@example.org") in found
    assert ("phone-number", "+44 20 7946 0958") in found
    assert ("phone-number", "(415) 555-2671") in found
    assert not any(v == "12345" for _, v in found)


def test_national_ids(scanner: Scanner) -> None:
    text = (
        "DNI 12345678Z, NIE X1234567L, CF RSSMRA85T10A562S, PAN ABCPE1234F, "
        "CPF 390.533.447-05, SIN 130 692 544, NINO AB123456C, hetu 131052-308T"
    )
    ids = _ids(scanner, text)
    assert {
        "es-dni",
        "es-nie",
        "it-codice-fiscale",
        "br-cpf",
        "ca-sin",
        "uk-national-insurance-number",
        "fi-hetu",
    } <= ids
    assert "es-dni" not in _ids(scanner, "DNI 12345678A")  # wrong check letter


def test_keywords_and_markers(scanner: Scanner) -> None:
    text = "STRICTLY CONFIDENTIAL - for internal use only. Project Bluebird ships in May."
    found = {f.detector: text[f.start : f.end] for f in scanner.scan(text)}
    assert found["confidential-marker"] == "STRICTLY CONFIDENTIAL"
    assert found["confidential-phrase"] == "for internal use only"
    assert found["custom-keyword"] == "Project Bluebird"
    assert "custom-keyword" not in _ids(scanner, "Project Bluebirds are birds")


PYTHON_BLOCK = "\n".join(
    [
        "import os",
        "from pathlib import Path",
        "",
        "class Loader:",
        '    """Load things."""',
        "    def __init__(self, root: Path) -> None:",
        "        self.root = root",
        "        self.cache = {}",
        "",
        "    def load(self, name):",
        "        if name in self.cache:",
        "            return self.cache[name]",
        "        path = self.root / name",
        "        with open(path) as fh:",
        "            data = fh.read()",
        "        self.cache[name] = data",
        "        return data",
        "",
        "    def clear(self):",
        "        self.cache.clear()",
        "        for key in list(self.cache):",
        "            del self.cache[key]",
        "        return None",
        "",
        "def main():",
        "    loader = Loader(Path(os.getcwd()))",
        "    print(loader.load('x'))",
    ]
)


def test_code_block_of_twenty_lines(scanner: Scanner) -> None:
    text = "Can you review this?\n\n" + PYTHON_BLOCK + "\n\nThanks a lot for looking."
    blocks = [f for f in scanner.scan(text) if f.detector == "source-code-block"]
    assert len(blocks) == 1
    assert text[blocks[0].start : blocks[0].end] == PYTHON_BLOCK
    assert blocks[0].category == "code"
    assert "code-python" in _ids(scanner, text)


def test_short_code_and_prose_are_not_blocks(scanner: Scanner) -> None:
    short = "\n".join(PYTHON_BLOCK.splitlines()[:12])
    prose = "\n".join(f"Line {i} of a long letter about the weather in May." for i in range(40))
    assert "source-code-block" not in _ids(scanner, short)
    assert "source-code-block" not in _ids(scanner, prose)


@pytest.mark.parametrize(
    ("detector", "snippet"),
    [
        ("code-c-family", "#include <stdio.h>\nint main(void) { return 0; }"),
        ("code-java-csharp", "public class Foo {\n  public static void main(String[] a) {}\n}"),
        ("code-javascript", "import React from 'react';\nconst f = (a) => a + 1;"),
        ("code-go", "package main\n\nfunc main() {\n}\n"),
        ("code-rust", "pub fn add(a: i32, b: i32) -> i32 {\n    a + b\n}"),
        ("code-sql", "SELECT id, name FROM users WHERE id = 1"),
        ("code-shell", "#!/usr/bin/env bash\nset -e"),
        ("code-php", "<?php echo 1; ?>"),
    ],
)
def test_code_snippets(scanner: Scanner, detector: str, snippet: str) -> None:
    assert detector in _ids(scanner, snippet)
