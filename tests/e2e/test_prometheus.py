"""Dashboards against the real thing: Debian's Prometheus scrapes a ``shadowlens run`` and a
separate ``proxy`` + ``api`` pair after mixed traffic, and every Prometheus query of every
dashboard returns a series; every PostgreSQL panel returns rows from the same inventory;
``promtool check metrics`` accepts each node's exposition."""

from __future__ import annotations

import os
import re
import shutil
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from shadowlens.proxy.settings import PROJECT_ROOT
from tests.conftest import RULES_DIR, throwaway_postgres
from tests.e2e.conftest import NO_DECRYPT, TOKEN, routed_args
from tests.e2e.upstream import Upstream
from tests.test_dashboards import DASHBOARDS, load, prometheus_targets, sql_targets

pytestmark = pytest.mark.e2e

POLICY = PROJECT_ROOT / "tests" / "fixtures" / "policy"
AWS_KEY = "AKIAZ7Q2XK4M7TR3WB6P"
USER = {"X-Authenticated-User": "alice"}
# What Grafana would put in the queries: the "All" value of $instance, windows that hold
# several 3 s scrapes.
SUBSTITUTIONS = {"$instance": ".*", "$__rate_interval": "30s", "$__range": "10m"}


def need(tool: str) -> str:
    """The tool's path; skip without it (fail under CI, whose .ci/run installs it)."""
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is not installed (apt-get install prometheus)"
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return path


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Node:
    """One shadowlens process and the address Prometheus scrapes."""

    process: subprocess.Popen[str]
    output: list[str]
    metrics: str  # host:port
    data_dir: Path
    proxy_url: str = ""

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()


def launch(command: list[str], env: dict[str, str]) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "shadowlens", *command],
        env=os.environ | env | {"PYTHONUNBUFFERED": "1"},
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    output: list[str] = []
    stdout = process.stdout
    assert stdout is not None
    threading.Thread(target=lambda: output.extend(iter(stdout.readline, "")), daemon=True).start()
    return process, output


def wait_for_line(output: list[str], pattern: str, process: subprocess.Popen[str]) -> str:
    """The first group of ``pattern`` once the process prints it; a loaded machine takes a
    while to load the catalog, so this waits longer than the one-proxy tests do."""
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and process.poll() is None:
        for line in output:
            if match := re.search(pattern, line):
                return match.group(1)
        time.sleep(0.1)
    raise AssertionError(f"no {pattern!r} from {process.args!r}:\n" + "".join(output))


def start_node(command: str, args: list[str], env: dict[str, str]) -> Node:
    """Start ``shadowlens COMMAND``; ``ready`` waits until it serves what Prometheus scrapes."""
    process, output = launch([command, *args], env)
    return Node(process, output, "", Path(env["SHADOWLENS_DATA_DIR"]))


def ready(node: Node, command: str) -> None:
    if command in ("run", "proxy"):
        listening = wait_for_line(node.output, r"proxy listening on (\S+)", node.process)
        node.proxy_url = f"http://{listening}"
    pattern = r"metrics on http://(\S+)/metrics" if command == "proxy" else r"API .* http://(\S+)"
    node.metrics = wait_for_line(node.output, pattern, node.process)


@pytest.fixture(scope="module")
def inventory_url() -> Iterator[str]:
    with throwaway_postgres() as url:
        yield url


@pytest.fixture(scope="module")
def rules_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the rules, so the test can break one and count the rules error."""
    copy = tmp_path_factory.mktemp("rules") / "rules"
    shutil.copytree(RULES_DIR, copy)
    return copy


@pytest.fixture(scope="module")
def nodes(
    tmp_path_factory: pytest.TempPathFactory,
    upstream: Upstream,
    inventory_url: str,
    rules_dir: Path,
) -> Iterator[dict[str, Node]]:
    dry_run = tmp_path_factory.mktemp("policy") / "dry-run.yaml"
    dry_run.write_text((POLICY / "scenario.yaml").read_text() + "dry_run: true\n")
    common = {
        "SHADOWLENS_DATABASE_URL": inventory_url,
        "SHADOWLENS_RULES_DIR": str(rules_dir),
        "SHADOWLENS_RULES_RELOAD_SECONDS": "0.2",
        "SHADOWLENS_IDENTITY_FILE": str(POLICY / "identities.yaml"),
        "SHADOWLENS_TRUSTED_PROXIES": "127.0.0.1/32",
        "SHADOWLENS_NO_DECRYPT_HOSTS": NO_DECRYPT,
        "SHADOWLENS_API_TOKENS": TOKEN,
        "SHADOWLENS_PROXY_PORT": "0",
        "SHADOWLENS_API_PORT": "0",
    }

    def data(name: str) -> dict[str, str]:
        return {"SHADOWLENS_DATA_DIR": str(tmp_path_factory.mktemp(name))}

    enforcing = common | {"SHADOWLENS_POLICY_FILE": str(POLICY / "scenario.yaml")}
    monitoring = common | {"SHADOWLENS_POLICY_FILE": str(dry_run)}
    metrics_port = {"SHADOWLENS_METRICS_PORT": str(free_port())}
    started: dict[str, Node] = {}
    try:
        started["run"] = start_node("run", routed_args(upstream), enforcing | data("run"))
        started["proxy"] = start_node(
            "proxy", routed_args(upstream), monitoring | data("proxy") | metrics_port
        )
        started["api"] = start_node("api", [], monitoring | data("api"))
        for command, node in started.items():  # started together: each takes a while
            ready(node, command)
        yield started
    finally:
        for node in started.values():
            node.stop()


@pytest.fixture(scope="module")
def prometheus(tmp_path_factory: pytest.TempPathFactory, nodes: dict[str, Node]) -> Iterator[str]:
    """Debian's Prometheus on a free loopback port, scraping each node every 3 s."""
    binary = need("prometheus")
    folder = tmp_path_factory.mktemp("prometheus")
    jobs = "".join(
        f"  - job_name: shadowlens-{name}\n    static_configs: [{{targets: ['{node.metrics}']}}]\n"
        for name, node in nodes.items()
    )
    config = folder / "prometheus.yml"
    config.write_text(
        f"global: {{scrape_interval: 3s, scrape_timeout: 3s}}\nscrape_configs:\n{jobs}"
    )
    address = f"127.0.0.1:{free_port()}"
    process, output = launch_prometheus(binary, config, folder / "data", address)
    url = f"http://{address}"
    try:
        wait_until(lambda: httpx.get(f"{url}/-/ready", timeout=2).status_code == 200, output)
        yield url
    finally:
        process.terminate()
        process.wait(timeout=30)


def launch_prometheus(
    binary: str, config: Path, data: Path, address: str
) -> tuple[subprocess.Popen[str], list[str]]:
    process = subprocess.Popen(
        [binary, f"--config.file={config}", f"--storage.tsdb.path={data}",
         f"--web.listen-address={address}", "--log.level=warn"],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
    )  # fmt: skip
    output: list[str] = []
    stdout = process.stdout
    assert stdout is not None
    threading.Thread(target=lambda: output.extend(iter(stdout.readline, "")), daemon=True).start()
    return process, output


def wait_until(check: object, output: list[str], timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.25)
    raise AssertionError("timed out:\n" + "".join(output[-40:]))


def query(prometheus: str, expr: str) -> list[dict[str, object]]:
    response = httpx.get(f"{prometheus}/api/v1/query", params={"query": expr}, timeout=10)
    body = response.json()
    assert body["status"] == "success", (expr, body)
    return list(body["data"]["result"])


def trusting(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


def replay_traffic(nodes: dict[str, Node], upstream: Upstream, rules_dir: Path) -> None:
    """AI and other traffic, a DLP finding redacted, a block, a coach, a tenant restriction,
    a passthrough and a rules error, through the real proxies."""
    for node in (nodes["run"], nodes["proxy"]):
        proxy_ca = node.data_dir / "mitmproxy" / "mitmproxy-ca-cert.pem"
        with httpx.Client(proxy=node.proxy_url, verify=trusting(proxy_ca), timeout=10) as client:
            client.get("https://example.com/", headers=USER)
            secret = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": AWS_KEY}]}
            client.post("https://api.openai.com/v1/chat/completions", json=secret, headers=USER)
            plain = {"model": "deepseek-chat", "messages": [{"role": "user", "content": "hi"}]}
            client.post("https://api.deepseek.com/v1/chat/completions", json=plain, headers=USER)
            client.get("https://www.midjourney.com/imagine", headers=USER)
            client.get("https://chatgpt.com/", headers=USER)
        upstream_ca = upstream.ca_file  # type: ignore[attr-defined]
        with httpx.Client(proxy=node.proxy_url, verify=trusting(upstream_ca), timeout=10) as client:
            client.get(f"https://{NO_DECRYPT}/", headers=USER)  # passed through undecrypted
    (rules_dir / "dlp" / "pii.yaml").write_text("detectors: [unclosed\n")


@pytest.fixture(scope="module")
def scraped(prometheus: str, nodes: dict[str, Node], upstream: Upstream, rules_dir: Path) -> str:
    """Prometheus once it has scraped every node after the traffic and the rules error."""
    wait_until(lambda: len(query(prometheus, 'up{job=~"shadowlens.*"} == 1')) == 3, [])
    replay_traffic(nodes, upstream, rules_dir)
    settled = (
        'sum(shadowlens_rules_errors_total{rules="dlp"}) >= 2',
        "sum(shadowlens_dlp_redactions_total) >= 1",
        "sum(shadowlens_tls_passthrough_total) >= 2",
        'sum(shadowlens_policy_decisions_total{enforced="False"}) >= 1',
        "sum(shadowlens_tenant_restrictions_total) >= 1",
        "sum(shadowlens_events_written_total) >= 10",
    )
    for expr in settled:
        output = nodes["run"].output + nodes["proxy"].output
        wait_until(lambda expr=expr: query(prometheus, expr), output)
    time.sleep(7)  # two more scrapes, so every rate has two samples after the traffic
    return prometheus


def substitute(expr: str) -> str:
    for variable, value in SUBSTITUTIONS.items():
        expr = expr.replace(variable, value)
    assert "$" not in expr, expr
    return expr


def test_every_prometheus_panel_query_returns_a_series(scraped: str) -> None:
    empty = []
    for path in DASHBOARDS:
        for target in prometheus_targets(load(path)):
            if not query(scraped, substitute(target["expr"])):
                empty.append((path.stem, target["expr"]))
    assert not empty, query(scraped, '{__name__=~"shadowlens_build.*|up"}')


def test_the_instance_variable_lists_every_node(scraped: str) -> None:
    nodes = {s["metric"]["instance"] for s in query(scraped, "shadowlens_build_info")}  # type: ignore[index]
    assert len(nodes) == 3


def test_every_postgresql_panel_returns_rows(scraped: str, inventory_url: str) -> None:
    engine = create_engine(inventory_url)
    empty = []
    try:
        with engine.connect() as connection:
            for path in DASHBOARDS:
                for target in sql_targets(load(path)):
                    sql = re.sub(
                        r"\$__timeFilter\(([^)]+)\)",
                        r"\1 > now() - interval '1 day'",
                        target["rawSql"],
                    )
                    if not connection.execute(text(sql)).all():
                        empty.append((path.stem, target["rawSql"]))
    finally:
        engine.dispose()
    assert not empty


def test_promtool_accepts_every_node_exposition(scraped: str, nodes: dict[str, Node]) -> None:
    promtool = need("promtool")
    for name, node in nodes.items():
        exposition = httpx.get(f"http://{node.metrics}/metrics", timeout=10).text
        assert "shadowlens_build_info" in exposition, name
        checked = subprocess.run(
            [promtool, "check", "metrics"], input=exposition, capture_output=True, text=True
        )
        assert checked.returncode == 0, (name, checked.stdout, checked.stderr)
