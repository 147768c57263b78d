"""The core stays free of the adapters: ``proxy`` imports neither mitmproxy nor FastAPI."""

from __future__ import annotations

import subprocess
import sys

from shadowlens.proxy.settings import PROJECT_ROOT

CHECK = """
import importlib, pkgutil, sys
import shadowlens.proxy
core = shadowlens.proxy
for module in pkgutil.walk_packages(core.__path__, "shadowlens.proxy."):
    if ".migrations" not in module.name:
        importlib.import_module(module.name)
adapters = {"mitmproxy", "fastapi", "starlette", "uvicorn", "addons", "api"}
leaked = sorted(m for m in sys.modules if m.removeprefix("shadowlens.").split(".")[0] in adapters)
print(",".join(leaked))
"""


def test_core_imports_no_adapter() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True
    )
    assert result.stdout.strip() == ""
