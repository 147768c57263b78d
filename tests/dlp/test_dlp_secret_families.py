"""Secret families of issue 11 on the labelled corpus, and the filters that keep look-alikes out."""

from __future__ import annotations

import base64
import json
import random
import sys
from collections import Counter
from pathlib import Path

import pytest
from dlp_support import KEY, RULES_DIR

from shadowlens.proxy.dlp import HYPERSCAN_AVAILABLE, Scanner, load_scanner
from shadowlens.proxy.dlp.validators import jwt, k8s_secret_values, not_placeholder, pem_key_body

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
import secret_families


@pytest.fixture(scope="module")
def fast_scanner() -> Scanner:
    engine = "hyperscan" if HYPERSCAN_AVAILABLE else "python"
    return load_scanner(RULES_DIR, fingerprint_key=KEY, engine=engine)


def _secrets(scanner: Scanner, text: str) -> list[tuple[str, str]]:
    return [
        (f.detector, text[f.start : f.end]) for f in scanner.scan(text) if f.category == "secret"
    ]


def test_corpus_recall_and_false_positive_rate(fast_scanner: Scanner) -> None:
    found: Counter[str] = Counter()
    positives: Counter[str] = Counter()
    flagged = negatives = 0
    for sample in secret_families.corpus():
        hits = [f for f in fast_scanner.scan(sample.text) if f.category == "secret"]
        if sample.positive:
            positives[sample.family] += 1
            found[sample.family] += any(f.start < sample.end and sample.start < f.end for f in hits)
        else:
            negatives += 1
            flagged += bool(hits)
    assert sum(found.values()) / sum(positives.values()) >= 0.85
    assert flagged / negatives <= 0.10
    weak = {f: found[f] / n for f, n in positives.items() if found[f] / n < 0.75}
    assert not weak, weak


def test_corpus_is_deterministic_and_labelled() -> None:
    first, second = secret_families.corpus(seed=5), secret_families.corpus(seed=5)
    assert first == second
    families = {s.family for s in first}
    assert len(families) >= 20
    for sample in first:
        if sample.positive:
            assert 0 <= sample.start < sample.end <= len(sample.text)
    assert all(any(not s.positive for s in first if s.family == f) for f in families)


@pytest.mark.parametrize(
    "value",
    [
        "xoxb-1234567890-1234567890-abcdefghijklmnopqrstuvwx",
        "sk_live_abcd1234abcd1234abcd1234",
        "ab12ab12ab12ab12ab12",
        "<base64-encoded-password>",
        "${{ secrets.TOKEN }}",
        "zyxwvutsrq9f8e7d6c5b",
    ],
)
def test_placeholders_and_sequences_are_refused(value: str) -> None:
    assert not not_placeholder(value)


@pytest.mark.parametrize(
    "value", ["Zk3mQ8vR2xT7wN4pL9sB", "AKIAZ4QK7TRN2WJHX5MP", "4e23a87314ce745a0cac4304ff5f81ea"]
)
def test_random_tokens_are_not_placeholders(value: str) -> None:
    assert not_placeholder(value)


def _b64url(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def test_jwt_with_unusual_headers(fast_scanner: Scanner) -> None:
    payload = _b64url(b'{"sub":"7f1c","exp":1900000000}')
    signature = _b64url(random.Random(1).randbytes(32))
    for header in (b'{\n  "alg": "ES256"\n}', b'{ "alg": "PS256" }', b'{"kid":"k1","alg":"RS256"}'):
        token = f"{_b64url(header)}.{payload}.{signature}"
        assert _secrets(fast_scanner, f"token: {token}") == [("jwt", token)]
    jwe = ".".join(
        [_b64url(b'{"alg":"dir","enc":"A256GCM"}'), "", "a" * 16, "Zk3mQ8vR2xT7wN4p", "x" * 22]
    )
    assert jwt(jwe)


def test_jwt_without_signature_or_alg_is_not_a_token() -> None:
    payload = _b64url(b'{"sub":"7f1c"}')
    assert not jwt(f"{_b64url(b'{"alg":"HS256"}')}.{payload}.")
    assert jwt(f"{_b64url(b'{"alg":"none"}')}.{payload}.")
    assert not jwt(f"{_b64url(b'{"typ":"JWT"}')}.{payload}.{'s' * 20}")


def test_multiline_pem_and_service_account(fast_scanner: Scanner) -> None:
    body = base64.b64encode(random.Random(2).randbytes(300)).decode()
    pem = "-----BEGIN PRIVATE KEY-----\n" + body + "\n-----END PRIVATE KEY-----\n"
    account = json.dumps(
        {
            "client_email": "a@p.iam.gserviceaccount.com",
            "private_key": pem,
            "type": "service_account",
        },
        indent=2,
    )
    found = _secrets(fast_scanner, "my key file:\n" + account)
    assert [d for d, _ in found] == ["gcp-service-account-key"]
    assert found[0][1] == json.dumps(pem)[1:-1]
    assert pem_key_body(pem)
    assert not pem_key_body("-----BEGIN PRIVATE KEY-----\n...\n-----END PRIVATE KEY-----")


def test_kubernetes_secret_values_are_decoded() -> None:
    real = base64.b64encode(b"S3cr3t-Pa55w0rd!").decode()
    assert k8s_secret_values(f"  password: {real}\n")
    assert not k8s_secret_values(f"  password: {base64.b64encode(b'changeme').decode()}\n")
    assert not k8s_secret_values("  password: <base64-encoded-password>\n")
    assert k8s_secret_values('  api-key: "q8Vr2xT7wN4pL9sB"\n')  # stringData: a plain value


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        ("curl -u deploy:Q8v#R2xT7w!N https://x.test/api", "Q8v#R2xT7w!N"),
        ("curl -s --user 'ci:Zk3mQ8vR2xT7' https://x.test", "Zk3mQ8vR2xT7"),
        (
            "curl -H 'X-Api-Key: Zk3mQ8vR2xT7wN4pL9sBqW2e' https://x.test",
            "Zk3mQ8vR2xT7wN4pL9sBqW2e",
        ),
        ("curl -H 'Authorization: token 4e23a87314ce745a0cac4304ff5f81ea6574d615' x", None),
    ],
)
def test_curl_credentials(fast_scanner: Scanner, text: str, secret: str | None) -> None:
    found = _secrets(fast_scanner, text)
    assert len(found) == 1
    if secret:
        assert found[0][1] == secret


@pytest.mark.parametrize(
    "text",
    [
        "curl -u $API_USER:$API_TOKEN https://x.test",
        'curl -u "${USER}:${PASS}" https://x.test',
        "curl -H 'Authorization: Bearer <token>' https://x.test",
        "curl -u user:password https://x.test",
        'password = "${var.db_password}"',
        '<add key="ClearTextPassword" value="%NUGET_PASSWORD%" />',
        "HEROKU_APP_ID=5c08d8a5-763d-47e0-99c1-91a730061892",
        "the meeting is 12:30:45, ratio 16:9",
    ],
)
def test_look_alikes_are_not_secrets(fast_scanner: Scanner, text: str) -> None:
    assert _secrets(fast_scanner, text) == []
