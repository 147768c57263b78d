"""OIDC bearer tokens checked offline against a JWKS file: signature, expiry, iss, aud, role."""

from __future__ import annotations

import base64
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from fastapi.testclient import TestClient

from shadowlens.api.app import create_app
from shadowlens.proxy.auth.oidc import OidcConfigError, OidcVerifier, verifier_from_settings
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import Settings

ISSUER = "https://idp.example.com/"
AUDIENCE = "shadowlens"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _number(value: int) -> str:
    return _b64(value.to_bytes((value.bit_length() + 7) // 8, "big"))


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture
def jwks(tmp_path: Path, key: rsa.RSAPrivateKey) -> Path:
    numbers = key.public_key().public_numbers()
    document = {"keys": [{"kty": "RSA", "kid": "k1", "use": "sig", "alg": "RS256",
                          "n": _number(numbers.n), "e": _number(numbers.e)}]}  # fmt: skip
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(document))
    return path


def token(key: rsa.RSAPrivateKey, header: dict[str, Any] | None = None, **claims: Any) -> str:
    body = {"iss": ISSUER, "aud": AUDIENCE, "exp": time.time() + 300, "sub": "u1",
            "email": "ana@example.com", "shadowlens_role": "analyst"} | claims  # fmt: skip
    head = header or {"alg": "RS256", "kid": "k1", "typ": "JWT"}
    signed = f"{_b64(json.dumps(head).encode())}.{_b64(json.dumps(body).encode())}"
    signature = key.sign(signed.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signed}.{_b64(signature)}"


@pytest.fixture
def client(core: Core, jwks: Path) -> Iterator[TestClient]:
    verifier = OidcVerifier.from_file(
        jwks, issuer=ISSUER, audience=AUDIENCE, role_claim="shadowlens_role"
    )
    app = create_app(sessions=core.sessions, tokens=frozenset({"t"}), oidc=verifier)
    with TestClient(app) as test_client:
        yield test_client


def _status(client: TestClient, path: str, bearer: str) -> int:
    return client.get(path, headers={"Authorization": f"Bearer {bearer}"}).status_code


def test_a_valid_token_carries_its_role(client: TestClient, key: rsa.RSAPrivateKey) -> None:
    assert _status(client, "/api/v1/detections", token(key)) == 200
    viewer = token(key, shadowlens_role="viewer")
    assert _status(client, "/api/v1/services", viewer) == 200
    assert _status(client, "/api/v1/detections", viewer) == 403
    several = token(key, shadowlens_role=["viewer", "admin", "other"])
    assert _status(client, "/api/v1/audit", several) == 200


def test_bad_tokens_are_refused(client: TestClient, key: rsa.RSAPrivateKey) -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    refused = {
        "expired": token(key, exp=time.time() - 3600),
        "not yet valid": token(key, nbf=time.time() + 3600),
        "wrong issuer": token(key, iss="https://evil.example/"),
        "wrong audience": token(key, aud="other-app"),
        "no role": token(key, shadowlens_role="root"),
        "signed by another key": token(other),
        "unknown kid": token(key, {"alg": "RS256", "kid": "k9"}),
        "alg none": token(key, {"alg": "none", "kid": "k1"}).rsplit(".", 1)[0] + ".",
        "garbage": "a.b.c",
        "nested 100,000 deep": f"{_b64(b'[' * 100_000)}.{_b64(b'{}')}.sig",
    }
    for reason, bearer in refused.items():
        assert _status(client, "/api/v1/services", bearer) == 401, reason


def test_an_audience_list_and_the_actor_in_the_audit_log(
    client: TestClient, core: Core, key: rsa.RSAPrivateKey
) -> None:
    from tests.factories import detection_event

    core.record([detection_event(0)])
    admin = token(key, aud=["other", AUDIENCE], shadowlens_role="admin")
    headers = {"Authorization": f"Bearer {admin}"}
    patched = client.patch("/api/v1/services/chatgpt", json={"owner": "x"}, headers=headers)
    assert patched.json()["updated_by"] == "oidc:ana@example.com"


def test_settings_build_the_verifier_or_say_what_is_wrong(tmp_path: Path, jwks: Path) -> None:
    assert verifier_from_settings(Settings(data_dir=tmp_path)) is None
    with pytest.raises(OidcConfigError, match="ISSUER"):
        verifier_from_settings(Settings(data_dir=tmp_path, oidc_jwks_file=str(jwks)))
    configured = Settings(
        data_dir=tmp_path, oidc_jwks_file=str(jwks), oidc_issuer=ISSUER, oidc_audience=AUDIENCE
    )
    verifier = verifier_from_settings(configured)
    assert verifier is not None and set(verifier.keys) == {"k1"}
    broken = tmp_path / "broken.json"
    broken.write_text("{not json")
    with pytest.raises(OidcConfigError, match=r"broken\.json"):
        OidcVerifier.from_file(broken, issuer=ISSUER, audience=AUDIENCE, role_claim="r")
    empty = tmp_path / "empty.json"
    empty.write_text('{"keys": [{"kty": "EC", "kid": "x"}]}')
    with pytest.raises(OidcConfigError, match="no RSA signing key"):
        OidcVerifier.from_file(empty, issuer=ISSUER, audience=AUDIENCE, role_claim="r")
