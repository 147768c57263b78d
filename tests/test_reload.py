"""Hot reload: a change takes effect, a bad file keeps the last good rules and is counted."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

from prometheus_client import REGISTRY

from shadowlens.proxy.catalog import HostIndex, load_catalog
from shadowlens.proxy.reload import RulesWatcher
from shadowlens.proxy.runtime import CatalogRef
from tests.conftest import RULES_DIR


def _errors() -> float:
    value = REGISTRY.get_sample_value("shadowlens_rules_errors_total", {"rules": "services"})
    return value or 0.0


def _touch_write(path: Path, text: str) -> None:
    path.write_text(text)
    stat = path.stat()  # a new mtime even on a coarse clock
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))


def test_reload_applies_changes_and_keeps_the_last_good_catalog(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    ref = CatalogRef(load_catalog(rules))
    watcher: RulesWatcher[HostIndex] = RulesWatcher(
        [rules],
        kind="services",
        load=lambda: load_catalog(rules),
        apply=lambda c: setattr(ref, "current", c),
    )
    assert watcher.poll() is False  # nothing changed yet
    assert ref.current.lookup("newai.example") is None

    extra = rules / "services" / "zz-local.yaml"
    entry = "  - {id: new-ai, name: New, vendor: V, category: llm_api, domains: [newai.example]}\n"
    _touch_write(extra, "services:\n" + entry)
    assert watcher.poll() is True
    assert ref.current.lookup("api.newai.example").service.id == "new-ai"  # type: ignore[union-attr]

    good = ref.current
    before = _errors()
    _touch_write(extra, "services:\n  - {id: broken}\n")
    assert watcher.poll() is False
    assert ref.current is good  # the last good catalog stays in force
    assert _errors() == before + 1


def test_policy_reload_swaps_rules_and_keeps_the_last_good_policy(tmp_path: Path) -> None:
    from shadowlens.proxy.runtime import PolicyRef
    from shadowlens.proxy.settings import Settings

    policy_file = tmp_path / "policy.yaml"
    policy_file.write_text("rules: [{id: first, action: monitor}]\n")
    settings = Settings(
        data_dir=tmp_path, policy_file=policy_file, identity_file=tmp_path / "none.yaml"
    )
    ref = PolicyRef(settings)
    watcher: RulesWatcher[Any] = RulesWatcher(
        [policy_file], kind="policy", load=ref.load, apply=ref.apply
    )
    _touch_write(policy_file, "rules: [{id: second, action: block}]\n")
    assert watcher.poll() is True
    assert [r.id for r in ref.current.rules] == ["second"]
    before = REGISTRY.get_sample_value("shadowlens_rules_errors_total", {"rules": "policy"}) or 0
    _touch_write(policy_file, "rules: [{id: third, action: explode}]\n")
    assert watcher.poll() is False
    assert [r.id for r in ref.current.rules] == ["second"]
    after = REGISTRY.get_sample_value("shadowlens_rules_errors_total", {"rules": "policy"})
    assert after == before + 1
