"""`shadowlens ca --import-key/--import-cert`: an organisation's CA, checked, then used."""

from __future__ import annotations

import datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from mitmproxy import certs

from shadowlens.addons.launcher import CA_BASENAME, KEY_SIZE
from shadowlens.proxy.cli import main

SECRET_MARK = "MHcCAQEE"  # how an EC private key's PEM body starts; must never be printed


def make_ca(
    folder: Path, *, ca: bool = True, sign: bool = True, days: int = 365, mode: int = 0o600
) -> tuple[Path, Path]:
    """A root and an intermediate of 'Example Corp'; the intermediate as the CA to import."""
    now = datetime.datetime.now(datetime.UTC)
    root_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    root_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Corp Root")])
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Example Corp Proxy CA")])
    usage = x509.KeyUsage(
        digital_signature=True, key_cert_sign=sign, crl_sign=sign, content_commitment=False,
        key_encipherment=False, data_encipherment=False, key_agreement=False,
        encipher_only=False, decipher_only=False,
    )  # fmt: skip
    root = (
        x509.CertificateBuilder().subject_name(root_name).issuer_name(root_name)
        .public_key(root_key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(root_name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(days=1))
        .not_valid_after(now + datetime.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(usage, critical=True)
        .sign(root_key, hashes.SHA256())
    )  # fmt: skip
    key_file, cert_file = folder / "ca-key.pem", folder / "ca-chain.pem"
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    key_file.chmod(mode)
    cert_file.write_bytes(
        b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, root))
    )
    return key_file, cert_file


def _import(key: Path, cert: Path, *extra: str) -> int:
    return main(["ca", "--import-key", str(key), "--import-cert", str(cert), *extra])


@pytest.fixture
def data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SHADOWLENS_DATA_DIR", str(tmp_path / "data"))
    return tmp_path / "data"


def test_an_imported_chain_is_what_mitmproxy_signs_with(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file, cert_file = make_ca(tmp_path)
    assert _import(key_file, cert_file) == 0
    printed = capsys.readouterr().out
    confdir = data_dir / "mitmproxy"
    assert printed.startswith(str(confdir / "mitmproxy-ca-cert.pem"))
    assert SECRET_MARK not in printed
    assert (confdir / "mitmproxy-ca.pem").stat().st_mode & 0o777 == 0o600
    store = certs.CertStore.from_store(confdir, CA_BASENAME, KEY_SIZE)
    leaf = store.get_cert("chatgpt.com", [x509.DNSName("chatgpt.com")])
    assert ("CN", "Example Corp Proxy CA") in leaf.cert.issuer
    leaf.cert.to_cryptography().verify_directly_issued_by(  # the imported key signed it
        x509.load_pem_x509_certificate((confdir / "mitmproxy-ca-cert.pem").read_bytes())
    )
    assert store.default_chain_file is not None  # the root goes out with each leaf


@pytest.mark.parametrize(
    ("kind", "message"),
    [
        ({"ca": False}, "not a CA"),
        ({"sign": False}, "keyCertSign"),
        ({"days": 20}, "within 30 days"),
        ({"mode": 0o640}, "readable by group or others"),
        ({"mode": 0o604}, "readable by group or others"),
    ],
)
def test_an_unfit_ca_is_refused_and_nothing_is_installed(
    tmp_path: Path,
    data_dir: Path,
    capsys: pytest.CaptureFixture[str],
    kind: dict[str, int],
    message: str,
) -> None:
    key_file, cert_file = make_ca(tmp_path, **kind)  # type: ignore[arg-type]
    assert _import(key_file, cert_file) == 2
    err = capsys.readouterr().err
    assert message in err and SECRET_MARK not in err
    assert not (data_dir / "mitmproxy" / "mitmproxy-ca.pem").exists()


def test_a_key_of_another_ca_is_refused(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "other").mkdir()
    key_file, _ = make_ca(tmp_path / "other")
    _, cert_file = make_ca(tmp_path)
    assert _import(key_file, cert_file) == 2
    assert "does not belong" in capsys.readouterr().err


def test_an_existing_ca_is_replaced_only_when_asked(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["ca"]) == 0  # the generated CA clients already trust
    key_file, cert_file = make_ca(tmp_path)
    assert _import(key_file, cert_file) == 2
    assert "--replace" in capsys.readouterr().err
    assert _import(key_file, cert_file, "--replace") == 0
    installed = (data_dir / "mitmproxy" / "mitmproxy-ca-cert.pem").read_bytes()
    assert b"".join(cert_file.read_bytes().split(b"-----END CERTIFICATE-----")[:1]) in installed


def test_garbage_is_refused_without_echoing_it(
    tmp_path: Path, data_dir: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key_file, cert_file = make_ca(tmp_path)
    key_file.write_text(
        "-----BEGIN PRIVATE KEY-----\nc2VjcmV0LXZhbHVl\n-----END PRIVATE KEY-----\n"
    )
    assert _import(key_file, cert_file) == 2
    err = capsys.readouterr().err
    assert "not an unencrypted PEM private key" in err and "c2VjcmV0" not in err
