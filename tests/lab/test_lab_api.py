"""``simulator.lab``'s public API, and its place in the layers: beside the engine, imported by
the command line only (tests/test_layering.py ranks it with the engine)."""

from __future__ import annotations

import ast
from pathlib import Path

import simulator.lab

PACKAGE = Path(simulator.lab.__file__).resolve().parents[1]


def test_only_the_commands_import_the_lab() -> None:
    for path in sorted(PACKAGE.rglob("*.py")):
        part = path.relative_to(PACKAGE).parts[0]
        if part in ("commands", "lab"):
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module]
            assert not any(n.startswith("simulator.lab") for n in names), path
