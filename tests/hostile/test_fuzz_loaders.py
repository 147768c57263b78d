"""Property tests of the rules, DLP, policy and identity loaders: a bad file gives RulesError.

Two kinds of input: any text, and the shipped files with one node replaced by something
else (a wrong type, a missing key, an odd string), which reaches past the YAML parser into
each loader's own checks.
"""

from __future__ import annotations

import contextlib
import shutil
import tomllib
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from shadowlens.proxy.catalog.loader import load_catalog
from shadowlens.proxy.dlp.rules import load_gitleaks, load_yaml_file
from shadowlens.proxy.errors import RulesError
from shadowlens.proxy.policy.loader import load_identities, load_policy
from tests.conftest import RULES_DIR
from tests.hostile.fuzzing import fuzz

ODD_VALUES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.floats(),
    st.text(max_size=30),
    st.sampled_from(["(", "[a-", "*", "a{99999999}", "10.0.0.0/33", "::/200", "co.uk", "\x00"]),
    st.lists(st.text(max_size=5), max_size=3),
    st.dictionaries(st.text(max_size=5), st.text(max_size=5), max_size=3),
)


def _paths(node: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """Every path to a node of a parsed YAML document (the root excluded)."""
    out: list[tuple[Any, ...]] = []
    items = (
        node.items()
        if isinstance(node, dict)
        else enumerate(node)
        if isinstance(node, list)
        else ()
    )
    for key, child in items:
        out.append((*prefix, key))
        out.extend(_paths(child, (*prefix, key)))
    return out


def _mutated(doc: Any, data: st.DataObject) -> Any:
    """``doc`` with one node replaced by an odd value or deleted."""
    paths = _paths(doc)
    path = data.draw(st.sampled_from(paths))
    parent = doc
    for key in path[:-1]:
        parent = parent[key]
    if data.draw(st.booleans()):
        del parent[path[-1]]
    else:
        parent[path[-1]] = data.draw(ODD_VALUES)
    return doc


def _loads_or_rules_error(load: Callable[[Path], object], path: Path) -> None:
    with contextlib.suppress(RulesError):
        load(path)


def _small(doc: dict[str, Any], key: str, keep: int = 4) -> dict[str, Any]:
    """The document with only its first entries under ``key``: mutations then hit each part."""
    return {**doc, key: doc[key][:keep]} if isinstance(doc.get(key), list) else doc


POLICY = yaml.safe_load((RULES_DIR / "policy.yaml").read_text())
IDENTITIES = yaml.safe_load((RULES_DIR / "identities.yaml").read_text())
SERVICES = _small(
    yaml.safe_load((RULES_DIR / "services" / "llm-apis.yaml").read_text()), "services"
)
DETECTORS = _small(yaml.safe_load((RULES_DIR / "dlp" / "secrets-ai.yaml").read_text()), "detectors")
CLIENTS = _small(yaml.safe_load((RULES_DIR / "clients.yaml").read_text()), "clients")


@pytest.fixture(scope="module")
def rules_copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A rules dir with one services file, to be overwritten by each example."""
    folder = tmp_path_factory.mktemp("rules")
    (folder / "services").mkdir()
    shutil.copy(RULES_DIR / "shared_hosts.yaml", folder)
    return folder


def _write(path: Path, doc: Any) -> Path:
    path.write_text(doc if isinstance(doc, str) else yaml.safe_dump(doc, allow_unicode=True))
    return path


def _load_services(folder: Path) -> Callable[[Path], object]:
    return lambda _: load_catalog(folder)


@fuzz
@given(text=st.text(max_size=300) | st.binary(max_size=300).map(lambda b: b.decode("latin-1")))
def test_any_text_as_every_rules_file(rules_copy: Path, text: str) -> None:
    for name, load in (
        ("policy.yaml", load_policy),
        ("identities.yaml", load_identities),
        ("dlp.yaml", load_yaml_file),
        ("gitleaks.toml", load_gitleaks),
    ):
        _loads_or_rules_error(load, _write(rules_copy / name, text))
    _write(rules_copy / "services" / "x.yaml", text)
    _loads_or_rules_error(_load_services(rules_copy), rules_copy)
    (rules_copy / "clients.yaml").unlink(missing_ok=True)


def test_invalid_utf8_in_a_rules_file(rules_copy: Path) -> None:
    path = rules_copy / "policy.yaml"
    path.write_bytes(b"rules:\n  - id: \xff\xfe\n")
    with pytest.raises(RulesError):
        load_policy(path)


@fuzz
@given(data=st.data())
def test_mutated_policy(rules_copy: Path, data: st.DataObject) -> None:
    doc = _mutated(yaml.safe_load(yaml.safe_dump(POLICY)), data)
    _loads_or_rules_error(load_policy, _write(rules_copy / "policy.yaml", doc))


@fuzz
@given(data=st.data())
def test_mutated_identities(rules_copy: Path, data: st.DataObject) -> None:
    doc = _mutated(yaml.safe_load(yaml.safe_dump(IDENTITIES)), data)
    _loads_or_rules_error(load_identities, _write(rules_copy / "identities.yaml", doc))


@fuzz
@given(data=st.data())
def test_mutated_services(rules_copy: Path, data: st.DataObject) -> None:
    doc = _mutated(yaml.safe_load(yaml.safe_dump(SERVICES)), data)
    _write(rules_copy / "services" / "x.yaml", doc)
    (rules_copy / "clients.yaml").unlink(missing_ok=True)
    _loads_or_rules_error(_load_services(rules_copy), rules_copy)


@fuzz
@given(data=st.data())
def test_mutated_clients(rules_copy: Path, data: st.DataObject) -> None:
    shutil.copy(RULES_DIR / "services" / "llm-apis.yaml", rules_copy / "services" / "x.yaml")
    doc = _mutated(yaml.safe_load(yaml.safe_dump(CLIENTS)), data)
    _write(rules_copy / "clients.yaml", doc)
    _loads_or_rules_error(_load_services(rules_copy), rules_copy)


@fuzz
@given(data=st.data())
def test_mutated_dlp_detectors(rules_copy: Path, data: st.DataObject) -> None:
    doc = _mutated(yaml.safe_load(yaml.safe_dump(DETECTORS)), data)
    _loads_or_rules_error(load_yaml_file, _write(rules_copy / "dlp.yaml", doc))


GITLEAKS = """
[allowlist]
regexes = ["EXAMPLE"]

[[rules]]
id = "demo-token"
description = "demo"
regex = '''demo_[a-z0-9]{32}'''
secretGroup = 0
entropy = 3.0
keywords = ["demo_"]
"""


@fuzz
@given(data=st.data())
def test_mutated_gitleaks_config(rules_copy: Path, data: st.DataObject) -> None:
    doc = _mutated(tomllib.loads(GITLEAKS), data)
    lines = [_toml_line(k, v) for k, v in doc.items() if not isinstance(v, (list, dict))]
    for key, value in doc.items():
        if isinstance(value, dict):
            lines += [f"[{key}]", *(_toml_line(k, v) for k, v in value.items())]
        elif isinstance(value, list):
            for table in value:
                if isinstance(table, dict):
                    lines += [f"[[{key}]]", *(_toml_line(k, v) for k, v in table.items())]
    path = rules_copy / "gitleaks.toml"
    path.write_text("\n".join(lines))
    _loads_or_rules_error(load_gitleaks, path)


def _toml_line(key: Any, value: Any) -> str:
    """One ``key = value`` line; values TOML cannot hold become strings."""
    if isinstance(value, bool):
        text = str(value).lower()
    elif isinstance(value, int) and abs(value) < 2**63:
        text = str(value)
    elif isinstance(value, list) and all(isinstance(v, str) for v in value):
        text = "[" + ", ".join(_quoted(v) for v in value) + "]"
    else:
        text = _quoted(str(value))
    return f"{_quoted(str(key))} = {text}"


def _quoted(text: str) -> str:
    return (
        '"'
        + "".join(c if c.isprintable() and c not in '"\\' else f"\\u{ord(c):04x}" for c in text)
        + '"'
    )
