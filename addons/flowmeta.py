"""Keys under which our addons share state on ``flow.metadata``."""

MATCH = "shadowlens.match"
RECORDED = "shadowlens.recorded"
CANDIDATE = "shadowlens.candidate"  # not catalogued, but shaped like an LLM or MCP call
REPORT = "shadowlens.dlp_report"  # the DLP BodyReport of the request body
ACTION = "shadowlens.action"  # what we did: monitor, redact, block
IDENTITY = "shadowlens.identity"  # who is behind the flow (proxy.policy.Identity)
DIRECTORY_GROUPS = "shadowlens.directory_groups"  # the proxyauth user's groups in LDAP
DECISION = "shadowlens.decision"  # the policy's decision (proxy.policy.Decision)
TENANT = "shadowlens.tenant_restricted"  # tenant-restriction headers were inserted
COACH_SUBMIT = "shadowlens.coach_submit"  # a coaching page's form, handled by us
BYTES_STREAMED = "shadowlens.bytes_streamed"  # response bytes passed on while streaming
