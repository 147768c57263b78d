"""Validators and false-positive filters that confirm a regex hit.

Each validator takes the matched value and answers whether it is real. Validators are
named in detector files (``validators: [luhn, card_issuer]``); ``stdnum:<module>`` uses
python-stdnum's ``is_valid`` of that module (for example ``stdnum:es.dni``).
"""

from __future__ import annotations

import base64
import binascii
import importlib
import ipaddress
import math
import re
from collections import Counter
from collections.abc import Iterable
from functools import lru_cache
from itertools import pairwise

import phonenumbers
from stdnum import numdb

from shadowlens.proxy.dlp.model import Validator
from shadowlens.proxy.jsondoc import parse_untrusted

_DIGITS = re.compile(r"\d")


def shannon_entropy(value: str) -> float:
    """Bits per character of the value's own character distribution."""
    if not value:
        return 0.0
    n = len(value)
    return -sum(c / n * math.log2(c / n) for c in Counter(value).values())


def luhn(value: str) -> bool:
    """The Luhn (mod 10) checksum over the digits of the value."""
    digits = [int(d) for d in value if d.isdigit()]
    if len(digits) < 2:
        return False
    total = 0
    for i, d in enumerate(reversed(digits)):
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10 == 0


# Issuer identification number ranges and the lengths each network issues (ISO/IEC 7812,
# the networks' published BIN tables).
_CARD_RANGES: tuple[tuple[int, int, tuple[int, ...]], ...] = (
    (4, 4, (13, 16, 19)),  # Visa
    (51, 55, (16,)),  # Mastercard
    (2221, 2720, (16,)),  # Mastercard 2-series
    (34, 34, (15,)),  # American Express
    (37, 37, (15,)),
    (300, 305, (14, 16, 19)),  # Diners Club International
    (36, 36, (14, 16, 19)),
    (38, 39, (14, 16, 19)),
    (6011, 6011, (16, 19)),  # Discover
    (644, 649, (16, 19)),
    (65, 65, (16, 19)),
    (622126, 622925, (16, 19)),  # China UnionPay co-branded Discover
    (62, 62, (16, 17, 18, 19)),  # UnionPay
    (35, 35, (16, 17, 18, 19)),  # JCB (3528-3589 issued; test generators use all of 35)
    (2131, 2131, (15,)),  # JCB (legacy 15-digit)
    (1800, 1800, (15,)),
    (50, 50, (12, 13, 14, 15, 16, 17, 18, 19)),  # Maestro
    (56, 58, (12, 13, 14, 15, 16, 17, 18, 19)),
    (60, 60, (12, 13, 14, 15, 16, 17, 18, 19)),
    (63, 63, (12, 13, 14, 15, 16, 17, 18, 19)),
    (67, 67, (12, 13, 14, 15, 16, 17, 18, 19)),
    (2200, 2204, (16, 17, 18, 19)),  # Mir
    (8600, 8600, (16,)),  # UzCard
    (9860, 9860, (16,)),  # Humo
)


def card_issuer(value: str) -> bool:
    """True when the digits start with a known issuer prefix and have that issuer's length."""
    digits = "".join(c for c in value if c.isdigit())
    n = len(digits)
    for low, high, lengths in _CARD_RANGES:
        width = len(str(low))
        if n in lengths and low <= int(digits[:width]) <= high:
            return True
    return False


def card_separators(value: str) -> bool:
    """Separators, if any, are one kind and form groups a card is printed in."""
    seps = {c for c in value if not c.isdigit()}
    if not seps:
        return True
    if len(seps) > 1:
        return False
    groups = [len(g) for g in re.split(r"[ -]", value)]
    return all(3 <= g <= 6 for g in groups) or groups in ([4, 6, 5], [4, 6, 4])


def iban(value: str) -> bool:
    """ISO 13616: country length and the mod-97 check digits (via python-stdnum)."""
    from stdnum import iban as _iban

    return bool(_iban.is_valid(value.upper()))


def us_ssn(value: str) -> bool:
    """SSA rules: area not 000, 666 or 900-999; group not 00; serial not 0000; no known fakes."""
    digits = "".join(c for c in value if c.isdigit())
    if len(digits) != 9:
        return False
    area, group, serial = int(digits[:3]), int(digits[3:5]), int(digits[5:])
    if area == 0 or area == 666 or area >= 900 or group == 0 or serial == 0:
        return False
    if len(set(digits)) == 1 or digits in {"123456789", "078051120", "219099999"}:
        return False
    seps = [c for c in value if not c.isdigit()]
    return len(seps) in (0, 2) and len(set(seps)) <= 1


_PHONE_REGIONS = ("US", "GB", "DE", "FR", "AU", "IN", "BE", "NL", "CH", "SE", "IT", "ES", "BR")
_DATE_LIKE = re.compile(
    r"\b(?:19|20)\d\d(?:[-./](?:0?[1-9]|1[0-2])[-./]|(?:0[1-9]|1[0-2]))(?:0?[1-9]|[12]\d|3[01])"
)
_GROUPS = re.compile(r"\d+")


def _bare_digits_plausible(digits: str) -> bool:
    """NANP ``[1]NXXNXXXXXX`` or a UK national number (``0`` and 9-10 more digits)."""
    if digits.startswith("0"):
        return len(digits) in (10, 11)
    if len(digits) == 11 and digits.startswith("1"):
        digits = digits[1:]
    return len(digits) == 10 and digits[0] in "23456789" and digits[3] in "23456789"


@lru_cache(maxsize=8192)
def phone(value: str) -> bool:
    """A telephone number as written: international (``+``) numbers that libphonenumber finds
    possible, national ones valid in a common region. Dates and bare digit pairs that read
    like street numbers (fewer than 9 digits, no parentheses) are refused."""
    groups = _GROUPS.findall(value)
    digits = sum(len(g) for g in groups)
    if digits < 7 or digits > 15 or _DATE_LIKE.search(value):
        return False
    candidate = value.strip()
    if candidate.startswith("+"):
        try:
            number = phonenumbers.parse(candidate, None)
        except phonenumbers.NumberParseException:
            return False
        return bool(phonenumbers.is_possible_number(number))
    if digits < 9 and "(" not in candidate:
        return False
    if len(groups) == 2 and max(len(g) for g in groups) >= 5 and digits < 10:
        return False
    # a bare run of digits is as likely an id or a timestamp: only NANP and UK numbers
    if len(groups) == 1 and "(" not in candidate and not _bare_digits_plausible(groups[0]):
        return False
    regions = _PHONE_REGIONS if len(groups) > 1 or "(" in candidate else ("US", "GB")
    for region in regions:
        try:
            number = phonenumbers.parse(candidate, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_valid_number(number):
            return True
    return False


def ipv4(value: str) -> bool:
    """A dotted-quad address that is not a version string lookalike (no leading zeros)."""
    try:
        address = ipaddress.IPv4Address(value)
    except ValueError:
        return False
    return not (address.is_unspecified or address.is_loopback)


def ipv6(value: str) -> bool:
    try:
        ipaddress.IPv6Address(value)
    except ValueError:
        return False
    return len(value) >= 7 and value.count(":") >= 2


def _b64url_json(part: str) -> object:
    try:
        decoded = base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (ValueError, binascii.Error):
        return None
    return parse_untrusted(decoded)


# The payload of the token that JWT documentation and tutorials reuse everywhere.
_DOCS_CLAIMS = re.compile(r'"(?:sub|name)"\s*:\s*"(?:1234567890|John Doe|Jane Doe)"')


def jwt(value: str) -> bool:
    """A compact JWS (three parts) or JWE (five) whose header decodes to JSON with ``alg``.

    A signed token needs its signature, unless the header says ``alg: none``; the docs'
    ``John Doe`` token is refused."""
    parts = value.split(".")
    header = _b64url_json(parts[0])
    if not isinstance(header, dict) or "alg" not in header or len(parts) not in (3, 5):
        return False
    if len(parts) == 5:
        return len(parts[3]) >= 16 and len(parts[4]) >= 8
    if len(parts[2]) < 16 and not (header["alg"] == "none" and len(parts[1]) >= 8):
        return False
    payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
    return not _DOCS_CLAIMS.search(payload.decode("utf-8", "replace"))


def email(value: str) -> bool:
    """Plausible address: local part and domain within RFC 5321 sizes, alphabetic TLD."""
    local, _, domain = value.rpartition("@")
    if not local or len(local) > 64 or len(domain) > 253:
        return False
    tld = domain.rsplit(".", 1)[-1]
    return tld.isalpha() and ".." not in value and not local.startswith(".")


def mixed_charset(value: str) -> bool:
    """Has at least two of: lower case, upper case, digits (random tokens do, words don't)."""
    kinds = (
        any(c.islower() for c in value),
        any(c.isupper() for c in value),
        any(c.isdigit() for c in value),
    )
    return sum(kinds) >= 2


_WORDISH = re.compile(r"[A-Z]?[a-z]{3,}")


def not_identifier(value: str) -> bool:
    """False for names such as ``DefaultAzureCredential`` or ``file_secret_settings``:
    letters only (with ``_ . -``) made of two or more word-like runs."""
    if any(c.isdigit() for c in value):
        return True
    return not (re.fullmatch(r"[A-Za-z_.-]+", value) and len(_WORDISH.findall(value)) >= 2)


def has_digit(value: str) -> bool:
    return any(c.isdigit() for c in value)


_PLACEHOLDER = re.compile(
    r"""(?ix)
    \$\{[^}]*\}|\$\(|\{\{|\}\}|<[a-z0-9_ .-]{2,40}>|%\(?[a-z_]+\)?s|(?-i:\$[A-Z_]{3,}\b)
    |x{4,}|\*{4,}|\.{3}|_{4,}|-{4,}|\#{4,}
    |example|sample|dummy|placeholder|changeme|change[_-]me|your[_-]|my[_-]?(?:api|secret|token|key)
    |redacted|insert|replace|foobar|lorem|test[_-]?(?:key|token|secret)|fake|abcdef[0-9a-f]{0,4}1234
    |0123456789|123456789|abcdefgh
    """
)


def _sequential_runs(value: str) -> tuple[int, int]:
    """The longest run of consecutive characters (``1234``, ``abcd``, ``zyx``) and how many
    runs of four or more there are."""
    longest = count = 0
    run, step = 1, 0
    for prev, cur in pairwise(value):
        diff = ord(cur) - ord(prev)
        if diff in (1, -1) and cur.isalnum() and prev.isalnum() and (run == 1 or diff == step):
            run, step = run + 1, diff
        else:
            count += run >= 4
            run, step = 1, 0
        longest = max(longest, run)
    return longest, count + (run >= 4)


_BODY = re.compile(r"[A-Za-z0-9]{12,}")


def _periodic(value: str) -> bool:
    """The value's longest alphanumeric stretch repeats a unit of at most 8 (``ab12ab12ab12``)."""
    body = max(_BODY.findall(value), key=len, default="")
    return any(body[k:] == body[:-k] for k in range(1, 9) if len(body) >= 3 * k)


def not_placeholder(value: str) -> bool:
    """False for template variables and documentation stand-ins (``${VAR}``, ``xxxx``,
    example), for one repeated character, counting sequences (``12345``, ``abcd…1234``) and a
    short unit repeated."""
    if _PLACEHOLDER.search(value):
        return False
    # a run of one repeated character over a third of the value
    most = Counter(value).most_common(1)
    if most and most[0][1] > max(6, len(value) // 3):
        return False
    longest, runs = _sequential_runs(value)
    return longest < 5 and runs < 2 and not _periodic(value)


_PEM_LINE = re.compile(r"-----[^-\r\n]*-----|----[^-\r\n]*----|^[A-Za-z-]+:[^\r\n]*$", re.M)
_PEM_SPACE = re.compile(r"\s+|(?:\\)+[rn]")


def pem_key_body(value: str) -> bool:
    """A PEM block whose body is real base64 (64+ characters), not ``...`` or ``YOUR_KEY``."""
    body = _PEM_SPACE.sub("", _PEM_LINE.sub("", value))
    return (
        len(body) >= 64
        and bool(re.fullmatch(r"[A-Za-z0-9+/]+={0,2}", body))
        and (not_placeholder(body))
    )


_YAML_ITEM = re.compile(r"^[ \t]+[A-Za-z0-9_.-]+:[ \t]*[\"']?([^\"'\r\n]*?)[\"']?[ \t]*$", re.M)


def k8s_secret_values(block: str) -> bool:
    """A Secret's data block with at least one real value: base64 values are decoded
    (``data``), plain ones taken as they are (``stringData``); placeholders do not count."""
    for raw in _YAML_ITEM.findall(block):
        try:
            value = base64.b64decode(raw, validate=True).decode("utf-8")
        except (binascii.Error, ValueError):
            value = raw
        if len(value) >= 6 and not_placeholder(value) and shannon_entropy(value) >= 2.5:
            return True
    return False


@lru_cache(maxsize=64)
def _stdnum_validator(module: str) -> Validator:
    mod = importlib.import_module(f"stdnum.{module}")
    is_valid = mod.is_valid

    def check(value: str) -> bool:
        try:
            return bool(is_valid(value))
        except Exception:  # stdnum's own lookups can fail on odd input: not valid then
            return False

    return check


BUILTIN: dict[str, Validator] = {
    "luhn": luhn,
    "card_issuer": card_issuer,
    "card_separators": card_separators,
    "iban": iban,
    "us_ssn": us_ssn,
    "phone": phone,
    "ipv4": ipv4,
    "ipv6": ipv6,
    "jwt": jwt,
    "email": email,
    "mixed_charset": mixed_charset,
    "has_digit": has_digit,
    "not_identifier": not_identifier,
    "not_placeholder": not_placeholder,
    "pem_key_body": pem_key_body,
    "k8s_secret_values": k8s_secret_values,
}


# The python-stdnum modules whose validation reads a data table (stdnum.numdb) on first use,
# and the table each one reads.
_STDNUM_TABLES = {
    "at.tin": "at/fa",
    "cn.ric": "cn/loc",
    "id.nik": "id/loc",
    "my.nric": "my/bp",
    "us.ein": "us/ein",
}


def warm(names: Iterable[str]) -> None:
    """Load the data the named validators would otherwise load on their first value.

    libphonenumber reads a region's metadata, python-stdnum its IBAN registry and some
    modules' tables, lazily: loading them at start keeps that cost off a request.
    """
    for name in set(names):
        if name == "phone":
            _warm_phone()
        elif name == "iban":
            importlib.import_module("stdnum.iban")  # reads the registry on import
        elif table := _STDNUM_TABLES.get(name.removeprefix("stdnum:")):
            numdb.get(table)


def _warm_phone() -> None:
    """Load the metadata of every region ``phone`` may consult, and compile their patterns."""
    for region in _PHONE_REGIONS:
        # a national number is checked against every region sharing its calling code (+1: 25)
        code = phonenumbers.country_code_for_region(region)
        for other in phonenumbers.region_codes_for_country_code(code):
            phonenumbers.PhoneMetadata.metadata_for_region(other)
        # libphonenumber compiles a region's patterns on first use: validate its own example
        example = phonenumbers.example_number(region)
        if example is not None:
            phonenumbers.is_valid_number(example)


def resolve(name: str) -> Validator:
    """The validator a detector file names; raises LookupError for unknown names."""
    if name in BUILTIN:
        return BUILTIN[name]
    if name.startswith("stdnum:"):
        module = name.removeprefix("stdnum:")
        if not re.fullmatch(r"[a-z_]+(?:\.[a-z_]+)?", module):
            raise LookupError(f"bad stdnum module name {module!r}")
        try:
            return _stdnum_validator(module)
        except ImportError as exc:
            raise LookupError(f"python-stdnum has no module {module!r}") from exc
        except AttributeError as exc:
            raise LookupError(f"stdnum.{module} has no is_valid") from exc
    raise LookupError(f"unknown validator {name!r}")
