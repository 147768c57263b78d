"""Generate strings that a detector's regex matches: test fixtures and the bench corpus.

Walks the parsed regex (``re._parser``) and picks random characters and repeat counts;
assertions are skipped and the result is then checked with the real regex and filters.
"""

from __future__ import annotations

import random
import re
import string
from typing import Any

from shadowlens.proxy.dlp.engine import _confirm
from shadowlens.proxy.dlp.model import Detector

_parser: Any = re._parser  # type: ignore[attr-defined, unused-ignore]
_constants: Any = re._constants  # type: ignore[attr-defined, unused-ignore]

_CATEGORY_CHARS = {
    _constants.CATEGORY_DIGIT: string.digits,
    _constants.CATEGORY_WORD: string.ascii_letters + string.digits + "_",
    _constants.CATEGORY_SPACE: " ",
    _constants.CATEGORY_NOT_DIGIT: string.ascii_letters,
    _constants.CATEGORY_NOT_WORD: " .-",
    _constants.CATEGORY_NOT_SPACE: string.ascii_letters + string.digits,
}
_PRINTABLE = [chr(c) for c in range(33, 127)]


class _Gen:
    def __init__(self, rng: random.Random, max_repeat: int) -> None:
        self.rng = rng
        self.max_repeat = max_repeat
        self.groups: dict[int, str] = {}

    def seq(self, items: Any) -> str:
        return "".join(self.node(op, av) for op, av in items)

    def node(self, op: Any, av: Any) -> str:
        c = _constants
        if op is c.LITERAL:
            return chr(av)
        if op is c.NOT_LITERAL:
            return self.rng.choice([ch for ch in "abcXYZ019" if ord(ch) != av])
        if op is c.ANY:
            return self.rng.choice(string.ascii_letters)
        if op is c.IN:
            return self.pick_in(av)
        if op in (c.MAX_REPEAT, c.MIN_REPEAT, getattr(c, "POSSESSIVE_REPEAT", None)):
            low, high, item = av
            high = min(high, max(low, self.max_repeat))
            return "".join(self.seq(item) for _ in range(self.rng.randint(low, high)))
        if op is c.SUBPATTERN:
            group, _add, _del, item = av
            text = self.seq(item)
            if group:
                self.groups[group] = text
            return text
        if op is c.BRANCH:
            return self.seq(self.rng.choice(av[1]))
        if op is c.GROUPREF:
            return self.groups.get(av, "")
        if op in (c.AT, c.ASSERT, c.ASSERT_NOT):
            return ""
        if op is c.CATEGORY:
            return self.rng.choice(_CATEGORY_CHARS.get(av, string.ascii_letters))
        if op is getattr(c, "ATOMIC_GROUP", None):
            return self.seq(av)
        raise ValueError(f"cannot generate {op}")

    def pick_in(self, items: Any) -> str:
        c = _constants
        negate = bool(items) and items[0][0] is c.NEGATE
        allowed: set[str] = set()
        for op, av in items:
            if op is c.LITERAL:
                allowed.add(chr(av))
            elif op is c.RANGE:
                allowed.update(chr(x) for x in range(av[0], min(av[1], 0x7E) + 1))
            elif op is c.CATEGORY:
                allowed.update(_CATEGORY_CHARS.get(av, ""))
        if negate:
            choices = [ch for ch in string.ascii_letters + string.digits if ch not in allowed]
        else:
            choices = sorted(allowed)
        return self.rng.choice(choices or _PRINTABLE)


def generate(pattern: str, rng: random.Random, *, max_repeat: int = 40, flags: int = 0) -> str:
    """One random string built from ``pattern`` (not yet checked against it)."""
    parsed = _parser.parse(pattern, flags)
    return _Gen(rng, max_repeat).seq(parsed)


def sample(det: Detector, rng: random.Random, attempts: int = 400) -> str | None:
    """A string containing one value ``det`` reports, or None if none was found."""
    for _ in range(attempts):
        text = generate(det.pattern, rng, flags=det.regex.flags & ~re.ASCII)
        padded = f"value {text} end"
        hits = list(_confirm(det, padded, 0))
        if len(hits) == 1 and hits[0][0] >= 6:
            return text
    return None


def luhn_complete(prefix_digits: str) -> str:
    """``prefix_digits`` plus the Luhn check digit."""
    total = 0
    for i, ch in enumerate(reversed(prefix_digits)):
        d = int(ch)
        if i % 2 == 0:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return prefix_digits + str((10 - total % 10) % 10)


def card_number(rng: random.Random) -> str:
    prefix, length = rng.choice(
        [("4", 16), ("51", 16), ("55", 16), ("2221", 16), ("34", 15), ("37", 15), ("6011", 16)]
    )
    body = prefix + "".join(rng.choice(string.digits) for _ in range(length - len(prefix) - 1))
    return luhn_complete(body)


def iban_number(rng: random.Random) -> str:
    bank = "".join(rng.choice(string.ascii_uppercase) for _ in range(4))
    account = "".join(rng.choice(string.digits) for _ in range(14))
    bban = bank + account
    numeric = "".join(str(int(ch, 36)) for ch in bban + "GB00")
    check = 98 - int(numeric) % 97
    return f"GB{check:02d}{bban}"


def jwt_token(rng: random.Random) -> str:
    import base64
    import json

    def part(obj: object) -> str:
        raw = json.dumps(obj, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).decode().rstrip("=")

    sub = "".join(rng.choice(string.ascii_lowercase) for _ in range(8))
    sig = "".join(rng.choice(string.ascii_letters + string.digits + "_-") for _ in range(43))
    return f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part({'sub': sub, 'iat': 1700000000})}.{sig}"


def cn_resident_id(rng: random.Random) -> str:
    body = "110101" + f"{rng.randint(1950, 2005)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    body += "".join(rng.choice(string.digits) for _ in range(3))
    weights = [(2 ** (17 - i)) % 11 for i in range(17)]
    check = (12 - sum(int(d) * w for d, w in zip(body, weights, strict=True)) % 11) % 11
    return body + ("X" if check == 10 else str(check))


def braintree_token(rng: random.Random) -> str:
    lower = string.ascii_lowercase + string.digits
    return (
        "access_token$production$"
        + "".join(rng.choice(lower) for _ in range(16))
        + "$"
        + "".join(rng.choice("0123456789abcdef") for _ in range(32))
    )


def br_cpf(rng: random.Random) -> str:
    digits = [rng.randint(0, 9) for _ in range(9)]
    for n in (10, 11):
        total = sum(d * w for d, w in zip(digits, range(n, 1, -1), strict=False))
        digits.append((total * 10 % 11) % 10)
    s = "".join(map(str, digits))
    return f"{s[:3]}.{s[3:6]}.{s[6:9]}-{s[9:]}"


def se_personnummer(rng: random.Random) -> str:
    date = f"{rng.randint(50, 99):02d}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"
    digits = date + "".join(rng.choice(string.digits) for _ in range(3))
    full = luhn_complete(digits)
    return f"{full[:6]}-{full[6:]}"


def de_tax_id(rng: random.Random) -> str:
    from stdnum.de import idnr
    from stdnum.iso7064 import mod_11_10

    while True:
        digits = str(rng.randint(1, 9)) + "".join(rng.choice(string.digits) for _ in range(9))
        number = digits + mod_11_10.calc_check_digit(digits)
        if idnr.is_valid(number):
            return f"Steuer-ID: {number}"


def _base64_lines(rng: random.Random, size: int, sep: str = "\n") -> str:
    import base64

    body = base64.b64encode(rng.randbytes(size)).decode()
    return sep.join(body[i : i + 64] for i in range(0, len(body), 64))


def private_key(rng: random.Random) -> str:
    label = rng.choice(["RSA PRIVATE KEY", "PRIVATE KEY", "OPENSSH PRIVATE KEY"])
    return f"-----BEGIN {label}-----\n{_base64_lines(rng, 180)}\n-----END {label}-----"


def ssh2_private_key(rng: random.Random) -> str:
    label = "SSH2 ENCRYPTED PRIVATE KEY"
    return f"---- BEGIN {label} ----\n{_base64_lines(rng, 180)}\n---- END {label} ----"


def service_account_key(rng: random.Random) -> str:
    body = _base64_lines(rng, 180, "\\n")
    pem = f"-----BEGIN PRIVATE KEY-----\\n{body}\\n-----END PRIVATE KEY-----\\n"
    return f'"private_key": "{pem}"'


def k8s_secret(rng: random.Random, data_first: bool) -> str:
    import base64

    value = base64.b64encode(rng.randbytes(18)).decode()
    data = f"data:\n  password: {value}\n"
    head = "apiVersion: v1\n"
    if data_first:
        return f"{head}{data}kind: Secret\nmetadata:\n  name: db\n"
    return f"{head}kind: Secret\nmetadata:\n  name: db\n{data}"


def pkcs12_blob(rng: random.Random) -> str:
    """Base64 of a PFX's DER head (SEQUENCE, version 3, pkcs7-data ContentInfo) and filler."""
    import base64

    filler = rng.randbytes(600)
    oid = bytes.fromhex("06092a864886f70d010701")
    content = b"\xa0\x82" + len(filler).to_bytes(2, "big") + filler
    auth_safe = b"\x30\x82" + (len(oid) + len(content)).to_bytes(2, "big") + oid + content
    body = b"\x02\x01\x03" + auth_safe
    return base64.b64encode(b"\x30\x82" + len(body).to_bytes(2, "big") + body).decode()


SPECIAL = {
    "pkcs12-blob": pkcs12_blob,
    "private-key": private_key,
    "ssh2-private-key": ssh2_private_key,
    "gcp-service-account-key": service_account_key,
    "k8s-secret-data": lambda rng: k8s_secret(rng, data_first=False),
    "k8s-secret-data-first": lambda rng: k8s_secret(rng, data_first=True),
    "de-tax-id": de_tax_id,
    "se-personnummer": se_personnummer,
    "br-cpf": br_cpf,
    "credit-card-number": card_number,
    "iban": iban_number,
    "jwt": jwt_token,
    "cn-resident-id": cn_resident_id,
    "braintree-access-token": braintree_token,
}


def example(det: Detector, rng: random.Random, attempts: int = 400) -> str | None:
    """A value ``det`` reports: a checksum-correct one for checksummed formats."""
    maker = SPECIAL.get(det.id)
    return maker(rng) if maker else sample(det, rng, attempts)
