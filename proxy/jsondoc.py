"""Parsing client-supplied JSON without letting its nesting crash the caller."""

from __future__ import annotations

import json
from typing import Any


def parse_untrusted(data: str | bytes) -> Any:
    """The JSON document in ``data``, or None when it is not JSON or is nested too deeply.

    The standard parser recurses once per level, so ``[`` * 100000 raises RecursionError;
    a body from the network is never a reason to fail the flow that carries it.
    """
    try:
        return json.loads(data)
    except (ValueError, UnicodeDecodeError, RecursionError):
        return None
