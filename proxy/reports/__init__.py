"""Reports: what the inventory says over a period. ``queries`` reads the rollups (summaries,
users, incidents), ``iso42001`` turns them into the ISO/IEC 42001 evidence report with its
control text and Markdown/CSV rendering, and ``exports`` streams detections and findings as
CSV or NDJSON (``csvcells`` keeps spreadsheet formulas out of cells). Reports only read: they
import the inventory, the register of ``proxy.governance`` and the catalog's risk text,
nothing else of ours.
"""
