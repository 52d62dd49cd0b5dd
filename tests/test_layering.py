"""Dependencies point one way: core <- services <- transports/API/report <- engine <- CLI and the
Locust driver.

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
    "report": 2,
    "transport": 2,
    "engine": 3,
    "lab": 3,  # beside engine; only commands import it (tests/lab/test_lab_api.py)
    "commands": 4,
    "bench": 4,
    "locustrun": 4,
    "cli": 4,
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


@pytest.mark.parametrize("path", _modules(), ids=lambda p: str(p.relative_to(PACKAGE)))
def test_only_the_locust_driver_imports_locust(path: Path) -> None:
    """Importing locust gevent-patches the whole process: only simulator.locustrun may."""
    if _part(path) == "locustrun":
        return
    patched = {name.split(".")[0] for name in _imports(path)} & {"locust", "gevent"}
    assert not patched, f"{path.relative_to(PACKAGE)} imports {patched}"


def test_locust_driver_public_api() -> None:
    """Pinned from the source: importing the package would gevent-patch this test process."""
    tree = ast.parse((PACKAGE / "locustrun" / "__init__.py").read_text())
    exported = next(
        ast.literal_eval(node.value)
        for node in tree.body
        if isinstance(node, ast.Assign)
        and any(isinstance(t, ast.Name) and t.id == "__all__" for t in node.targets)
    )
    assert sorted(exported) == ["DeviceUser", "install"]
