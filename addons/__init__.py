"""Thin mitmproxy adapters over the shadowlens core, one small class a file. They own what
a flow's hooks do and in which order (``launcher``); every decision is the core's. They may
import the core's parts the import map names (docs/architecture.md), never the CLI or
``api``.
"""
