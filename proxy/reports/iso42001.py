"""The ISO/IEC 42001 evidence report: control text, the report assembled from the register
and the period's queries, and its Markdown and CSV renderings (with the ISO/IEC 27001:2022
Annex A mapping)."""

from __future__ import annotations

import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.orm import Session

from shadowlens.proxy.catalog import HostIndex
from shadowlens.proxy.catalog.risk import score_text
from shadowlens.proxy.governance.register import ServiceRecord, list_services
from shadowlens.proxy.reports import queries
from shadowlens.proxy.reports.csvcells import SafeWriter

DISCLAIMER = (
    "This report collects evidence an organisation can use for its ISO/IEC 42001 AI management "
    "system. It is not a certification, an audit opinion or a statement of conformity: only "
    "an accredited certification body can certify, and most requirements (policy, leadership, "
    "objectives, impact assessment, improvement) are met by the organisation, not by a proxy. "
    "Its mapping to ISO/IEC 27001:2022 Annex A controls is likewise evidence for an "
    "information security management system, never a statement that a control is in place."
)


@dataclass(frozen=True, slots=True)
class Control:
    """A clause or Annex A control, the evidence shadowlens holds for it, and what it lacks."""

    ref: str
    title: str
    coverage: str  # "evidence", "partial" or "none"
    evidence: str
    not_covered: str


def _controls(
    services: Sequence[ServiceRecord], s: queries.Summary, incidents: int
) -> list[Control]:
    seen = len(services)
    reviewed = sum(r.reviewed_at is not None for r in services)
    owned = sum(r.owner is not None for r in services)
    sanctioned = sum(r.status == "sanctioned" for r in services)
    return [
        Control(
            "5.2 / A.2.2", "AI policy", "partial",
            f"{sanctioned} services marked sanctioned; the proxy's policy file is enforced on "
            f"traffic ({s.blocked} blocked, {s.redacted} redacted this period).",
            "The AI policy itself, its approval by top management and its communication.",
        ),
        Control(
            "5.3 / A.3.2", "Roles and responsibilities", "partial",
            f"{owned} of {seen} services have a named owner.",
            "Roles beyond service ownership; the organisation's assignment of authority.",
        ),
        Control(
            "7.5 / A.4.2, A.4.4", "Resources and tooling inventory", "evidence",
            f"{seen} AI services observed in traffic with first/last seen, users, volumes "
            "and data categories (the AI system inventory below).",
            "AI used outside the proxy's path (other networks, unmanaged devices, on-premises "
            "models not reached over HTTP).",
        ),
        Control(
            "6.1.2, 8.2 / A.5.2", "AI risk and impact assessment", "partial",
            f"{seen} services carry a risk score with its factors; {reviewed} reviewed by a "
            "person (the risk register below), as input to the assessment.",
            "The impact assessment itself (6.1.4, A.5.2 to A.5.5: effects on individuals, "
            "groups and society); risk criteria and treatment plans (6.1.3, 8.3).",
        ),
        Control(
            "9.1 / A.6.2.6, A.6.2.8", "Operation, monitoring and event logs", "evidence",
            f"{s.requests} AI requests logged this period by service, user and action; "
            f"{s.findings} DLP findings with masked previews and keyed fingerprints; an "
            "append-only audit log of governance changes.",
            "Monitoring inside the AI systems themselves (model performance, drift).",
        ),
        Control(
            "A.8.4", "Communication of incidents", "partial",
            f"{incidents} incidents this period (blocked uploads, high and critical DLP "
            "findings), listed below for the incident process.",
            "The incident response and communication process itself.",
        ),
        Control(
            "A.10.2, A.10.3", "Third-party and supplier relationships", "partial",
            "Each service's vendor, category and published data-handling facts (training on "
            "inputs, retention, certifications) feed its risk score.",
            "Contracts, supplier assessments and agreed responsibilities with each vendor.",
        ),
    ]  # fmt: skip


@dataclass(frozen=True, slots=True)
class Evidence27001:
    """What the period holds for the ISO/IEC 27001 mapping."""

    services: int
    sanctioned: int
    owned: int
    summary: queries.Summary
    incidents: int
    alerts: int


def _iso27001_controls(e: Evidence27001) -> list[Control]:
    s = e.summary
    return [
        Control(
            "A.5.9", "Inventory of information and other associated assets", "partial",
            f"{e.services} AI services used by the organisation, with first/last seen, users, "
            f"volumes and data categories; {e.owned} with a named owner.",
            "Every other asset; AI used outside the proxy's path.",
        ),
        Control(
            "A.5.10", "Acceptable use of information and other associated assets", "partial",
            f"The AI use policy is enforced on traffic: {s.blocked} flows blocked and "
            f"{s.redacted} uploads redacted this period, each with the rule that decided.",
            "The acceptable-use rules themselves and how people are made aware of them.",
        ),
        Control(
            "A.5.23", "Information security for use of cloud services", "partial",
            f"Which cloud AI services are in use and by whom; {e.sanctioned} marked sanctioned, "
            "with status, justification, risk and review dates; tenant restrictions enforced.",
            "Supplier agreements, the cloud services' own security, exit strategies.",
        ),
        Control(
            "A.8.12", "Data leakage prevention", "evidence",
            f"{s.findings} sensitive values found in uploads to AI services this period, "
            "stored as masked previews and keyed fingerprints; redaction and blocking by policy.",
            "Other channels (e-mail, removable media, other web uploads); traffic not "
            "decrypted or not through the proxy.",
        ),
        Control(
            "A.8.15", "Logging", "evidence",
            f"{s.requests} AI requests logged this period by service, user and action; an "
            "append-only audit log of governance changes; delivery to the SIEM's own format.",
            "Logs of every other system; protection of the logs once in the SIEM.",
        ),
        Control(
            "A.8.16", "Monitoring activities", "partial",
            f"AI traffic monitored continuously; {e.alerts} alerts raised this period by the "
            "alert rules (findings, blocks, new services, upload volume, overdue reviews).",
            "Monitoring of networks, systems and applications other than AI use; baselines.",
        ),
        Control(
            "A.5.24", "Incident management planning and preparation", "none",
            "Alert rules route AI-related events to the SOC's webhooks and SIEM.",
            "The incident management plan, its roles and procedures.",
        ),
        Control(
            "A.5.25", "Assessment and decision on information security events", "partial",
            f"{e.incidents} events this period that may be incidents (blocks, high and "
            "critical findings), each with its severity and evidence, listed below.",
            "The assessment and the decision, made by people.",
        ),
        Control(
            "A.5.26", "Response to information security incidents", "partial",
            "The policy contains AI data leaks as they happen (redact, block, coach).",
            "The response process, escalation and communication.",
        ),
        Control(
            "A.5.27", "Learning from information security incidents", "none",
            "The incident history below, as input to lessons learned.",
            "Analysis, lessons learned and the improvements made.",
        ),
        Control(
            "A.5.28", "Collection of evidence", "partial",
            "Detections and findings with unique ids and times, the audit log, alert records; "
            "no bodies or secrets are kept.",
            "Forensic procedures, chain of custody, tamper evidence of the records.",
        ),
    ]  # fmt: skip


def report(
    session: Session,
    *,
    since: datetime,
    until: datetime,
    catalog: HostIndex | None = None,
    identities: bool = True,
    now: datetime | None = None,
) -> dict[str, Any]:
    """The ISO/IEC 42001 evidence report for a period, as plain data."""
    now = now or datetime.now(UTC)
    services = list_services(session, catalog=catalog, limit=100_000)
    period = queries.summary(session, since=since, until=until, identities=identities)
    incidents, truncated = queries.incidents(
        session, since=since, until=until, identities=identities
    )
    given = queries.justifications(session, since=since, until=until, identities=identities)

    def brief(r: ServiceRecord) -> dict[str, Any]:
        return {
            "id": r.id,
            "name": r.name,
            "vendor": r.vendor,
            "category": r.category,
            "status": r.status,
            "owner": r.owner,
            "risk_score": r.risk_score,
            "first_seen": r.first_seen.isoformat() if r.first_seen else None,
            "last_seen": r.last_seen.isoformat() if r.last_seen else None,
            "users": r.users,
            "requests": r.requests,
            "data_classes": r.data_classes,
            "review_due": r.review_due.isoformat() if r.review_due else None,
        }

    return {
        "title": "ISO/IEC 42001 evidence report",
        "disclaimer": DISCLAIMER,
        "period": {"since": since.isoformat(), "until": until.isoformat()},
        "generated_at": now.isoformat(),
        "controls": [asdict(c) for c in _controls(services, period, len(incidents))],
        "iso27001_controls": [
            asdict(c)
            for c in _iso27001_controls(
                Evidence27001(
                    services=len(services),
                    sanctioned=sum(r.status == "sanctioned" for r in services),
                    owned=sum(r.owner is not None for r in services),
                    summary=period,
                    incidents=len(incidents),
                    alerts=queries.alerts_in(session, since=since, until=until),
                )
            )
        ],
        "inventory": [brief(r) for r in services],
        "risk_register": [
            {
                "id": r.id,
                "risk_score": r.risk_score,
                "risk_source": r.risk_source,
                "factors": r.risk_factors,
                "status": r.status,
                "owner": r.owner,
                "justification": r.justification,
            }
            for r in sorted(
                services, key=lambda r: (r.risk_score is None, -(r.risk_score or 0), r.id)
            )
        ],
        "not_reviewed": [r.id for r in services if r.reviewed_at is None],
        "no_owner": [r.id for r in services if r.owner is None],
        "reviews_overdue": [r.id for r in services if r.review_due and r.review_due < now],
        "incidents": incidents,
        "incidents_truncated": truncated,
        "justifications": given,
        "totals": {
            "requests": period.requests,
            "blocked": period.blocked,
            "redacted": period.redacted,
            "findings": period.findings,
            "new_services": period.new_services,
        },
    }


def _cell(text: str | None) -> str:
    """``text`` inside a Markdown table cell: its pipes escaped, its lines joined."""
    return " ".join((text or "-").replace("|", "\\|").split())


def markdown(report: dict[str, Any]) -> str:
    """The report as Markdown, for people."""
    period = report["period"]
    lines = [
        f"# {report['title']}",
        "",
        f"Period: {period['since']} to {period['until']} (generated {report['generated_at']})",
        "",
        f"> {report['disclaimer']}",
        "",
        "## Clauses and Annex A controls",
        "",
        "| ref | topic | coverage | evidence held | not covered by shadowlens |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {c['ref']} | {c['title']} | {c['coverage']} | {c['evidence']} | {c['not_covered']} |"
        for c in report["controls"]
    ]
    lines += [
        "",
        "## ISO/IEC 27001:2022 Annex A",
        "",
        "| control | topic | coverage | evidence held | not covered by shadowlens |",
        "| --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {c['ref']} | {c['title']} | {c['coverage']} | {c['evidence']} | {c['not_covered']} |"
        for c in report["iso27001_controls"]
    ]
    lines += ["", "## Needs attention", ""]
    for key, title in (
        ("not_reviewed", "Services seen but not reviewed"),
        ("no_owner", "Services without an owner"),
        ("reviews_overdue", "Reviews overdue"),
    ):
        items = report[key]
        lines.append(f"- {title} ({len(items)}): {', '.join(items) if items else 'none'}")
    lines += [
        "",
        "## AI system inventory",
        "",
        "| service | vendor | category | status | owner | risk | users | requests | data |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    lines += [
        f"| {s['id']} | {s['vendor']} | {s['category']} | {s['status']} | {s['owner'] or '-'} "
        f"| {score_text(s['risk_score'])} | {s['users']} | {s['requests']} "
        f"| {','.join(s['data_classes'])} |"
        for s in report["inventory"]
    ]
    lines += [
        "",
        "## Risk register",
        "",
        "| service | score | source | factors |",
        "| --- | --- | --- | --- |",
    ]
    lines += [
        f"| {r['id']} | {score_text(r['risk_score'])} | {r['risk_source']} | "
        + "; ".join(f"{f['name']} {f['points']:+d}" for f in r["factors"])
        + " |"
        for r in report["risk_register"]
    ]
    lines += ["", f"## Incidents ({len(report['incidents'])})", ""]
    if report["incidents"]:
        lines += ["| time | kind | service | user | detail |", "| --- | --- | --- | --- | --- |"]
        lines += [
            f"| {i['ts']} | {i['kind']} | {i['service']} | {i['user'] or '-'} | {i['detail']} |"
            for i in report["incidents"]
        ]
    else:
        lines.append("None in this period.")
    lines += ["", f"## Coaching justifications ({len(report['justifications'])})", ""]
    if report["justifications"]:
        lines += ["| time | service | rule | user | justification | allowed until |",
                  "| --- | --- | --- | --- | --- | --- |"]  # fmt: skip
        lines += [
            f"| {j['ts']} | {j['service']} | {j['rule']} | {_cell(j['user'])} "
            f"| {_cell(j['text'])} | {j['allowed_until']} |"
            for j in report["justifications"]
        ]
    else:
        lines.append("None in this period.")
    return "\n".join(lines) + "\n"


def csv_text(report: dict[str, Any]) -> str:
    """The report as CSV rows of (section, key, title, status, detail), for spreadsheets."""
    out = io.StringIO()
    writer = SafeWriter(out)
    writer.writerow(["section", "key", "title", "status", "detail"])
    writer.writerow(["disclaimer", "", "", "", report["disclaimer"]])
    for c in report["controls"]:
        writer.writerow(["control", c["ref"], c["title"], c["coverage"], c["evidence"]])
        writer.writerow(["not_covered", c["ref"], c["title"], "", c["not_covered"]])
    for c in report["iso27001_controls"]:
        writer.writerow(["iso27001", c["ref"], c["title"], c["coverage"], c["evidence"]])
        writer.writerow(["iso27001_not_covered", c["ref"], c["title"], "", c["not_covered"]])
    for s in report["inventory"]:
        writer.writerow(
            ["inventory", s["id"], s["name"], s["status"],
             f"owner={s['owner'] or ''};risk={score_text(s['risk_score'])};users={s['users']};"
             f"requests={s['requests']};data={','.join(s['data_classes'])}"]
        )  # fmt: skip
    for key in ("not_reviewed", "no_owner", "reviews_overdue"):
        for service_id in report[key]:
            writer.writerow([key, service_id, "", "", ""])
    for i in report["incidents"]:
        writer.writerow(["incident", i["ts"], i["service"], i["kind"], i["detail"]])
    for j in report["justifications"]:
        said = f"{j['user']}: {j['text']}" if j["user"] else j["text"] or ""
        writer.writerow(["justification", j["ts"], j["service"], j["rule"], said])
    return out.getvalue()
