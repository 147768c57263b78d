"""Two real proxy processes share one real PostgreSQL: every counter adds up exactly, and
a user coached by one may continue through the other."""

from __future__ import annotations

import re
import ssl
import threading
import time
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from shadowlens.proxy.inventory.db import make_engine, session_factory
from shadowlens.proxy.inventory.models import HourlyRollup, ServiceSeen, ServiceUser, UserSeen
from shadowlens.proxy.policy.responses import COACH_PATH
from tests.e2e.conftest import (
    HERE,
    RunningProxy,
    closed_port,
    routed_args,
    start_shadowlens,
    stop_shadowlens,
)
from tests.e2e.upstream import Upstream

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

POLICY = Path(__file__).parents[1] / "fixtures" / "policy"
USERS = ("alice", "bob", "carol")
PER_USER = 40


def _hammer(proxy: RunningProxy, user: str, errors: list[str]) -> None:
    proxy_url = proxy.proxy_url.replace("http://", f"http://{user}:pw@")
    trust = ssl.create_default_context(cafile=str(proxy.ca_file))
    with httpx.Client(proxy=proxy_url, verify=trust, timeout=10) as client:
        for n in range(PER_USER):
            try:
                status = client.post(f"https://chatgpt.com/backend-api/c/{n}", content=b"x" * n)
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
                continue
            if status.status_code != 502:  # chatgpt.com is routed to a closed port
                errors.append(str(status.status_code))


def test_two_proxies_one_postgres_lose_no_update(tmp_path: Path, postgres_url: str) -> None:
    mitm_args = ["-s", str(HERE / "loopback_routes.py"),
                 "--set", f"loopback_routes=*={closed_port()}",
                 "--set", "proxyauth=any"]  # fmt: skip
    env = {"SHADOWLENS_DATABASE_URL": postgres_url, "SHADOWLENS_WRITER_FLUSH_SECONDS": "0.05"}
    proxies = [start_shadowlens(tmp_path / f"node{n}", mitm_args, env) for n in range(2)]
    try:
        errors: list[str] = []
        threads = [
            threading.Thread(target=_hammer, args=(proxy, user, errors))
            for proxy in proxies
            for user in USERS
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        assert errors == []
    finally:
        codes = [stop_shadowlens(proxy) for proxy in proxies]  # drains each writer
    assert codes == [0, 0]
    total = 2 * len(USERS) * PER_USER
    bytes_up = 2 * len(USERS) * sum(range(PER_USER))
    engine = make_engine(postgres_url)
    try:
        with session_factory(engine)() as session:
            service = session.get(ServiceSeen, "chatgpt")
            assert service is not None
            assert (service.requests, service.bytes_up, service.users) == (total, bytes_up, 3)
            users = {u.id: u.requests for u in session.scalars(select(UserSeen))}
            assert users == dict.fromkeys(USERS, 2 * PER_USER)
            assert session.scalar(select(func.count()).select_from(ServiceUser)) == 3
            assert session.scalar(select(func.sum(HourlyRollup.requests))) == total
            assert session.scalar(select(func.sum(HourlyRollup.bytes_up))) == bytes_up
    finally:
        engine.dispose()


def test_a_user_coached_by_one_proxy_continues_through_the_other(
    tmp_path: Path, postgres_url: str, upstream: Upstream
) -> None:
    env = {
        "SHADOWLENS_DATABASE_URL": postgres_url,
        "SHADOWLENS_POLICY_FILE": str(POLICY / "scenario.yaml"),
        "SHADOWLENS_COACH_TOKEN_KEY": "one key for the cluster",
        "SHADOWLENS_COACH_SYNC_SECONDS": "0.1",
        "SHADOWLENS_WRITER_FLUSH_SECONDS": "0.05",
    }
    args = [*routed_args(upstream), "--set", "proxyauth=any"]
    first, second = (start_shadowlens(tmp_path / f"node{n}", args, env) for n in range(2))
    try:
        page = _as_alice(first).get("https://www.midjourney.com/imagine")
        assert "Using Midjourney" in page.text  # the coaching page, from the first node
        form = dict(re.findall(r'name="(return_to|token|rule)" value="([^"]*)"', page.text))
        form["justification"] = "Mock-ups for the Q3 campaign."
        sent = _as_alice(second).post(f"https://www.midjourney.com{COACH_PATH}", data=form)
        assert sent.status_code == 303  # the second node accepted the first node's form
        deadline = time.monotonic() + 10
        while "plain site" not in (reply := _as_alice(first).get(page.url)).text:
            assert time.monotonic() < deadline, "the first node never learned of the grant"
            time.sleep(0.1)
    finally:
        assert [stop_shadowlens(proxy) for proxy in (first, second)] == [0, 0]
    assert reply.status_code == 200


def _as_alice(proxy: RunningProxy) -> httpx.Client:
    proxy_url = proxy.proxy_url.replace("http://", "http://alice:pw@")
    trust = ssl.create_default_context(cafile=str(proxy.ca_file))
    browser = {"accept": "text/html,application/xhtml+xml"}
    return httpx.Client(proxy=proxy_url, verify=trust, timeout=10, headers=browser)
