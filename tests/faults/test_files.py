"""Rules files broken or deleted under the running proxy's own watchers: the last good stay."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import REGISTRY

from shadowlens.addons.bundle import Bundle
from shadowlens.addons.launcher import shadowlens_addons
from shadowlens.addons.rulesreloader import RulesReloader
from shadowlens.proxy.reload import RulesWatcher
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import Settings
from tests.conftest import RULES_DIR
from tests.test_reload import _touch_write


def _errors(kind: str) -> float:
    return REGISTRY.get_sample_value("shadowlens_rules_errors_total", {"rules": kind}) or 0.0


@pytest.fixture
def watchers(tmp_path: Path) -> Iterator[dict[str, RulesWatcher[Any]]]:
    """The watchers the proxy itself runs, over a copy of the rules, by kind."""
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    core = Core.open(Settings(data_dir=tmp_path / "data", rules_dir=rules))
    [bundle, _] = shadowlens_addons(core)
    assert isinstance(bundle, Bundle)
    [reloader] = [a for a in bundle.children if isinstance(a, RulesReloader)]
    yield {w.kind: w for w in reloader.watchers}
    core.close()


@pytest.mark.parametrize(
    ("kind", "target"),
    [("policy", "policy.yaml"), ("services", "services"), ("dlp", "dlp")],
)
def test_deleted_rules_keep_the_last_good_ones_until_restored(
    watchers: dict[str, RulesWatcher[Any]], tmp_path: Path, kind: str, target: str
) -> None:
    watcher = watchers[kind]
    path = tmp_path / "rules" / target
    kept = tmp_path / "kept"
    shutil.move(path, kept)
    before = _errors(kind)
    applied: list[object] = []
    apply = watcher._apply
    watcher._apply = applied.append
    assert watcher.poll() is False
    assert applied == []  # nothing replaced the rules in force
    assert _errors(kind) == before + 1
    shutil.move(kept, path)
    for file in [path, *path.rglob("*")]:
        if file.is_file():
            _touch_write(file, file.read_text())
    assert watcher.poll() is True
    assert len(applied) == 1
    watcher._apply = apply


def test_a_broken_policy_file_is_rejected_and_counted(
    watchers: dict[str, RulesWatcher[Any]], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    policy = tmp_path / "rules" / "policy.yaml"
    before = _errors("policy")
    _touch_write(policy, "rules: [{id: x, action: explode}\n")  # truncated YAML
    assert watchers["policy"].poll() is False
    assert _errors("policy") == before + 1
    assert "policy rules rejected, keeping the last good ones" in caplog.text


def test_a_loader_that_raises_what_it_should_not_is_counted_and_reload_goes_on(
    tmp_path: Path,
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("v1")

    def load() -> str:
        text = rules.read_text()
        if text == "deep":
            raise RecursionError("a loader bug")  # not a RulesError
        return text

    applied: list[str] = []
    watcher: RulesWatcher[str] = RulesWatcher(
        [rules], kind="policy", load=load, apply=applied.append
    )
    before = _errors("policy")
    _touch_write(rules, "deep")
    assert watcher.poll() is False  # RulesReloader's task would have died on a raise here
    assert _errors("policy") == before + 1
    _touch_write(rules, "v2")
    assert watcher.poll() is True
    assert applied == ["v2"]
