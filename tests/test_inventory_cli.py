"""``shadowlens report|services|token`` do what the API does, without the API running."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shadowlens.api.app import create_app
from shadowlens.proxy.cli import main
from shadowlens.proxy.governance import audit
from shadowlens.proxy.runtime import Core
from tests.factories import detection_event


@pytest.fixture
def env(core: Core, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Core:
    monkeypatch.setenv("SHADOWLENS_DATA_DIR", str(core.settings.data_dir))
    monkeypatch.setenv("SHADOWLENS_DATABASE_URL", core.settings.effective_database_url)
    core.record([detection_event(0), detection_event(1, service_id="claude", user="bob")])
    return core


def test_services_list_set_status_and_owner(env: Core, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["services", "set-status", "chatgpt", "unsanctioned",
                 "--justification", "trains on inputs"]) == 0  # fmt: skip
    assert main(["services", "set-owner", "chatgpt", "ciso@example.com"]) == 0
    capsys.readouterr()
    assert main(["services", "list", "--json", "--status", "unsanctioned"]) == 0
    [line] = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    assert (record["id"], record["owner"], record["justification"]) == (
        "chatgpt", "ciso@example.com", "trains on inputs"
    )  # fmt: skip
    assert record["updated_by"].startswith("cli:")
    with env.sessions() as session:
        actions = [e.action for e in audit.list_audit(session, limit=10)]
    assert actions == ["governance.update", "governance.update"]


def test_bad_service_commands_are_clear_errors(
    env: Core, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["services", "set-owner", "nope", "x"]) == 1
    assert "no service 'nope'" in capsys.readouterr().err
    assert main(["services", "set-owner", "chatgpt", " "]) == 2
    with pytest.raises(SystemExit) as exit_:
        main(["services", "set-status", "chatgpt", "banned"])
    assert exit_.value.code == 2


def test_tokens_created_listed_revoked_and_honoured_by_the_api(
    env: Core, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["token", "create", "--name", "soc", "--role", "viewer"]) == 0
    out = dict(line.split(": ", 1) for line in capsys.readouterr().out.splitlines())
    secret, token_id = out["token"], out["id"]
    app = create_app(sessions=env.sessions, tokens=frozenset())
    with TestClient(app) as client:
        headers = {"Authorization": f"Bearer {secret}"}
        assert client.get("/api/v1/services", headers=headers).status_code == 200
        assert client.get("/api/v1/detections", headers=headers).status_code == 403
        assert main(["token", "list"]) == 0
        listing = capsys.readouterr().out
        assert token_id in listing and "viewer" in listing and secret not in listing
        assert main(["token", "revoke", token_id]) == 0
        assert client.get("/api/v1/services", headers=headers).status_code == 401
    assert main(["token", "revoke", "nosuchtoken"]) == 1
    assert main(["token", "list"]) == 0
    assert "revoked" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["token", "create", "--name", "x", "--role", "root"])


def test_report_iso42001_in_each_format(env: Core, capsys: pytest.CaptureFixture[str]) -> None:
    window = ["--since", "2026-11-01T00:00:00Z", "--until", "2026-11-03T00:00:00Z"]
    assert main(["report", "iso42001", "--format", "json", *window]) == 0
    report = json.loads(capsys.readouterr().out)
    assert sorted(report["not_reviewed"]) == ["chatgpt", "claude"]
    assert {i["id"] for i in report["inventory"]} == {"chatgpt", "claude"}
    assert main(["report", "iso42001", *window]) == 0
    assert "| A.8.4 |" in capsys.readouterr().out
    assert main(["report", "iso42001", "--format", "csv", *window]) == 0
    assert capsys.readouterr().out.startswith("section,key,title,status,detail")
    assert main(["report", "iso42001", "--since", "2026-11-03T00:00:00Z",
                 "--until", "2026-11-01T00:00:00Z"]) == 2  # fmt: skip
    with pytest.raises(SystemExit):
        main(["report", "iso42001", "--since", "last tuesday"])
