"""deploy/compose.yaml holds together: what it names exists, and it starts in a valid order."""

from __future__ import annotations

import re
from graphlib import TopologicalSorter
from typing import Any

import yaml

from shadowlens.proxy.settings import PROJECT_ROOT, Settings

DEPLOY = PROJECT_ROOT / "deploy"
COMPOSE = yaml.safe_load((DEPLOY / "compose.yaml").read_text())
SERVICES: dict[str, dict[str, Any]] = COMPOSE["services"]
SECRETS = ("POSTGRES_PASSWORD", "GRAFANA_DB_PASSWORD", "GRAFANA_ADMIN_PASSWORD",
           "SHADOWLENS_API_TOKENS", "SHADOWLENS_COACH_TOKEN_KEY")  # fmt: skip


# Specified in the enforcement issue (the lead's change); the image relies on it.
def _depends(service: dict[str, Any]) -> dict[str, dict[str, str]]:
    return dict(service.get("depends_on") or {})


def _proxies() -> dict[str, dict[str, Any]]:
    return {name: s for name, s in SERVICES.items() if s.get("command") == ["proxy"]}


def test_dependencies_exist_and_form_a_dag() -> None:
    graph = {name: set(_depends(service)) for name, service in SERVICES.items()}
    for name, needs in graph.items():
        assert needs <= set(SERVICES), name
    order = list(TopologicalSorter(graph).static_order())  # CycleError on a cycle
    assert order.index("migrate") < order.index("proxy-a")
    conditions = {"service_started", "service_healthy", "service_completed_successfully"}
    for service in SERVICES.values():
        assert {d["condition"] for d in _depends(service).values()} <= conditions


def test_every_node_waits_for_the_one_shot_migration() -> None:
    assert SERVICES["migrate"]["command"] == ["db", "upgrade"]
    assert SERVICES["migrate"]["restart"] == "no"
    assert "healthcheck" in SERVICES["postgres"]
    assert _depends(SERVICES["migrate"])["postgres"]["condition"] == "service_healthy"
    for name in [*_proxies(), "api"]:
        assert _depends(SERVICES[name])["migrate"] == {
            "condition": "service_completed_successfully"
        }, name


def test_two_proxies_share_one_ca_and_one_database_but_not_a_spool() -> None:
    proxies = _proxies()
    assert len(proxies) == 2
    mounts = [set(p["volumes"]) for p in proxies.values()]
    assert all("ca:/var/lib/shadowlens/mitmproxy" in m for m in mounts)
    data = [{v for v in m if v.endswith(":/var/lib/shadowlens")} for m in mounts]
    assert len(data[0] | data[1]) == 2  # each its own data dir: spools are per node
    urls = {p["environment"]["SHADOWLENS_DATABASE_URL"] for p in proxies.values()}
    keys = {p["environment"]["SHADOWLENS_COACH_TOKEN_KEY"] for p in proxies.values()}
    assert len(urls) == len(keys) == 1
    assert _depends(next(iter(proxies.values())))["ca"]["condition"] == (
        "service_completed_successfully"
    )


def test_every_volume_mount_and_network_named_exists() -> None:
    for name, service in SERVICES.items():
        for mount in service.get("volumes", []):
            source = mount.split(":")[0]
            if source.startswith("."):
                assert (DEPLOY / source).exists(), (name, source)
            else:
                assert source in COMPOSE["volumes"], (name, source)
        networks = service.get("networks", [])
        assert networks, name
        assert set(networks) <= set(COMPOSE["networks"]), name


def test_every_shadowlens_variable_is_a_real_setting() -> None:
    settings = {f"SHADOWLENS_{field.upper()}" for field in Settings.model_fields}
    for name, service in SERVICES.items():
        for variable in service.get("environment", {}):
            if variable.startswith("SHADOWLENS_"):
                assert variable in settings, (name, variable)


def test_secrets_are_required_and_tags_pinned() -> None:
    text = (DEPLOY / "compose.yaml").read_text()
    for secret in SECRETS:
        assert f"${{{secret}:?" in text, secret
        assert f"${{{secret}:-" not in text, secret
    for name, service in SERVICES.items():
        image = service["image"]
        tag = re.sub(r"\$\{[A-Z_]+:-([^}]+)\}", r"\1", image).rsplit(":", 1)
        assert len(tag) == 2 and tag[1] not in ("latest", ""), (name, image)


def test_metrics_stay_on_the_backend_network() -> None:
    assert COMPOSE["networks"]["backend"]["internal"] is True
    prometheus = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    targets = {t for job in prometheus["scrape_configs"] for c in job["static_configs"]
               for t in c["targets"]}  # fmt: skip
    for name, service in _proxies().items():
        assert not any("9464" in port for port in service["ports"]), name
        address = service["networks"]["backend"]["ipv4_address"]
        assert service["environment"]["SHADOWLENS_API_HOST"] == address
        assert f"{address}:9464" in targets
    assert all(job["job_name"].startswith("shadowlens") for job in prometheus["scrape_configs"])
    assert "alerts.yml" in prometheus["rule_files"]
