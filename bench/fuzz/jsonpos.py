"""Harness: the JSON reader that locates string values, against the json module."""

from __future__ import annotations

import json

import atheris

from tests.hostile.fuzzing import json_strings

with atheris.instrument_imports(include=["shadowlens.proxy.dlp.jsonpos"]):
    from shadowlens.proxy.dlp.jsonpos import JsonPositionError, string_values


def one_input(data: bytes) -> None:
    text = atheris.FuzzedDataProvider(data).ConsumeUnicodeNoSurrogates(len(data))
    try:
        values = string_values(text)
    except JsonPositionError:
        return
    parsed = json.loads(text)  # what string_values accepts, json must accept too
    if [v.value for v in values] != json_strings(parsed):
        raise AssertionError("string values differ from the json module's")
    for item in values:
        if json.loads(text[item.start : item.end]) != item.value:
            raise AssertionError(f"span {item.start}:{item.end} is not the string {item.pointer}")
