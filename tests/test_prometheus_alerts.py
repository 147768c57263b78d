"""deploy/alerts.yml: the seven Prometheus alerts, valid for promtool and unit-tested by it."""

from __future__ import annotations

import re
import subprocess

import yaml

from shadowlens.proxy.settings import PROJECT_ROOT
from tests.e2e.test_prometheus import need
from tests.test_documentation import _our_metric_names

DEPLOY = PROJECT_ROOT / "deploy"
ALERTS = {
    "ShadowlensEventsDropped",
    "ShadowlensSpoolGrowing",
    "ShadowlensWriterQueueNearCapacity",
    "ShadowlensRulesReloadFailing",
    "ShadowlensDlpFailuresRising",
    "ShadowlensNodeDown",
    "ShadowlensAddedLatencyHigh",
}


def _rules() -> list[dict[str, str]]:
    groups = yaml.safe_load((DEPLOY / "alerts.yml").read_text())["groups"]
    return [rule for group in groups for rule in group["rules"]]


def _promtool(*args: str) -> None:
    done = subprocess.run(
        [need("promtool"), *args], cwd=DEPLOY, capture_output=True, text=True, timeout=60
    )
    assert done.returncode == 0, done.stdout + done.stderr


def test_the_seven_alerts_query_only_real_metrics() -> None:
    rules = _rules()
    assert {rule["alert"] for rule in rules} == ALERTS
    known = _our_metric_names()
    for rule in rules:
        for name in re.findall(r"shadowlens_[a-z_]+", rule["expr"]):
            assert name.removesuffix("_bucket") in known, (rule["alert"], name)


def test_promtool_checks_the_rules() -> None:
    _promtool("check", "rules", "alerts.yml")


def test_promtool_unit_tests_fire_every_alert() -> None:
    tested = set(re.findall(r"alertname: (\w+)", (DEPLOY / "alerts.test.yml").read_text()))
    assert tested == ALERTS
    _promtool("test", "rules", "alerts.test.yml")
