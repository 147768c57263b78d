"""Every setting, metric, command and API route is documented (after datasette's test)."""

from __future__ import annotations

import re

import pytest
from prometheus_client import REGISTRY

from shadowlens.api.app import create_app
from shadowlens.proxy import metrics
from shadowlens.proxy.cli import build_parser
from shadowlens.proxy.settings import PROJECT_ROOT, Settings

README = (PROJECT_ROOT / "README.md").read_text()
METRICS_DOC = (PROJECT_ROOT / "docs" / "metrics.md").read_text()


@pytest.mark.parametrize("name", sorted(Settings.model_fields))
def test_every_setting_is_in_the_readme(name: str) -> None:
    assert re.search(rf"\| `SHADOWLENS_{name.upper()}` \|", README), name


def test_the_readme_documents_no_setting_that_does_not_exist() -> None:
    documented = set(re.findall(r"\| `SHADOWLENS_([A-Z_]+)` \|", README))
    assert documented == {name.upper() for name in Settings.model_fields}


def _our_metric_names() -> set[str]:
    collectors = [v for v in vars(metrics).values() if hasattr(v, "_name")]
    suffix = {"counter": "_total", "info": "_info"}
    return {c._name + suffix.get(c._type, "") for c in collectors}


def test_every_metric_is_documented() -> None:
    names = _our_metric_names()
    assert len(names) >= 8
    for name in names:
        assert f"`{name}`" in METRICS_DOC, name
    registered = {m.name for m in REGISTRY.collect() if m.name.startswith("shadowlens_")}
    assert {n.removesuffix("_total").removesuffix("_info") for n in names} == registered


def test_every_route_is_documented() -> None:
    app = create_app(sessions=None, tokens=frozenset({"t"}))  # type: ignore[arg-type]
    routes = {
        f"{method.upper()} {path}"
        for path, operations in app.openapi()["paths"].items()
        for method in operations
    }
    assert "GET /api/v1/detections" in routes
    for route in routes | {"GET /metrics"}:
        assert f"`{route}`" in README, route


def test_every_command_is_in_the_readme_and_has_help(capsys: pytest.CaptureFixture[str]) -> None:
    parser = build_parser()
    commands = parser._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    assert commands is not None
    for name in commands:
        assert f"`shadowlens {name}" in README, name
        with pytest.raises(SystemExit) as exit_:
            parser.parse_args([name, "--help"])
        assert exit_.value.code == 0
    assert "usage: shadowlens" in capsys.readouterr().out


def test_the_readme_gives_the_classify_json_keys_exactly() -> None:
    from shadowlens.proxy.catalog import load_catalog
    from shadowlens.proxy.catalog.classify import classify_request
    from shadowlens.proxy.cli import describe
    from tests.conftest import RULES_DIR

    documented = re.search(
        r"An AI target gets\s+`(\{.+?\})`\. A target that is not AI gets fewer keys:\s+"
        r"`(\{.+?\})`, every one\s+null but `target`\.",
        README,
        re.DOTALL,
    )
    assert documented is not None
    ai_keys, other_keys = (re.findall(r'"(\w+)"', group) for group in documented.groups())
    catalog = load_catalog(RULES_DIR)
    ai = describe("chatgpt.com", classify_request(catalog, "chatgpt.com"))
    other = describe("example.com", classify_request(catalog, "example.com"))
    assert list(ai) == ai_keys and list(other) == other_keys
    assert [key for key, value in other.items() if value is not None] == ["target"]
