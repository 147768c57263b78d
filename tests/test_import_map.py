"""The import map: which part of shadowlens may import which, checked at every depth.

Every import statement counts, at module level or inside a function, and so does
``importlib.import_module("...")`` with a literal name. The map below is the one in
docs/architecture.md; a new package must be added to both. Parts are named without the
installed ``shadowlens.`` prefix, and an import of ``proxy``, ``addons`` or ``api`` without it
is an error: it would load a second copy of the module, or another distribution's package.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from shadowlens.proxy.settings import PROJECT_ROOT

OURS = ("proxy", "addons", "api")
NAMESPACE = "shadowlens."
# part → the parts it may import, exactly: each entry is used by the tree. A part is a package
# or module of the core named without ``proxy.`` (``proxy`` is the core's own __init__),
# ``cli`` (every ``cli`` module and ``python -m shadowlens``: the composition root, the only
# part of the core that may import the adapters), ``addons`` or ``api``.
ALLOWED: dict[str, set[str]] = {
    "proxy": set(),
    "errors": set(),
    "pac": set(),
    "ca": set(),
    "sinkconfig": set(),
    "jsondoc": set(),
    "filemodes": set(),
    "altsvc": set(),
    "metrics": set(),
    "periodic": set(),
    "batching": set(),
    "exposure": set(),
    "settings": {"pac", "sinkconfig"},
    "keys": {"filemodes"},
    "rulesfile": {"errors"},
    "reload": {"errors", "metrics"},
    "catalog": {"errors", "jsondoc", "rulesfile"},
    "dlp": {"errors", "jsondoc", "keys", "metrics", "settings"},
    "policy": {"catalog", "dlp", "errors", "metrics", "rulesfile"},
    "inventory": {"batching", "filemodes", "metrics", "settings"},
    "governance": {"catalog", "inventory"},
    "reports": {"catalog", "governance", "inventory"},
    "auth": {"governance", "inventory", "jsondoc", "settings"},
    "inspection": {"dlp", "inventory"},
    "sinks": {"batching", "inventory", "metrics", "sinkconfig"},
    "alerts": {"errors", "governance", "inventory", "metrics", "rulesfile", "sinks"},
    "logs": {"catalog", "dlp", "inspection", "inventory", "policy", "runtime"},
    "metricslabels": {"catalog", "dlp", "metrics", "policy"},
    "runtime": {"alerts", "catalog", "dlp", "errors", "filemodes", "governance", "inventory",
                "keys", "metrics", "periodic", "policy", "settings", "sinks"},
    "cliargs": {"runtime", "settings"},
    "cli": {"addons", "alerts", "api", "auth", "ca", "catalog", "cliargs", "dlp", "errors",
            "exposure", "governance", "inspection", "inventory", "keys", "logs", "metricslabels",
            "pac", "policy", "reports", "runtime", "settings"},
    "addons": {"alerts", "altsvc", "catalog", "dlp", "exposure", "filemodes", "inspection",
               "inventory", "metrics", "periodic", "policy", "reload", "runtime", "settings",
               "sinks"},
    "api": {"alerts", "auth", "catalog", "errors", "governance", "inventory", "pac", "policy",
            "reports"},
}  # fmt: skip


def part_of(module: str) -> str:
    """The part of the map a module (named without the namespace) belongs to."""
    if module in ("", "__main__"):  # shadowlens/__init__ and python -m shadowlens
        return "cli"
    parts = module.split(".")
    if parts[0] != "proxy":
        return parts[0]
    if parts[-1] in ("cli", "__main__"):
        return "cli"
    return parts[1] if len(parts) > 1 else "proxy"


def imported(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """(line, module) of every import of ours in ``tree``, however deep it sits."""
    for node in ast.walk(tree):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if node.module in ("shadowlens", "shadowlens.proxy"):  # from shadowlens.proxy import x
                names = [f"{node.module}.{alias.name}" for alias in node.names]
            else:
                names = [node.module]
        elif _import_module_call(node):
            assert isinstance(node, ast.Call)
            names = [node.args[0].value]  # type: ignore[attr-defined]
        for name in names:
            if name.split(".")[0] in (*OURS, "shadowlens"):
                yield node.lineno, name  # type: ignore[attr-defined]


def _import_module_call(node: ast.AST) -> bool:
    if not (isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant)):
        return False
    func = node.func
    name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
    return name == "import_module" and isinstance(node.args[0].value, str)


def sources(root: Path) -> Iterator[tuple[Path, str]]:
    """Each module file of ours under ``root``, with its module name without the namespace."""
    for package in OURS:
        for path in sorted((root / package).rglob("*.py")):
            relative = path.relative_to(root).with_suffix("")
            yield path, ".".join(relative.parts).removesuffix(".__init__")
    for path in sorted((root / "shadowlens").glob("*.py")):
        yield path, path.stem.removeprefix("__init__")


def violations(root: Path) -> list[str]:
    """Every import in the tree under ``root`` that the map does not allow."""
    found = []
    for path, module in sources(root):
        relative = path.relative_to(root)
        source = part_of(module)
        if source not in ALLOWED:
            found.append(f"{relative}: part {source!r} is not in the import map")
            continue
        for line, name in imported(ast.parse(path.read_text(), str(path))):
            if not name.startswith(NAMESPACE):
                found.append(f"{relative}:{line}: {name} imported without {NAMESPACE!r}")
                continue
            target = part_of(name.removeprefix(NAMESPACE))
            if target != source and target not in ALLOWED[source]:
                found.append(f"{relative}:{line}: {source} may not import {name}")
    return found


def test_the_tree_follows_the_import_map() -> None:
    assert violations(PROJECT_ROOT) == []


def test_the_map_allows_nothing_the_tree_does_not_use() -> None:
    used: dict[str, set[str]] = {part: set() for part in ALLOWED}
    for path, module in sources(PROJECT_ROOT):
        for _, name in imported(ast.parse(path.read_text(), str(path))):
            used[part_of(module)].add(part_of(name.removeprefix(NAMESPACE)))
    assert {
        part: ALLOWED[part] - used[part] for part in ALLOWED if ALLOWED[part] - used[part]
    } == {}


def test_the_docs_show_the_map() -> None:
    text = (PROJECT_ROOT / "docs" / "architecture.md").read_text()
    table = text.split("\n## The import map\n", 1)[1].split("\n## ", 1)[0]
    documented: dict[str, set[str]] = {}
    for row in re.findall(r"^\| (`.*) \| (.*) \|$", table, re.M):
        allowed = set(re.findall(r"`([\w.]+)`", row[1]))
        documented |= dict.fromkeys(re.findall(r"`([\w.]+)`", row[0]), allowed)
    assert documented == ALLOWED


def test_the_map_has_no_cycle() -> None:
    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in ALLOWED.get(start, set()) - seen:
            if nxt == goal or reaches(nxt, goal, seen | {nxt}):
                return True
        return False

    assert [part for part in ALLOWED if reaches(part, part, set())] == []


@pytest.mark.parametrize(
    ("where", "source"),
    [
        ("proxy/catalog/misplaced.py",
         "def f():\n    from shadowlens.addons.discovery import Discovery\n"),
        ("proxy/inventory/misplaced.py", "from shadowlens.proxy.policy.coaching import holder\n"),
        ("proxy/inventory/misplaced.py", "from shadowlens.proxy import governance\n"),
        ("proxy/dlp/misplaced.py",
         "import importlib\nimportlib.import_module('shadowlens.api.app')\n"),
        ("api/misplaced.py", "def f():\n    import shadowlens.addons.launcher\n"),
        ("proxy/governance/misplaced.py", "from shadowlens.proxy.reports import queries\n"),
    ],
)  # fmt: skip
def test_a_misplaced_import_is_caught_at_any_depth(tmp_path: Path, where: str, source: str) -> None:
    _plant(tmp_path, where, source)
    [problem] = violations(tmp_path)
    assert "may not import" in problem


@pytest.mark.parametrize("source", ["from proxy.dlp import model\n", "import api.app\n"])
def test_an_import_outside_the_namespace_is_caught(tmp_path: Path, source: str) -> None:
    _plant(tmp_path, "addons/misplaced.py", source)
    [problem] = violations(tmp_path)
    assert "imported without 'shadowlens.'" in problem


def _plant(root: Path, where: str, source: str) -> None:
    for package in OURS:
        (root / package).mkdir()
    target = root / where
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(source)


def test_the_docs_name_places_that_exist() -> None:
    text = (PROJECT_ROOT / "docs" / "architecture.md").read_text()
    section = text.split("\n## Where a change belongs\n", 1)[1].split("\n## ", 1)[0]
    named = set(re.findall(r"`((?:rules|proxy|addons|api|tests)/[^`*]*)`", section))
    assert named, "the section names no place"
    assert sorted(p for p in named if not (PROJECT_ROOT / p).exists()) == []
