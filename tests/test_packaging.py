"""The wheel installs one name, ``shadowlens``, beside another distribution's ``api``.

A fresh virtualenv gets a package named ``api`` first, then shadowlens' wheel, built here
without the network. Both must still import, the installed command must run from the wheel
(its migrations and schemas included), and the wheel must own no top-level name but
``shadowlens``. The dependencies come from the test's own virtualenv through a ``.pth`` line,
so nothing is downloaded.
"""

from __future__ import annotations

import subprocess
import sys
import sysconfig
import venv
import zipfile
from pathlib import Path

import pytest

from shadowlens.proxy.settings import PROJECT_ROOT

OTHER_API = '''"""Somebody else's package named api."""
OWNER = "somebody-else"
'''


def _run(*command: str | Path, cwd: Path | None = None) -> str:
    result = subprocess.run(
        [str(c) for c in command], capture_output=True, text=True, cwd=cwd, timeout=600
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return result.stdout


def _wheel(source: Path, name: str, out: Path) -> Path:
    pip = (sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q")
    _run(*pip, "-w", out, source)
    [wheel] = out.glob(f"{name}-*.whl")
    return wheel


def _other_api(root: Path) -> Path:
    project = root / "other-api"
    (project / "api").mkdir(parents=True)
    (project / "api" / "__init__.py").write_text(OTHER_API)
    (project / "pyproject.toml").write_text(
        '[build-system]\nrequires = ["setuptools"]\nbuild-backend = "setuptools.build_meta"\n'
        '[project]\nname = "other-api"\nversion = "1.0"\n'
    )
    return project


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv holding another ``api`` distribution, then shadowlens' wheel."""
    root = tmp_path_factory.mktemp("packaging")
    env = root / "venv"
    venv.EnvBuilder(with_pip=True).create(env)
    python = env / "bin" / "python"
    purelib = "import sysconfig; print(sysconfig.get_path('purelib'))"
    site = Path(_run(python, "-c", purelib).strip())
    # the dependencies, without the network: this virtualenv's site-packages, read last
    (site / "zz_dependencies.pth").write_text(sysconfig.get_path("purelib") + "\n")
    pip = (python, "-m", "pip", "install", "--no-deps", "--no-index", "-q")
    _run(*pip, _wheel(_other_api(root), "other_api", root / "wheels"))
    _run(*pip, _wheel(PROJECT_ROOT, "shadowlens", root / "wheels"))
    return env


def test_the_wheel_owns_only_the_shadowlens_name(installed: Path) -> None:
    [wheel] = (installed.parent / "wheels").glob("shadowlens-*.whl")
    tops = {name.split("/")[0] for name in zipfile.ZipFile(wheel).namelist()}
    assert tops == {"shadowlens", "-".join(wheel.name.split("-")[:2]) + ".dist-info"}


def test_another_api_package_and_shadowlens_both_import(installed: Path) -> None:
    check = (
        "import api, shadowlens.api.app, shadowlens.addons.launcher, shadowlens.proxy.cli\n"
        "print(api.OWNER, shadowlens.api.app.__file__)"
    )
    owner, where = _run(installed / "bin" / "python", "-c", check, cwd=installed).split()
    assert owner == "somebody-else"
    assert where.startswith(str(installed)), "shadowlens was imported from the checkout"


def test_the_installed_command_runs_from_the_wheel(installed: Path, tmp_path: Path) -> None:
    database = tmp_path / "inventory.db"
    command = installed / "bin" / "shadowlens"
    env = ("env", f"SHADOWLENS_DATABASE_URL=sqlite:///{database}")
    _run(*env, command, "db", "upgrade", cwd=tmp_path)  # the migrations are in the wheel
    assert database.stat().st_size > 0
    lint = _run(*env, f"SHADOWLENS_RULES_DIR={PROJECT_ROOT / 'rules'}", command, "rules", "lint")
    assert "error" not in lint.lower()  # the JSON Schemas are in the wheel
