"""Thin mitmproxy adapters over the shadowlens core, one small class a file."""
