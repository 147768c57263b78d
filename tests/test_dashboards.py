"""Grafana dashboards parse and only query metrics the proxy exports."""

from __future__ import annotations

import json
import re

from proxy.settings import PROJECT_ROOT
from tests.test_documentation import _our_metric_names

DASHBOARDS = sorted((PROJECT_ROOT / "dashboards").glob("*.json"))


def test_dashboards_query_only_real_metrics() -> None:
    assert DASHBOARDS
    known = _our_metric_names()
    suffixes = ("_bucket", "_sum", "_count")
    for path in DASHBOARDS:
        dashboard = json.loads(path.read_text())
        exprs = [t["expr"] for p in dashboard["panels"] for t in p["targets"]]
        assert exprs, path
        for expr in exprs:
            for name in re.findall(r"shadowlens_[a-z_]+", expr):
                base = next((name.removesuffix(s) for s in suffixes if name.endswith(s)), name)
                assert name in known or base in known, (path.name, name)
