"""Alt-Svc without HTTP/3: a browser told of h3 moves to QUIC on UDP, out of the proxy's view.

An Alt-Svc value is a comma-separated list of alternatives (RFC 7838), each
``protocol-id="authority"`` with ``; param=value`` after it; a quoted value may hold commas
(``quic=":443"; v="46,43"``). The HTTP/3 alternatives (``h3``, drafts ``h3-29`` and the like,
and Google's older ``quic``) are removed; the rest are kept as they came.
"""

from __future__ import annotations

import re
from urllib.parse import unquote

_ALTERNATIVE = re.compile(r'(?:[^,"]|"(?:[^"\\]|\\.)*")+')
_QUIC = re.compile(r"h3(-.*)?|quic", re.IGNORECASE)


def _is_quic(alternative: str) -> bool:
    protocol = unquote(alternative.partition("=")[0].strip())
    return _QUIC.fullmatch(protocol) is not None


def without_quic(value: str) -> str | None:
    """``value`` less its HTTP/3 alternatives; None when none is left."""
    alternatives = [m.group().strip() for m in _ALTERNATIVE.finditer(value)]
    kept = [a for a in alternatives if a and not _is_quic(a)]
    return ", ".join(kept) or None
