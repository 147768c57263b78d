"""Harness: the byte-preserving multipart parser, on any body and boundary."""

from __future__ import annotations

import atheris

with atheris.instrument_imports(include=["shadowlens.proxy.dlp.multipart"]):
    from shadowlens.proxy.dlp.multipart import parse_multipart


def one_input(data: bytes) -> None:
    provider = atheris.FuzzedDataProvider(data)
    boundary = provider.ConsumeBytes(provider.ConsumeIntInRange(1, 70))
    body = provider.ConsumeBytes(provider.remaining_bytes())
    parts, _ = parse_multipart(body, boundary or b"b")
    for part in parts:
        if not 0 <= part.body_start <= part.body_end <= len(body):
            raise AssertionError(f"part span {part.body_start}:{part.body_end} outside the body")
        part.disposition  # noqa: B018 -- reading the headers must not raise
