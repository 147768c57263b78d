"""Keys under which our addons share state on ``flow.metadata``."""

MATCH = "shadowlens.match"
RECORDED = "shadowlens.recorded"
CANDIDATE = "shadowlens.candidate"  # not catalogued, but shaped like an LLM or MCP call
REPORT = "shadowlens.dlp_report"  # the DLP BodyReport of the request body
ACTION = "shadowlens.action"  # what we did: monitor, redact, block
