"""The container image, built and run here with podman: a request through the containerised
proxy is read back from the containerised API, the process is not root, and the CA stays in
the volume across containers. Then deploy/compose.yaml's shadowlens services run under
podman-compose: two proxies on one CA and one PostgreSQL, read back through the API node.

No registry image can be pulled here, so the base is Debian trixie made by debootstrap from the
machine's apt mirror and imported into podman; the tarball is cached between runs.
"""

from __future__ import annotations

import contextlib
import functools
import os
import re
import secrets
import shutil
import ssl
import string
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from shadowlens.proxy.settings import PROJECT_ROOT
from tests.e2e.conftest import TOKEN, UPSTREAM_HOSTS
from tests.e2e.test_prometheus import free_port
from tests.e2e.upstream import Upstream
from tests.net import closed_port

pytestmark = pytest.mark.e2e

BASE = "localhost/shadowlens-base"
IMAGE = "localhost/shadowlens:test"
CACHE = Path(os.environ.get("SHADOWLENS_TEST_CACHE", "/var/cache/shadowlens-test"))
BASE_TARBALL = CACHE / "base-trixie.tar.gz"
CONTAINERS_CONF = """\
[containers]
default_ulimits = []
pids_limit = 0
[engine]
runtime = "runc"
"""


def unavailable(reason: str) -> None:
    """Skip where podman cannot run at all; under CI, whose .ci/run installs it, fail."""
    if os.environ.get("CI") == "true":
        pytest.fail(reason)
    pytest.skip(reason)


@pytest.fixture(scope="module")
def podman(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[str]]:
    """The podman command with our containers.conf, once it has shown it can run."""
    binary = shutil.which("podman")
    if binary is None:
        unavailable("podman is not installed (apt-get install podman runc debootstrap)")
    conf = tmp_path_factory.mktemp("podman") / "containers.conf"
    conf.write_text(CONTAINERS_CONF)
    os.environ["CONTAINERS_CONF"] = str(conf)
    info = subprocess.run([str(binary), "info"], capture_output=True, text=True, timeout=120)
    if info.returncode != 0:
        unavailable(f"podman cannot run here: {info.stderr.strip()[-300:]}")
    yield [str(binary)]
    del os.environ["CONTAINERS_CONF"]


def run(args: list[str], timeout: float = 1800) -> str:
    done = subprocess.run(args, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args[:3]}: {done.stdout[-2000:]}{done.stderr[-3000:]}"
    return done.stdout


def apt_mirror() -> str:
    """The Debian mirror this machine's apt uses."""
    for source in sorted(Path("/etc/apt/sources.list.d").glob("*")):
        if found := re.search(r"^URIs:\s*(\S+/debian)\s*$", source.read_text(), re.M):
            return found.group(1)
    return "http://deb.debian.org/debian"


def ensure_base(podman: list[str]) -> None:
    """localhost/shadowlens-base: from podman's store, the cached tarball, or debootstrap."""
    if subprocess.run([*podman, "image", "exists", BASE]).returncode == 0:
        return
    if not BASE_TARBALL.exists():
        if shutil.which("debootstrap") is None:
            unavailable("debootstrap is not installed (apt-get install debootstrap)")
        root = CACHE / "trixie-root"
        shutil.rmtree(root, ignore_errors=True)
        run(["debootstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates",
             "trixie", str(root), apt_mirror()])  # fmt: skip
        partial = BASE_TARBALL.with_suffix(".partial")
        run(["tar", "-C", str(root), "-czf", str(partial), "."])
        partial.rename(BASE_TARBALL)
        shutil.rmtree(root)
    run([*podman, "import", str(BASE_TARBALL), BASE])


@pytest.fixture(scope="module")
def image(podman: list[str]) -> str:
    ensure_base(podman)
    run([*podman, "build", "--format", "docker", "--isolation=chroot", "--network", "host",
         "-v", "/etc/ssl/certs:/etc/ssl/certs:ro",
         "--env", "PIP_CERT=/etc/ssl/certs/ca-certificates.crt",
         "--build-arg", f"BASE_IMAGE={BASE}", "-t", IMAGE, str(PROJECT_ROOT)])  # fmt: skip
    return IMAGE


@pytest.fixture
def volume(podman: list[str]) -> Iterator[str]:
    name = f"shadowlens-test-{secrets.token_hex(4)}"
    run([*podman, "volume", "create", name])
    yield name
    subprocess.run([*podman, "volume", "rm", "-f", name], capture_output=True)


def test_the_image_keeps_its_healthcheck_and_runs_as_non_root(
    podman: list[str], image: str
) -> None:
    user = run([*podman, "image", "inspect", image, "--format", "{{.Config.User}}"]).strip()
    assert user == "10001:10001"
    health = run([*podman, "image", "inspect", image, "--format", "{{json .HealthCheck}}"])
    assert "/healthz" in health


def _start(
    podman: list[str], image: str, volume: str, upstream: Upstream, pki: Path
) -> tuple[str, int, int]:
    proxy_port, api_port = free_port(), free_port()
    routes = ",".join(f"{h}={upstream.port}" for h in UPSTREAM_HOSTS) + f",*={closed_port()}"
    # Only the upstream's CA, readable by the container's uid (pytest's tmp dirs are 0700).
    shutil.copy(upstream.ca_file, pki / "test-ca.pem")  # type: ignore[attr-defined]
    pki.chmod(0o755)
    (pki / "test-ca.pem").chmod(0o644)
    container = run([
        *podman, "run", "-d", "--network", "host",
        "-v", f"{volume}:/var/lib/shadowlens",
        "-v", f"{PROJECT_ROOT / 'tests' / 'e2e'}:/e2e:ro", "-v", f"{pki}:/pki:ro",
        "-e", "SHADOWLENS_PROXY_HOST=127.0.0.1", "-e", "SHADOWLENS_API_HOST=127.0.0.1",
        "-e", f"SHADOWLENS_PROXY_PORT={proxy_port}", "-e", f"SHADOWLENS_API_PORT={api_port}",
        "-e", f"SHADOWLENS_API_TOKENS={TOKEN}",
        "-e", "SHADOWLENS_PROXY_ALLOWED_CLIENTS=127.0.0.1/32",
        image, "run", "-s", "/e2e/loopback_routes.py", "--set", f"loopback_routes={routes}",
        "--set", "ssl_verify_upstream_trusted_ca=/pki/test-ca.pem",
    ]).strip()  # fmt: skip
    return container, proxy_port, api_port


def _wait_healthy(podman: list[str], container: str, api: str) -> None:
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"{api}/healthz", timeout=2).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(1)
    logs = subprocess.run([*podman, "logs", container], capture_output=True, text=True)
    raise AssertionError(f"the container's API never answered:\n{logs.stdout}{logs.stderr}")


def test_a_request_through_the_container_is_read_back_from_its_api(
    podman: list[str], image: str, volume: str, upstream: Upstream, tmp_path: Path
) -> None:
    container, proxy_port, api_port = _start(podman, image, volume, upstream, tmp_path)
    api = f"http://127.0.0.1:{api_port}"
    try:
        _wait_healthy(podman, container, api)
        run([*podman, "healthcheck", "run", container])
        pid = run([*podman, "inspect", container, "--format", "{{.State.Pid}}"]).strip()
        uids = re.search(r"^Uid:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.M)
        assert uids is not None and uids.group(1) == "10001"  # the proxy itself, not root
        mount = run([*podman, "volume", "inspect", volume, "--format", "{{.Mountpoint}}"])
        ca_file = Path(mount.strip()) / "mitmproxy" / "mitmproxy-ca-cert.pem"
        trust = ssl.create_default_context(cafile=str(ca_file))
        proxy = f"http://127.0.0.1:{proxy_port}"
        with httpx.Client(proxy=proxy, verify=trust, timeout=30) as client:
            chat = {"model": "gpt-4o-mini", "messages": [{"role": "user", "content": "hi"}]}
            reply = client.post("https://api.openai.com/v1/chat/completions", json=chat)
        assert reply.status_code == 200
        detections = _poll_detections(api)
        assert [d["service_id"] for d in detections] == ["openai-api"]
        ca_before = ca_file.read_bytes()
    finally:
        subprocess.run([*podman, "rm", "-f", "-t", "10", container], capture_output=True)
    printed = run([*podman, "run", "--rm", "-v", f"{volume}:/var/lib/shadowlens", image, "ca"])
    assert printed.startswith("/var/lib/shadowlens/mitmproxy/mitmproxy-ca-cert.pem")
    assert ca_file.read_bytes() == ca_before  # a new container kept the CA clients trust


def _poll_detections(api: str, count: int = 1) -> list[dict[str, object]]:
    headers = {"Authorization": f"Bearer {TOKEN}"}
    deadline = time.monotonic() + 30
    while True:
        items = httpx.get(f"{api}/api/v1/detections", headers=headers, timeout=10).json()["items"]
        if len(items) >= count or time.monotonic() > deadline:
            return list(items)
        time.sleep(0.5)


# deploy/compose.yaml's shadowlens services, run by podman-compose on the host network with
# the host's PostgreSQL (no registry image of PostgreSQL, Prometheus or Grafana can be pulled
# here). Everything else in the file stands as written: the one-shot migrate and ca services
# the nodes wait for, the shared CA volume, one spool volume per proxy, the secrets.
COMPOSE_OVERRIDE = """\
x-host: &host
  network_mode: host
  networks: !reset []
services:
  migrate: {<<: *host, depends_on: !reset {}, environment: {SHADOWLENS_DATABASE_URL: "$db"}}
  ca: {<<: *host, environment: {SHADOWLENS_DATABASE_URL: "$db"}}
  proxy-a:
    <<: *host
    environment: {SHADOWLENS_DATABASE_URL: "$db", SHADOWLENS_PROXY_HOST: 127.0.0.1,
                  SHADOWLENS_PROXY_PORT: "$proxy_a", SHADOWLENS_API_HOST: 127.0.0.1,
                  SHADOWLENS_METRICS_PORT: "$metrics_a"}
  proxy-b:
    <<: *host
    environment: {SHADOWLENS_DATABASE_URL: "$db", SHADOWLENS_PROXY_HOST: 127.0.0.1,
                  SHADOWLENS_PROXY_PORT: "$proxy_b", SHADOWLENS_API_HOST: 127.0.0.1,
                  SHADOWLENS_METRICS_PORT: "$metrics_b"}
  api:
    <<: *host
    environment: {SHADOWLENS_DATABASE_URL: "$db", SHADOWLENS_API_HOST: 127.0.0.1,
                  SHADOWLENS_API_PORT: "$api"}
"""
SHADOWLENS_SERVICES = ("migrate", "ca", "proxy-a", "proxy-b", "api")


@pytest.fixture
def stack(
    podman: list[str], image: str, postgres_url: str, tmp_path: Path
) -> Iterator[dict[str, int]]:
    """The compose file's shadowlens services, up; their ports. Torn down with its volumes."""
    found = shutil.which("podman-compose", path=str(Path(sys.executable).parent))
    if found is None:
        unavailable("podman-compose is not installed (it is a dev dependency)")
    compose = str(found)
    ports = {name: free_port() for name in ("proxy_a", "proxy_b", "metrics_a", "metrics_b", "api")}
    override = tmp_path / "override.yaml"
    override.write_text(string.Template(COMPOSE_OVERRIDE).substitute(ports, db=postgres_url))
    project = f"sltest{secrets.token_hex(3)}"
    command = [compose, "-p", project, "-f", str(PROJECT_ROOT / "deploy" / "compose.yaml"),
               "-f", str(override)]  # fmt: skip
    env = {**os.environ, "SHADOWLENS_IMAGE": image, "POSTGRES_PASSWORD": "unused",
           "GRAFANA_DB_PASSWORD": "unused", "GRAFANA_ADMIN_PASSWORD": "unused",
           "SHADOWLENS_API_TOKENS": TOKEN, "SHADOWLENS_COACH_TOKEN_KEY": secrets.token_hex(32),
           "SHADOWLENS_PROXY_ALLOWED_CLIENTS": "127.0.0.1/32"}  # fmt: skip
    try:
        up = subprocess.run([*command, "up", "-d", "--no-build", *SHADOWLENS_SERVICES],
                            env=env, capture_output=True, text=True, timeout=900)  # fmt: skip
        assert up.returncode == 0, up.stderr[-3000:]
        yield ports
    finally:
        subprocess.run([*command, "down", "-v", "-t", "10"], env=env, capture_output=True)


def test_the_compose_stack_runs_two_proxies_on_one_ca_and_one_database(
    podman: list[str], stack: dict[str, int]
) -> None:
    api = f"http://127.0.0.1:{stack['api']}"
    _wait_until(lambda: httpx.get(f"{api}/healthz", timeout=2).status_code == 200)
    paths = {"proxy_a": "/v1/models", "proxy_b": "/v1/embeddings"}
    for proxy, path in paths.items():
        proxy_url = f"http://127.0.0.1:{stack[proxy]}"
        _wait_until(functools.partial(_answers, proxy_url))
        # No route out of this machine: each proxy records the attempt, answered 502.
        reply = httpx.get(f"http://api.openai.com{path}", proxy=proxy_url, timeout=30)
        assert reply.status_code == 502
    detections = _poll_detections(api, count=2)
    assert sorted(str(d["path"]) for d in detections) == sorted(paths.values())
    assert {d["service_id"] for d in detections} == {"openai-api"}
    cas = {
        run([*podman, "exec", container, "sha256sum",
             "/var/lib/shadowlens/mitmproxy/mitmproxy-ca-cert.pem"]).split()[0]
        for container in _containers(podman, "proxy")
    }  # fmt: skip
    assert len(cas) == 1  # both proxies sign with the one CA clients trust
    for container in _containers(podman, "proxy"):
        mode = run(
            [*podman, "exec", container, "stat", "-c", "%a", "/var/lib/shadowlens/mitmproxy"]
        )
        assert mode.strip() == "700"  # the shared CA volume is not open to other users


def _containers(podman: list[str], prefix: str) -> list[str]:
    names = run([*podman, "ps", "--format", "{{.Names}}"]).split()
    return [n for n in names if n.startswith("sltest") and f"_{prefix}-" in n]


def _answers(url: str) -> bool:
    try:
        return httpx.get(url, timeout=2).status_code > 0
    except httpx.HTTPError:
        return False


def _wait_until(ready: Callable[[], bool], seconds: float = 300) -> None:
    deadline = time.monotonic() + seconds
    while True:
        with contextlib.suppress(httpx.HTTPError):
            if ready():
                return
        assert time.monotonic() < deadline, "the stack did not come up"
        time.sleep(1)
