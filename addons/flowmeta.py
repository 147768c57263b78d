"""Keys under which our addons share state on ``flow.metadata``."""

MATCH = "shadowlens.match"
RECORDED = "shadowlens.recorded"
