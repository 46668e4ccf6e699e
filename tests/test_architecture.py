"""The layout's rules, checked on the source: zones never import one another."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).resolve().parents[1] / "src" / "jichitai"
ZONES = ("internet", "lgwan", "mynumber", "linkage")
SHARED = ("platform", "contracts", "procedures")


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    # optional_module("jichitai.x.y") is an import too
    for node in ast.walk(tree):
        if (
            isinstance(node, ast.Call)
            and getattr(node.func, "id", getattr(node.func, "attr", ""))
            in {"optional_module", "import_module"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.add(node.args[0].value)
    return {m for m in found if m.startswith("jichitai.")}


@pytest.mark.parametrize("zone", ZONES)
def test_zone_imports_only_shared_packages(zone: str) -> None:
    root = SRC / zone
    if not root.exists():
        pytest.skip(f"{zone} not built")
    allowed = {f"jichitai.{p}" for p in (*SHARED, zone)}
    if zone == "linkage":
        allowed = {"jichitai.platform", "jichitai.contracts", "jichitai.linkage"}
    bad = []
    for path in root.rglob("*.py"):
        for module in _imports(path):
            top = ".".join(module.split(".")[:2])
            if top not in allowed and module != "jichitai":
                bad.append(f"{path.relative_to(SRC)} imports {module}")
    assert not bad, "\n".join(bad)


def test_platform_imports_no_zone() -> None:
    bad = []
    for path in (SRC / "platform").rglob("*.py"):
        for module in _imports(path):
            if module.split(".")[1] in ZONES:
                bad.append(f"{path.relative_to(SRC)} imports {module}")
    assert not bad, "\n".join(bad)
