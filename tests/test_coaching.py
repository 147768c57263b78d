"""Coaching grants: form tokens, and grants shared between proxies through the inventory."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from pathlib import Path

from shadowlens.proxy.policy.coaching import CoachGrants, holder
from shadowlens.proxy.runtime import Core
from shadowlens.proxy.settings import Settings
from tests.factories import detection_event


def test_a_token_made_by_one_proxy_is_valid_on_another_with_the_same_key() -> None:
    token = CoachGrants(b"cluster key").token("alice", "midjourney")
    assert CoachGrants(b"cluster key").valid("alice", "midjourney", token)
    assert not CoachGrants(b"cluster key").valid("bob", "midjourney", token)
    assert not CoachGrants(b"another key").valid("alice", "midjourney", token)


def test_the_token_key_is_kept_in_the_data_dir_unless_configured(tmp_path: Path) -> None:
    def grants(key: str = "") -> CoachGrants:
        core = Core.open(Settings(data_dir=tmp_path, database_url="sqlite://", coach_token_key=key))
        try:
            return core.coach_grants()
        finally:
            core.close()

    token = grants().token("alice", "midjourney")
    assert grants().valid("alice", "midjourney", token)  # the same key after a restart
    assert (tmp_path / "coach-token.key").stat().st_mode & 0o777 == 0o600
    assert not grants("set by the operator").valid("alice", "midjourney", token)


def test_merged_grants_allow_until_their_end_and_the_later_end_wins() -> None:
    grants = CoachGrants(b"k")
    now = datetime.now(UTC)
    grants.merge([("alice", "10.0.0.1", "midjourney", now + timedelta(minutes=5))])
    grants.merge([("alice", "10.0.0.1", "midjourney", now + timedelta(minutes=1))])  # not shorter
    grants.merge([("bob", "10.0.0.2", "midjourney", now - timedelta(seconds=1))])  # already over
    assert grants.allowed("alice", "midjourney")
    assert not grants.allowed("alice", "runway")
    assert not grants.allowed("bob", "midjourney")


def test_grants_follow_the_user_or_else_the_address() -> None:
    assert holder("alice", "10.0.0.7") == "alice"
    assert holder("anonymous", "10.0.0.7") == holder(None, "10.0.0.7") == "ip:10.0.0.7"


def test_a_grant_written_by_another_proxy_reaches_this_one(core: Core) -> None:
    until = datetime.now(UTC) + timedelta(minutes=30)
    justified = detection_event(justification="Campaign mock-ups", allowed_until=until)
    over = detection_event(
        1, user="bob", justification="old", allowed_until=datetime.now(UTC) - timedelta(1)
    )
    anonymous = detection_event(2, user="anonymous", justification="x", allowed_until=until)
    core.record([justified, over, anonymous])  # as the other proxy's writer would
    grants = CoachGrants(b"k")

    async def one_sync() -> None:
        task = core.grant_sync(grants)
        task.start()
        for _ in range(100):
            if grants.allowed("alice", "chatgpt"):
                break
            await asyncio.sleep(0.02)
        await task.stop()

    asyncio.run(one_sync())
    assert grants.allowed("alice", "chatgpt")
    assert grants.allowed("ip:10.0.0.7", "chatgpt")
    assert not grants.allowed("bob", "chatgpt")
