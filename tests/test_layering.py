"""Dependencies point one way: core <- services <- transports/API/engine <- CLI.

Checked on the import statements of every module, so a violation fails here rather than in
review. The pure core also never imports IO frameworks.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "simulator"

#: Layer of each top-level part of the package; a module may import only from layers <= its own.
LAYERS = {
    "core": 0,
    "services": 1,
    "api": 2,
    "engine": 2,
    "report": 2,
    "transport": 2,
    "commands": 3,
    "cli": 3,
}
#: Imports the pure core must never make.
IO_MODULES = {"asyncio", "aiohttp", "uvloop", "locust", "gevent", "gmqtt", "socket", "threading"}


def _modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def _part(path: Path) -> str:
    rel = path.relative_to(PACKAGE)
    return rel.parts[0].removesuffix(".py") if len(rel.parts) > 1 or rel.stem != "__init__" else ""


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_imports_point_down(path: Path) -> None:
    part = _part(path)
    if part not in LAYERS:
        return  # simulator/__init__.py
    for name in _imports(path):
        if name.startswith("simulator."):
            target = name.split(".")[1]
            assert LAYERS.get(target, 99) <= LAYERS[part], f"{part} must not import {name}"
        if part == "core":
            assert name.split(".")[0] not in IO_MODULES, f"pure core imports {name}"


def test_every_part_is_known() -> None:
    parts = {_part(p) for p in _modules()} - {""}
    assert parts <= set(LAYERS), parts - set(LAYERS)
