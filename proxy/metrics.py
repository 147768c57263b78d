"""Prometheus metrics of the proxy and the writer. Each is documented in docs/metrics.md."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, Info, disable_created_metrics

# The *_created series double every counter for no use on dashboards.
disable_created_metrics()

FLOWS = Counter(
    "shadowlens_flows_total",
    "HTTP flows seen by the proxy, by whether they went to an AI service.",
    ["kind"],
)
DETECTIONS = Counter(
    "shadowlens_detections_total",
    "Flows to AI services, by service and category.",
    ["service", "category"],
)
EVENTS_DROPPED = Counter(
    "shadowlens_events_dropped_total",
    "Inventory events dropped before they were written, by reason.",
    ["reason"],
)
EVENTS_WRITTEN = Counter(
    "shadowlens_events_written_total",
    "Inventory events committed to the database.",
)
WRITE_ERRORS = Counter(
    "shadowlens_write_errors_total",
    "Failed database writes; the batch is kept and retried.",
)
EVENTS_SPOOLED = Counter(
    "shadowlens_events_spooled_total",
    "Inventory events appended to the spool file because the database refused them.",
)
SPOOL_BYTES = Gauge(
    "shadowlens_spool_bytes",
    "Size of the inventory spool file waiting to be replayed.",
)
WRITE_SECONDS = Histogram(
    "shadowlens_write_batch_seconds",
    "Time to write one batch of inventory events.",
    buckets=(0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
QUEUE_DEPTH = Gauge(
    "shadowlens_writer_queue_depth",
    "Inventory events waiting in the writer's queue.",
)
QUEUE_CAPACITY = Gauge(
    "shadowlens_writer_queue_capacity",
    "Inventory events the writer's queue holds before it drops (SHADOWLENS_WRITER_QUEUE_SIZE).",
)
RULES_ERRORS = Counter(
    "shadowlens_rules_errors_total",
    "Rules files rejected at load or reload, by kind of rules.",
    ["rules"],
)
RULES_RELOADS = Counter(
    "shadowlens_rules_reloads_total",
    "Rules reloads that took effect, by kind of rules.",
    ["rules"],
)
TLS_PASSTHROUGH = Counter(
    "shadowlens_tls_passthrough_total",
    "TLS connections passed through undecrypted, by reason.",
    ["reason"],
)
TLS_CLIENT_FAILURES = Counter(
    "shadowlens_tls_client_failures_total",
    "TLS handshakes a client broke off, most often because it pins or distrusts our CA.",
)
DLP_FINDINGS = Counter(
    "shadowlens_dlp_findings_total",
    "Sensitive values found in uploads to AI services, by category and severity.",
    ["category", "severity"],
)
DLP_SCAN_SECONDS = Histogram(
    "shadowlens_dlp_scan_seconds",
    "Time to decode and scan one upload.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1, 5),
)
DLP_REDACTIONS = Counter(
    "shadowlens_dlp_redactions_total",
    "Uploads forwarded with their findings masked.",
)
DLP_FAILURES = Counter(
    "shadowlens_dlp_failures_total",
    "Uploads that could not be fully inspected or redacted, by reason; see the action taken.",
    ["reason"],
)
DLP_WORKER_EXITS = Counter(
    "shadowlens_dlp_worker_exits_total",
    "Scan workers that stopped unasked, by reason; each is started again.",
    ["reason"],
)
DLP_OCR_SKIPPED = Counter(
    "shadowlens_dlp_ocr_skipped_total",
    "Images in uploads that DLP did not OCR, by reason.",
    ["reason"],
)
DECISIONS = Counter(
    "shadowlens_policy_decisions_total",
    "Policy decisions on flows to AI services, by action and whether it was enforced.",
    ["action", "enforced"],
)
DIRECTORY_ERRORS = Counter(
    "shadowlens_directory_errors_total",
    "LDAP group lookups that failed; the user keeps the groups last looked up (or none).",
)
CLIENTS_REFUSED = Counter(
    "shadowlens_clients_refused_total",
    "Connections closed because the client address is not in SHADOWLENS_PROXY_ALLOWED_CLIENTS.",
)
REGISTER_ERRORS = Counter(
    "shadowlens_register_errors_total",
    "Reads of the register's service statuses that failed; the last statuses read stay in force.",
)
TENANT_RESTRICTIONS = Counter(
    "shadowlens_tenant_restrictions_total",
    "Requests that got tenant-restriction headers inserted, by restriction id.",
    ["restriction"],
)
RETENTION_PURGED = Counter(
    "shadowlens_retention_purged_total",
    "Rows deleted because their table's retention expired them, by table.",
    ["table"],
)
JOURNAL_ERRORS = Counter(
    "shadowlens_journal_errors_total",
    "Inventory events the journal could not write ahead; they were queued unjournaled.",
)
SHUTDOWN_UNFINISHED = Counter(
    "shadowlens_shutdown_unfinished_flows_total",
    "Flows still in flight when the shutdown grace period ran out.",
)
SINK_EVENTS = Counter(
    "shadowlens_sink_events_total",
    "Events a SIEM sink delivered, by sink.",
    ["sink", "kind"],
)
SINK_RETRIES = Counter(
    "shadowlens_sink_retries_total",
    "Deliveries a SIEM sink refused; the events wait in its spool and are tried again.",
    ["sink", "kind"],
)
SINK_DROPPED = Counter(
    "shadowlens_sink_dropped_total",
    "Events a SIEM sink lost: its queue or its spool was full.",
    ["sink", "kind"],
)
SINK_SPOOL_BYTES = Gauge(
    "shadowlens_sink_spool_bytes",
    "Size of a SIEM sink's spool of undelivered events.",
    ["sink", "kind"],
)
SINK_LAG = Gauge(
    "shadowlens_sink_lag_seconds",
    "How far behind a SIEM sink is: event time to delivery, or the oldest event waiting.",
    ["sink", "kind"],
)
ALERTS = Counter(
    "shadowlens_alerts_total",
    "Alerts raised by the alert rules, by rule and whether the webhook took them.",
    ["rule", "status"],
)
INVALID_HOSTS = Counter(
    "shadowlens_invalid_hosts_total",
    "AI flows recorded whose Host was neither a DNS name nor an IP literal.",
)
STAGE_SECONDS = Histogram(
    "shadowlens_added_latency_seconds",
    "Time our addons held one flow, summed over its hooks, by stage; stage=total is all of them.",
    ["stage"],
    buckets=(0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
UPLOAD_BYTES = Counter(
    "shadowlens_upload_bytes_total",
    "Request body bytes sent to AI services, by service.",
    ["service"],
)
BUILD_INFO = Info("shadowlens_build", "The shadowlens version and Python it runs on.")


def service_label(service_id: str) -> str:
    """A service's label value: uncatalogued endpoints are keyed by host, never a label."""
    kind, _, _host = service_id.partition(":")
    return kind
