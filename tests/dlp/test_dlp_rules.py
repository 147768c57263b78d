"""Detector files: validation errors name file, entry and reason; gitleaks configs import."""

from __future__ import annotations

from pathlib import Path

import pytest

from shadowlens.proxy.dlp import load_scanner
from shadowlens.proxy.dlp.rules import load_gitleaks, load_rules
from shadowlens.proxy.errors import RulesError

GOOD = """
defaults:
  category: secret
  severity: high
detectors:
  - id: acme-token
    regex: '\\bacme_[a-z0-9]{24}\\b'
    keywords: [acme_]
    min_entropy: 3.0
"""


def _write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


def test_minimal_rules_dir(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", GOOD)
    scanner = load_scanner(tmp_path, fingerprint_key=b"k", engine="python")
    text = "token acme_k3j9x8v7b6n5m4q2w1e0r9t8 here, acme_aaaaaaaaaaaaaaaaaaaaaaaa not"
    assert [text[f.start : f.end] for f in scanner.scan(text)] == ["acme_k3j9x8v7b6n5m4q2w1e0r9t8"]


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("  - id: x1\n    category: secret\n    regex: '(unclosed'\n", "does not compile"),
        ("  - id: x2\n    category: nope\n    regex: 'a'\n", "category"),
        ("  - id: x3\n    category: pii\n    regex: 'a'\n    validators: [luhnn]\n", "luhnn"),
        (
            "  - id: x4\n    category: pii\n    regex: 'a'\n    validators: ['stdnum:xx.yy']\n",
            "stdnum",
        ),
        ("  - id: x5\n    category: pii\n    regex: 'a'\n    severity: urgent\n", "severity"),
        ("  - id: x6\n    category: pii\n    regex: 'a'\n    group: 2\n", "group"),
        ("  - id: x7\n    category: pii\n    regex: 'a'\n    colour: red\n", "unknown keys"),
        ("  - id: Bad Id\n    category: pii\n    regex: 'a'\n", "id must"),
        ("  - id: x8\n    category: pii\n", "regex is required"),
        ("  - id: x9\n    kind: magic\n    category: pii\n    regex: a\n", "unknown kind"),
    ],
)
def test_bad_detector_is_rejected_with_file_and_entry(
    tmp_path: Path, entry: str, reason: str
) -> None:
    path = _write(tmp_path, "bad.yaml", "detectors:\n" + entry)
    with pytest.raises(RulesError) as info:
        load_rules(tmp_path)
    assert info.value.file == str(path)
    assert reason in info.value.reason
    assert info.value.entry != ""


def test_duplicate_ids_and_bad_yaml(tmp_path: Path) -> None:
    _write(tmp_path, "a.yaml", GOOD)
    _write(tmp_path, "b.yaml", GOOD)
    with pytest.raises(RulesError, match="duplicate id"):
        load_rules(tmp_path)
    (tmp_path / "b.yaml").write_text("detectors: [unclosed")
    with pytest.raises(RulesError, match="cannot read"):
        load_rules(tmp_path)
    with pytest.raises(RulesError, match="does not exist"):
        load_rules(tmp_path / "missing")


GITLEAKS = """
title = "our team config"

[allowlist]
description = "global"
regexes = ['''(?i)dummy''']

[[rules]]
id = "acme-internal-token"
description = "ACME internal API token"
regex = '''(?i)\\b(acme_[a-z0-9]{32})(?:['|\\"|\\n|\\r|\\s|\\x60|;]|$)'''
secretGroup = 1
keywords = ["acme_"]
entropy = 3.0

[rules.allowlist]
stopwords = ["acme_test"]

[[rules]]
id = "paths only"
path = '''\\.pem$'''

[[rules]]
id = "Build Key"
regex = '''bk-[[:xdigit:]]{16}\\z'''
keywords = ["bk-"]
"""


def test_gitleaks_import(tmp_path: Path) -> None:
    path = _write(tmp_path, "team.toml", GITLEAKS)
    detectors = load_gitleaks(path)
    assert [d.id for d in detectors] == ["gitleaks:acme-internal-token", "gitleaks:build-key"]
    acme = detectors[0]
    assert acme.min_entropy == 3.0 and acme.keywords == ("acme_",) and acme.group == 1

    _write(tmp_path, "base.yaml", GOOD)
    for engine in ("python", "hyperscan"):
        scanner = load_scanner(tmp_path, fingerprint_key=b"k", engine=engine)
        text = (
            "use acme_9f8e7d6c5b4a39281706f5e4d3c2b1a0 now; "
            "not acme_test5b4a39281706f5e4d3c2b1a0ffffff nor acme_dummy4a39281706f5e4d3c2b1a0ff "
            "build bk-0123abcd4567ef89"
        )
        found = [(f.detector, text[f.start : f.end]) for f in scanner.scan(text)]
        assert found == [
            ("gitleaks:acme-internal-token", "acme_9f8e7d6c5b4a39281706f5e4d3c2b1a0"),
            ("gitleaks:build-key", "bk-0123abcd4567ef89"),
        ], engine


def test_gitleaks_bad_regex_names_rule(tmp_path: Path) -> None:
    path = _write(tmp_path, "x.toml", "[[rules]]\nid = 'broken'\nregex = '''(a'''\n")
    with pytest.raises(RulesError) as info:
        load_gitleaks(path)
    assert info.value.entry == "broken"
    _write(tmp_path, "y.toml", "not toml [")
    with pytest.raises(RulesError, match="cannot read gitleaks"):
        load_gitleaks(tmp_path / "y.toml")


def test_project_rules_have_descriptions() -> None:
    rules = load_rules(Path(__file__).resolve().parents[2] / "rules" / "dlp")
    assert all(d.description for d in rules.detectors)


def test_project_rules_match_the_json_schema() -> None:
    import json

    import yaml

    jsonschema = pytest.importorskip("jsonschema")
    rules_dir = Path(__file__).resolve().parents[2] / "rules" / "dlp"
    schema = json.loads((rules_dir / "schema.json").read_text())
    for path in sorted(rules_dir.glob("*.yaml")):
        jsonschema.validate(yaml.safe_load(path.read_text()), schema)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"detectors": [{"id": "x", "colour": "red"}]}, schema)


def test_schema_lists_every_key_the_loader_accepts() -> None:
    import json

    from shadowlens.proxy.dlp.rules import _DETECTOR_KEYS

    rules_dir = Path(__file__).resolve().parents[2] / "rules" / "dlp"
    schema = json.loads((rules_dir / "schema.json").read_text())
    regex_keys = set(schema["$defs"]["fields"]["properties"])
    block_keys = set(schema["properties"]["detectors"]["items"]["oneOf"][1]["properties"])
    assert regex_keys | block_keys == _DETECTOR_KEYS
