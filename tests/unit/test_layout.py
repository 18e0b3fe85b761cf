"""DESIGN.md §4: core imports none of ours; the support floor (``smartlic.support``) imports
only core; instance, utility and authority import core and support and never each other.
Checked on the parsed imports of every module, so a lazy import inside a function counts too."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[2] / "src" / "smartlic"
ROLES = ("core", "support", "instance", "utility", "authority")
FORBIDDEN = {
    "core": {"support", "instance", "utility", "authority", "lab", "cli", "walkthrough"},
    "support": {"instance", "utility", "authority", "lab", "cli", "walkthrough"},
    "instance": {"utility", "authority", "lab", "cli", "walkthrough"},
    "utility": {"instance", "authority", "lab", "cli", "walkthrough"},
    "authority": {"instance", "utility", "lab", "cli", "walkthrough"},
}


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return {name.split(".")[1] for name in found if name.startswith("smartlic.")}


@pytest.mark.parametrize("role", [r for r in ROLES if (SRC / r).is_dir()])
def test_role_imports_respect_the_layout(role: str) -> None:
    folder = SRC / role
    offenders = {
        str(path.relative_to(SRC)): sorted(_imports(path) & FORBIDDEN[role])
        for path in folder.rglob("*.py")
        if _imports(path) & FORBIDDEN[role]
    }
    assert offenders == {}


def test_core_has_no_io_modules() -> None:
    banned = {"socket", "subprocess", "urllib.request", "httpx", "sqlite3", "time"}
    for path in (SRC / "core").rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not set(names) & banned, f"{path.name} imports {set(names) & banned}"
