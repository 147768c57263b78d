"""Reading rules files: YAML parsed, checked against the published JSON Schema, and every
error named by file, entry and reason."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from shadowlens.proxy.errors import RulesError

# The published schemas ship with the code, so rules files are checked wherever they live.
SCHEMA_DIR = Path(__file__).resolve().parent / "schemas"


# libyaml's safe loader when PyYAML was built with it: the catalog loads several times faster.
SAFE_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@cache
def _validator(schema_path: Path) -> jsonschema.protocols.Validator:
    schema = json.loads(schema_path.read_text())
    validator_class = jsonschema.validators.validator_for(schema)
    return validator_class(schema)


def read_rules(path: Path, schema_name: str) -> Any:
    """Parse a YAML rules file and check it against its schema."""
    try:
        data = yaml.load(path.read_text(encoding="utf-8"), Loader=SAFE_LOADER)  # noqa: S506
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise RulesError(path, "<file>", " ".join(str(exc).split())) from exc
    error = jsonschema.exceptions.best_match(_validator(SCHEMA_DIR / schema_name).iter_errors(data))
    if error is not None:
        raise RulesError(path, _entry_label(data, error), _schema_reason(error))
    return data


def check_unique_ids(path: Path, ids: Iterable[str]) -> None:
    """RulesError naming the first rule id that ``path`` gives twice."""
    seen: set[str] = set()
    for rule_id in ids:
        if rule_id in seen:
            raise RulesError(path, rule_id, "duplicate rule id")
        seen.add(rule_id)


def _entry_label(data: Any, error: jsonschema.ValidationError) -> str:
    """The id of the entry the error sits in, or its position."""
    path = list(error.absolute_path)
    if len(path) >= 2 and isinstance(path[1], int):
        entry = data[path[0]][path[1]]
        if isinstance(entry, dict) and isinstance(entry.get("id") or entry.get("domain"), str):
            return str(entry.get("id") or entry.get("domain"))
        return f"entry {path[1]}"
    return "<file>"


def _schema_reason(error: jsonschema.ValidationError) -> str:
    path = list(error.absolute_path)
    inside_entry = len(path) >= 2 and isinstance(path[1], int)
    where = "/".join(str(p) for p in (path[2:] if inside_entry else path))
    return f"{where}: {error.message}" if where else error.message


def compile_regex(path: Path, entry: str, regex: str) -> re.Pattern[str]:
    """Compile a regex from a rules file, or say which file and entry holds a bad one."""
    try:
        return re.compile(regex)
    except re.error as exc:
        raise RulesError(path, entry, f"bad regex {regex!r}: {exc}") from exc
