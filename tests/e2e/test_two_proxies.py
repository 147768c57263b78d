"""Two real proxy processes write to one real PostgreSQL: every counter adds up exactly."""

from __future__ import annotations

import ssl
import threading
from pathlib import Path

import httpx
import pytest
from sqlalchemy import func, select

from proxy.inventory.db import make_engine, session_factory
from proxy.inventory.models import HourlyRollup, ServiceSeen, ServiceUser, UserSeen
from tests.e2e.conftest import HERE, RunningProxy, closed_port, start_shadowlens, stop_shadowlens

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

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
