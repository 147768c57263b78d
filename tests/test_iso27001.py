"""The evidence report's ISO/IEC 27001:2022 Annex A mapping: the controls named, an honest
coverage column, the period's figures, and the same in Markdown and CSV, API and CLI."""

from __future__ import annotations

import csv
import io
from datetime import timedelta

import pytest

from shadowlens.proxy.alerts.engine import AlertMatcher
from shadowlens.proxy.alerts.rules import AlertRule, AlertRules
from shadowlens.proxy.cli import main
from shadowlens.proxy.inventory.events import FindingRecord
from shadowlens.proxy.reports import iso42001 as evidence
from shadowlens.proxy.runtime import Core
from tests.factories import T0, detection_event

REQUIRED = ("A.5.9", "A.5.23", "A.8.12", "A.8.16", "A.5.24", "A.5.25", "A.5.26", "A.5.27",
            "A.5.28")  # fmt: skip
SECRET = FindingRecord("aws-access-key-id", "secret", "critical", 1, "AKIA…WB6P", "fp", "body")


@pytest.fixture
def report(core: Core) -> dict[str, object]:
    core.record([detection_event(1, findings=(SECRET,)), detection_event(2, action="block")])
    rules = AlertRules(rules=(AlertRule(id="leak", kind="finding"),))
    core.raise_alerts(
        AlertMatcher(rules), AlertMatcher(rules).match(detection_event(1, findings=(SECRET,)))
    )
    with core.sessions() as session:
        return evidence.report(session, since=T0, until=T0 + timedelta(days=1))


def test_every_required_annex_a_control_is_mapped_with_its_gaps(report: dict[str, object]) -> None:
    controls = report["iso27001_controls"]
    assert isinstance(controls, list)
    refs = [c["ref"] for c in controls]
    assert set(REQUIRED) <= set(refs) and len(refs) == len(set(refs))
    assert {c["coverage"] for c in controls} <= {"evidence", "partial", "none"}
    assert all(c["not_covered"] and c["evidence"] for c in controls)  # honest about the gaps
    by_ref = {c["ref"]: c for c in controls}
    assert by_ref["A.5.24"]["coverage"] == "none"  # planning is the organisation's
    assert by_ref["A.8.12"]["coverage"] == "evidence"
    assert "1 sensitive values" in by_ref["A.8.12"]["evidence"]
    assert "1 alerts raised" in by_ref["A.8.16"]["evidence"]
    assert "1 flows blocked" in by_ref["A.5.10"]["evidence"]
    assert "27001" in str(report["disclaimer"]) and "never a statement" in str(report["disclaimer"])


def test_markdown_and_csv_carry_the_annex_a_mapping(report: dict[str, object]) -> None:
    markdown = evidence.markdown(report)
    section = markdown.split("## ISO/IEC 27001:2022 Annex A", 1)[1].split("## ", 1)[0]
    assert all(f"| {ref} |" in section for ref in REQUIRED)
    rows = list(csv.reader(io.StringIO(evidence.csv_text(report))))
    assert {r[1] for r in rows if r[0] == "iso27001"} >= set(REQUIRED)
    assert {r[1] for r in rows if r[0] == "iso27001_not_covered"} >= set(REQUIRED)


def test_the_cli_report_includes_the_mapping(core: Core, capsys: pytest.CaptureFixture[str],
                                             monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    for name, value in (("DATA_DIR", core.settings.data_dir),
                        ("DATABASE_URL", core.settings.effective_database_url)):  # fmt: skip
        monkeypatch.setenv(f"SHADOWLENS_{name}", str(value))
    window = ["--since", T0.isoformat(), "--until", (T0 + timedelta(days=1)).isoformat()]
    assert main(["report", "iso42001", *window]) == 0
    assert "| A.8.12 | Data leakage prevention |" in capsys.readouterr().out
