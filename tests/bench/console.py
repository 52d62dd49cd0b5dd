"""``fleetsim bench ...`` as a user runs it: the installed console script, in a subprocess, from a
directory outside the checkout (so nothing may come from ``benchmarks/``, ``tests/`` or
``scenarios/`` unless a path names it)."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

__all__ = ["ROOT", "bench_json"]

ROOT = Path(__file__).resolve().parents[2]


def bench_json(*args: str, cwd: Path, timeout: float) -> dict[str, Any]:
    """Run ``fleetsim bench ARGS --json`` in ``cwd``; its one JSON object (exit 0 checked)."""
    exe = shutil.which("fleetsim", path=str(Path(sys.executable).parent))
    assert exe, "the fleetsim console script is not installed in the environment"
    proc = subprocess.run(
        [exe, "bench", *args, "--json"],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)  # exactly one JSON object, nothing else on stdout
    assert isinstance(data, dict)
    return data
