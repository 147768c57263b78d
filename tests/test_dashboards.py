"""Grafana dashboards follow the conventions and only query metrics the proxy exports.

tests/e2e/test_prometheus.py runs every query against a real Prometheus and PostgreSQL.
"""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from shadowlens.proxy.settings import PROJECT_ROOT
from tests.test_documentation import _our_metric_names

DASHBOARDS = sorted((PROJECT_ROOT / "dashboards").glob("*.json"))
UIDS = {"shadowlens-overview", "shadowlens-data-protection", "shadowlens-proxy-health"}
PROMETHEUS = {"type": "prometheus", "uid": "${datasource}"}
INVENTORY = {"type": "grafana-postgresql-datasource", "uid": "${inventory}"}
# Labels that would put a person or a destination into Prometheus.
FORBIDDEN_LABELS = ("user", "client_ip", "ip", "url", "host", "path")


def load(path: Any) -> dict[str, Any]:
    return dict(json.loads(path.read_text()))


def prometheus_targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every Prometheus query target of the dashboard's panels."""
    return [t for p in dashboard["panels"] for t in p["targets"] if "expr" in t]


def sql_targets(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every PostgreSQL query target of the dashboard's panels."""
    return [t for p in dashboard["panels"] for t in p["targets"] if "rawSql" in t]


def test_three_dashboards_with_stable_uids() -> None:
    assert {load(path)["uid"] for path in DASHBOARDS} == UIDS
    for path in DASHBOARDS:
        assert path.stem == load(path)["uid"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_every_panel_has_a_description_a_unit_and_a_datasource_variable(path: Any) -> None:
    dashboard = load(path)
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    for panel in dashboard["panels"]:
        assert len(panel["description"]) > 20, panel["title"]
        assert panel["fieldConfig"]["defaults"]["unit"], panel["title"]
        assert panel["datasource"] in (PROMETHEUS, INVENTORY), panel["title"]
        for target in panel["targets"]:
            assert target["datasource"] == panel["datasource"], panel["title"]
    if sql_targets(dashboard):
        assert variables["inventory"]["query"] == INVENTORY["type"]


@pytest.mark.parametrize("path", DASHBOARDS, ids=lambda p: p.stem)
def test_rates_use_the_rate_interval_and_query_only_real_metrics(path: Any) -> None:
    known = _our_metric_names()
    suffixes = ("_bucket", "_sum", "_count")
    for target in prometheus_targets(load(path)):
        expr = target["expr"]
        for window in re.findall(r"\[([^\]]+)\]", expr):
            assert window in ("$__rate_interval", "$__range"), expr
        for name in re.findall(r"shadowlens_[a-z_]+", expr):
            base = next((name.removesuffix(s) for s in suffixes if name.endswith(s)), name)
            assert name in known or base in known, (path.name, name)
        for label in FORBIDDEN_LABELS:
            assert not re.search(rf"\b(by|on)\s*\([^)]*\b{label}\b", expr), expr


def test_per_user_views_come_from_the_inventory() -> None:
    overview = load(PROJECT_ROOT / "dashboards" / "shadowlens-overview.json")
    titles = {p["title"] for p in overview["panels"] if p["datasource"] == INVENTORY}
    assert {"Top users of AI services", "Recent blocks"} <= titles
