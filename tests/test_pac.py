"""/proxy.pac: served without auth, and its JavaScript, run by node, routes as configured."""

from __future__ import annotations

import json
import os
import shutil
import subprocess

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError

from shadowlens.api.app import create_app
from shadowlens.proxy.cli import _pac
from shadowlens.proxy.settings import Settings

NODES = "proxy-a.corp.example:3128,proxy-b.corp.example:3128,[fd00::7]:8080"
FAILOVER = "PROXY proxy-a.corp.example:3128; PROXY proxy-b.corp.example:3128; PROXY [fd00::7]:8080"
# The PAC helpers browsers define, as the PAC convention specifies them.
HARNESS = """
function isPlainHostName(host) { return host.indexOf(".") < 0 && host.indexOf(":") < 0; }
function dnsDomainIs(host, domain) {
  return host.length >= domain.length && host.slice(host.length - domain.length) === domain;
}
function shExpMatch(str, pattern) {
  var re = pattern.replace(/[.+^${}()|[\\]\\\\]/g, "\\\\$&");
  re = re.replace(/\\*/g, ".*").replace(/\\?/g, ".");
  return new RegExp("^" + re + "$").test(str);
}
"""
ROUTES = [
    ("https://chatgpt.com/c/1", "chatgpt.com", FAILOVER),
    ("https://api.openai.com/v1/chat/completions", "api.openai.com", FAILOVER),
    ("http://example.com/", "EXAMPLE.com", FAILOVER),
    ("https://intranet.corp.example/wiki", "intranet.corp.example", "DIRECT"),
    ("https://corp.example/", "corp.example", "DIRECT"),
    ("https://evilcorp.example/", "evilcorp.example", FAILOVER),  # not a subdomain
    ("https://corp.example.evil.test/", "corp.example.evil.test", FAILOVER),
    ("https://bank.example/", "bank.example", "DIRECT"),
    ("http://wiki/", "wiki", "DIRECT"),
    ("http://localhost:8000/", "localhost", "DIRECT"),
    ("http://127.0.0.1:9000/", "127.0.0.1", "DIRECT"),
    ("http://[::1]:9000/", "::1", "DIRECT"),
    ("http://10.0.0.8/", "10.0.0.8", FAILOVER),
]


def _settings() -> Settings:
    return Settings(pac_proxies=NODES, pac_bypass_domains=".corp.example, Bank.Example")


def test_node_runs_the_pac_and_routes_each_url_as_configured() -> None:
    node = shutil.which("node")
    if node is None:
        if os.environ.get("CI") == "true":
            pytest.fail("node is not installed")
        pytest.skip("node is not installed (apt-get install nodejs)")
    pac = _pac(_settings())
    assert pac is not None
    calls = "".join(
        f"console.log(JSON.stringify(FindProxyForURL({json.dumps(url)}, {json.dumps(host)})));\n"
        for url, host, _ in ROUTES
    )
    run = subprocess.run(
        [node, "-e", HARNESS + pac + calls], capture_output=True, text=True, timeout=30
    )
    assert run.returncode == 0, run.stderr
    answers = [json.loads(line) for line in run.stdout.splitlines()]
    assert answers == [expected for _, _, expected in ROUTES]


def test_the_pac_is_served_without_auth_with_its_media_type() -> None:
    app = create_app(sessions=None, tokens=frozenset({"t"}), pac=_pac(_settings()))  # type: ignore[arg-type]
    response = TestClient(app).get("/proxy.pac")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("application/x-ns-proxy-autoconfig")
    assert "FindProxyForURL" in response.text


def test_without_proxies_there_is_no_pac() -> None:
    app = create_app(sessions=None, tokens=frozenset({"t"}), pac=_pac(Settings()))  # type: ignore[arg-type]
    response = TestClient(app).get("/proxy.pac")
    assert response.status_code == 404
    assert "SHADOWLENS_PAC_PROXIES" in response.json()["detail"]


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("pac_proxies", 'a.example:80"; return "DIRECT'),  # script injection
        ("pac_proxies", "a.example"),  # no port
        ("pac_proxies", "a.example:99999"),
        ("pac_bypass_domains", 'x"];BYPASS=["'),
        ("pac_bypass_domains", "a b.example"),
    ],
)
def test_a_bad_pac_setting_is_refused_at_start(setting: str, value: str) -> None:
    with pytest.raises(ValidationError, match="is not"):
        Settings.model_validate({setting: value})
