"""The sink formats: OCSF against the OCSF 1.1 class definitions, ECS against the ECS field
definitions, CEF and RFC 5424 parsed strictly, and no raw secret in any of them."""

from __future__ import annotations

import ipaddress
import json
from datetime import datetime
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from shadowlens.proxy.inventory.events import DetectionEvent, FindingRecord
from shadowlens.proxy.sinks import formats
from shadowlens.proxy.sinks.transports import syslog_message
from tests.factories import detection_event
from tests.receivers import SyslogFormatError, parse_cef, parse_rfc5424

DATA = Path(__file__).parent / "data"
OCSF_SCHEMA = json.loads((DATA / "ocsf-1.1-classes.schema.json").read_text())
ECS = json.loads((DATA / "ecs-8.11-fields.json").read_text())

AWS_KEY = "AKIAZ7Q2XK4M7TR3WB6P"
FINDINGS = (
    FindingRecord("aws-access-key-id", "secret", "critical", 1, "AKIA…WB6P", "fp:1a2b", "body"),
    FindingRecord("email-address", "pii", "low", 2, "a…@example.com", "fp:3c4d", "body"),
)


def _events() -> list[DetectionEvent]:
    return [
        detection_event(0, method="GET", request_bytes=0),
        detection_event(1, findings=FINDINGS, action="redact", rule_id="redact-secrets",
                        groups="engineering,sre"),
        detection_event(2, action="block", rule_id="no-deepseek", status=403),
        detection_event(3, status=None, error="upstream unreachable", user=None),
        detection_event(4, method="PATCH", client_ip="2001:db8::7"),
        detection_event(5, method="CONNECT", evidence="sni", path=""),
    ]  # fmt: skip


@pytest.mark.parametrize("event", _events(), ids=lambda e: f"{e.method}-{e.action}")
def test_ocsf_records_validate_against_the_ocsf_classes(event: DetectionEvent) -> None:
    records = formats.ocsf(event)
    validator = jsonschema.Draft202012Validator(
        OCSF_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )
    for record in records:
        validator.validate(record)
        assert record["type_uid"] == record["class_uid"] * 100 + record["activity_id"]
        assert record["time"] == int(event.ts.timestamp() * 1000)
        assert record["metadata"]["product"]["name"] == "shadowlens"
    activity, *findings = records
    assert (activity["class_uid"], activity["category_uid"]) == (4002, 4)
    assert len(findings) == len(event.findings)
    assert all((f["class_uid"], f["category_uid"], f["type_uid"]) == (2004, 2, 200401)
               for f in findings)  # fmt: skip


def test_ocsf_activity_and_severity_follow_the_flow() -> None:
    get, upload, block, failed, patch, connect = (formats.ocsf(e) for e in _events())
    assert [r[0]["activity_id"] for r in (get, upload, patch, connect)] == [3, 6, 99, 1]
    assert patch[0]["activity_name"] == "Patch"
    assert upload[0]["severity_id"] == 5  # the worst finding: critical
    assert [f["severity_id"] for f in upload[1:]] == [5, 2]
    assert block[0]["severity_id"] == 3 and block[0]["status_id"] == 2
    assert failed[0]["status_id"] == 2 and "http_response" not in failed[0]
    assert upload[1]["finding_info"]["analytic"]["name"] == "aws-access-key-id"
    assert upload[1]["metadata"]["correlation_uid"] == upload[0]["metadata"]["uid"]


def test_a_record_breaking_the_ocsf_class_is_refused_by_the_test_schema() -> None:
    """The schema catches the mistakes it is there for, so the test above can fail."""
    record = formats.ocsf(_events()[1])[0]
    for broken in (
        {**record, "class_uid": 4001},
        {**record, "activity_id": 10},
        {**record, "time": "2026-11-02T09:00:01Z"},
        {k: v for k, v in record.items() if k != "metadata"},
        {**record, "src_endpoint": {"ip": "not-an-ip"}},
    ):
        with pytest.raises(jsonschema.ValidationError):
            jsonschema.Draft202012Validator(
                OCSF_SCHEMA, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
            ).validate(broken)


def _flatten(record: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in record.items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def _ecs_type_ok(kind: str, value: Any) -> bool:
    if kind == "long":
        return isinstance(value, int) and not isinstance(value, bool)
    if kind == "ip":
        ipaddress.ip_address(value)
        return True
    if kind == "date":
        return datetime.fromisoformat(value).tzinfo is not None
    return isinstance(value, str)


@pytest.mark.parametrize("event", _events(), ids=lambda e: f"{e.method}-{e.action}")
def test_ecs_fields_match_the_ecs_field_definitions(event: DetectionEvent) -> None:
    [record] = formats.ecs(event)
    standard = {k: v for k, v in _flatten(record).items() if not k.startswith("shadowlens.")}
    for name, value in standard.items():
        assert name in ECS["fields"], f"{name} is not an ECS field"
        definition = ECS["fields"][name]
        for item in value if isinstance(value, list) else [value]:
            assert _ecs_type_ok(definition["type"], item), (name, item)
            assert item in definition.get("allowed", [item]), (name, item)
    categories, types = record["event"]["category"], record["event"]["type"]
    for event_type in types:
        assert any(event_type in ECS["expected_event_types"][c] for c in categories), event_type
    assert record["ecs"]["version"] == ECS["version"]


def test_cef_escapes_header_and_extension_and_parses_back() -> None:
    nasty = "ev|il\\na=me\nnext"
    event = detection_event(
        1, service_name=nasty, user=nasty, path="/a=b|c\\d\r\n", findings=FINDINGS
    )
    line = formats.cef(event)
    assert "\n" not in line and "\r" not in line
    parsed = parse_cef(line)
    assert parsed["name"] == "AI service use: " + nasty.replace("\n", " ")
    assert parsed["extension"]["suser"] == nasty
    assert parsed["extension"]["request"] == "/a=b|c\\d\r\n"
    assert parsed["extension"]["cs1"] == "chatgpt"
    assert parsed["severity"] == 10  # a critical finding
    assert parsed["vendor"] == "shadowlens"


def test_the_strict_cef_parser_refuses_unescaped_characters() -> None:
    good = formats.cef(detection_event(1))
    with pytest.raises(SyslogFormatError):
        parse_cef(good.replace("suser=alice", "suser=al=ice"))
    with pytest.raises(SyslogFormatError):
        parse_cef(good.replace("AI service use", "AI|service use"))


def test_syslog_message_is_rfc5424_with_cef() -> None:
    event = detection_event(1, findings=FINDINGS)
    raw = syslog_message(event, facility=13, hostname="proxy-1").decode()
    parsed = parse_rfc5424(raw)
    assert int(parsed["pri"]) == 13 * 8 + 2  # log audit, critical
    assert parsed["timestamp"] == event.ts
    assert (parsed["host"], parsed["app"], parsed["msgid"], parsed["sd"]) == (
        "proxy-1", "shadowlens", "detection", "-"
    )  # fmt: skip
    assert parse_cef(parsed["msg"])["extension"]["externalId"] == event.id


def test_no_format_carries_more_than_the_masked_preview() -> None:
    event = detection_event(1, findings=FINDINGS)
    outputs = [json.dumps(build(event), ensure_ascii=False) for build in formats.FORMATS.values()]
    outputs.append(formats.cef(event))
    for output in outputs:
        assert AWS_KEY not in output
        assert "AKIA…WB6P" in output and "fp:1a2b" in output
