"""Bringing an organisation's own CA to the proxy, checked before mitmproxy signs with it."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes

MIN_VALIDITY = timedelta(days=30)
# mitmproxy's names in its confdir: key and chain, and the certificate clients trust.
CA_FILE = "mitmproxy-ca.pem"
CA_CERT_FILE = "mitmproxy-ca-cert.pem"
STALE_FORMATS = ("mitmproxy-ca-cert.cer", "mitmproxy-ca-cert.p12", "mitmproxy-ca.p12")


class CaImportError(ValueError):
    """The CA cannot be used; the message says why, never the key."""


def import_ca(confdir: Path, *, key_file: Path, cert_file: Path, replace: bool) -> Path:
    """Check the key and certificate (or chain, signing CA first) and install them for
    mitmproxy; the path of the certificate clients must trust."""
    if (confdir / CA_FILE).exists() and not replace:
        raise CaImportError(f"{confdir / CA_FILE} exists; --replace to swap the CA clients trust")
    key = _load_key(key_file)
    chain = _load_chain(cert_file)
    check_ca(key, chain[0], now=datetime.now(UTC))
    confdir.mkdir(parents=True, exist_ok=True)
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.TraditionalOpenSSL,
        serialization.NoEncryption(),
    )
    certs_pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in chain)
    _write_private(confdir / CA_FILE, key_pem + certs_pem)
    (confdir / CA_CERT_FILE).write_bytes(chain[0].public_bytes(serialization.Encoding.PEM))
    for name in STALE_FORMATS:  # mitmproxy's copies of the old CA in other formats
        (confdir / name).unlink(missing_ok=True)
    return confdir / CA_CERT_FILE


def check_ca(key: PrivateKeyTypes, cert: x509.Certificate, *, now: datetime) -> None:
    """CaImportError unless ``cert`` is a CA that may sign, matches ``key`` and lasts."""
    try:
        constraints = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        usage = cert.extensions.get_extension_for_class(x509.KeyUsage).value
    except x509.ExtensionNotFound as exc:
        raise CaImportError(f"the certificate has no {exc.oid._name} extension") from None
    if not constraints.ca:
        raise CaImportError("the certificate is not a CA (basicConstraints CA:FALSE)")
    if not usage.key_cert_sign:
        raise CaImportError("the certificate may not sign certificates (no keyCertSign)")
    public = serialization.PublicFormat.SubjectPublicKeyInfo
    mine = key.public_key().public_bytes(serialization.Encoding.DER, public)
    if cert.public_key().public_bytes(serialization.Encoding.DER, public) != mine:
        raise CaImportError("the key does not belong to the certificate")
    if cert.not_valid_after_utc - now < MIN_VALIDITY:
        expiry = cert.not_valid_after_utc.date()
        raise CaImportError(f"the CA expires on {expiry}, within {MIN_VALIDITY.days} days")


def _load_key(path: Path) -> PrivateKeyTypes:
    if path.stat().st_mode & 0o077:
        raise CaImportError(f"{path} is readable by group or others; chmod 600 it first")
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (ValueError, TypeError) as exc:  # never echo the file: it is a private key
        raise CaImportError(f"{path} is not an unencrypted PEM private key") from exc


def _load_chain(path: Path) -> list[x509.Certificate]:
    try:
        return x509.load_pem_x509_certificates(path.read_bytes())
    except ValueError as exc:
        raise CaImportError(f"{path} holds no PEM certificate") from exc


def _write_private(path: Path, data: bytes) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    path.chmod(0o600)
