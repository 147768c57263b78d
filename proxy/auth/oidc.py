"""OIDC bearer tokens: RS256 JWTs checked against a JWKS file, for organisations with an IdP.

Offline by design: the keys come from a file the operator refreshes (e.g. from the IdP's
``jwks_uri``), so the API never reaches out at request time. A token is accepted when its
signature verifies with the key its ``kid`` names, it has not expired (``exp``) and is already
valid (``nbf``), and its ``iss`` and ``aud`` match the settings. Its role is the claim
``SHADOWLENS_OIDC_ROLE_CLAIM``: a role name, or a list from which the highest role is taken.
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from shadowlens.proxy.auth.tokens import ROLES, Principal
from shadowlens.proxy.jsondoc import parse_untrusted
from shadowlens.proxy.settings import Settings

LEEWAY_SECONDS = 60


class OidcError(ValueError):
    """The token is not one we accept; the message says why (never the token)."""


class OidcConfigError(ValueError):
    """The OIDC settings or the JWKS file cannot be used; the message says why."""


def _b64(segment: str) -> bytes:
    return base64.urlsafe_b64decode(segment + "=" * (-len(segment) % 4))


def _int(segment: str) -> int:
    return int.from_bytes(_b64(segment), "big")


@dataclass(frozen=True, slots=True)
class OidcVerifier:
    """Checks JWTs against the RSA keys of a JWKS document."""

    keys: dict[str, rsa.RSAPublicKey]
    issuer: str
    audience: str
    role_claim: str = "shadowlens_role"

    @classmethod
    def from_file(cls, path: Path, *, issuer: str, audience: str, role_claim: str) -> OidcVerifier:
        """Load the RSA signing keys of a JWKS file; :class:`OidcConfigError` if bad."""
        try:
            document = json.loads(path.read_text())
            keys = {
                str(k["kid"]): rsa.RSAPublicNumbers(_int(k["e"]), _int(k["n"])).public_key()
                for k in document["keys"]
                if k.get("kty") == "RSA" and k.get("use", "sig") == "sig"
            }
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise OidcConfigError(f"JWKS file {path}: {exc}") from exc
        if not keys:
            raise OidcConfigError(f"JWKS file {path}: no RSA signing key")
        return cls(keys=keys, issuer=issuer, audience=audience, role_claim=role_claim)

    def principal(self, token: str, *, now: float | None = None) -> Principal:
        """The principal a valid token stands for; :class:`OidcError` otherwise."""
        claims = self._verified_claims(token)
        now = time.time() if now is None else now
        if not isinstance(claims.get("exp"), int | float) or now > claims["exp"] + LEEWAY_SECONDS:
            raise OidcError("token expired or without exp")
        if isinstance(claims.get("nbf"), int | float) and now < claims["nbf"] - LEEWAY_SECONDS:
            raise OidcError("token not yet valid")
        if claims.get("iss") != self.issuer:
            raise OidcError("wrong issuer")
        audience = claims.get("aud")
        audiences = audience if isinstance(audience, list) else [audience]
        if self.audience not in audiences:
            raise OidcError("wrong audience")
        role = self._role(claims.get(self.role_claim))
        subject = str(claims.get("email") or claims.get("sub") or "unknown")
        return Principal(actor=f"oidc:{subject[:200]}", role=role)

    def _verified_claims(self, token: str) -> dict[str, Any]:
        try:
            header_b64, payload_b64, signature_b64 = token.split(".")
            header = parse_untrusted(_b64(header_b64))
            claims = parse_untrusted(_b64(payload_b64))
            signature = _b64(signature_b64)
        except ValueError as exc:
            raise OidcError("not a JWT") from exc
        if not isinstance(header, dict) or not isinstance(claims, dict):
            raise OidcError("not a JWT")
        if header.get("alg") != "RS256":
            raise OidcError("only RS256 tokens are accepted")
        key = self.keys.get(str(header.get("kid")))
        if key is None:
            raise OidcError("unknown key id")
        signed = f"{header_b64}.{payload_b64}".encode()
        try:
            key.verify(signature, signed, padding.PKCS1v15(), hashes.SHA256())
        except InvalidSignature as exc:
            raise OidcError("bad signature") from exc
        return claims

    @staticmethod
    def _role(value: object) -> str:
        names = value if isinstance(value, list) else [value]
        granted = [r for r in ROLES if r in names]
        if not granted:
            raise OidcError("no shadowlens role in the token")
        return granted[-1]  # ROLES is ordered from least to most


def verifier_from_settings(settings: Settings) -> OidcVerifier | None:
    """The verifier the settings configure, or None when OIDC is off."""
    if not settings.oidc_jwks_file:
        return None
    if not settings.oidc_issuer or not settings.oidc_audience:
        raise OidcConfigError(
            "SHADOWLENS_OIDC_JWKS_FILE needs SHADOWLENS_OIDC_ISSUER and SHADOWLENS_OIDC_AUDIENCE"
        )
    return OidcVerifier.from_file(
        Path(settings.oidc_jwks_file),
        issuer=settings.oidc_issuer,
        audience=settings.oidc_audience,
        role_claim=settings.oidc_role_claim,
    )
