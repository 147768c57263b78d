"""The core stays free of the adapters: ``proxy`` imports neither mitmproxy nor FastAPI."""

from __future__ import annotations

import subprocess
import sys

from proxy.settings import PROJECT_ROOT

CHECK = """
import importlib, pkgutil, sys
import proxy
for module in pkgutil.walk_packages(proxy.__path__, "proxy."):
    if module.name != "proxy.__main__" and ".migrations" not in module.name:
        importlib.import_module(module.name)
adapters = {"mitmproxy", "fastapi", "starlette", "uvicorn", "addons", "api"}
leaked = sorted(m for m in sys.modules if m.split(".")[0] in adapters)
print(",".join(leaked))
"""


def test_core_imports_no_adapter() -> None:
    result = subprocess.run(
        [sys.executable, "-c", CHECK], capture_output=True, text=True, cwd=PROJECT_ROOT, check=True
    )
    assert result.stdout.strip() == ""
