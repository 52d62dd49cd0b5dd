"""Smoke test of ``python -m benchmarks.fleet``: it runs and its JSON has the promised shape.

No timing assertions: the numbers of a ``--quick`` run on a shared machine mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a benchmark smoke run

ROOT = Path(__file__).resolve().parent.parent
ROW_KEYS = {
    "devices",
    "wall_s",
    "cpu_s",
    "setup_s",
    "devices_per_s",
    "events_per_s",
    "peak_rss_mb",
    "rss_per_device_kb",
    "all_terminal",
    "package_updated",
    "executions",
    "load_average_at_start",
}


def test_fleet_benchmark_json_shape() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.fleet", "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # exactly one JSON object, nothing else on stdout
    assert isinstance(data, dict)

    rows = data["results"]
    assert isinstance(rows, list)
    assert rows
    for row in rows:
        assert set(row) >= ROW_KEYS
        assert isinstance(row["devices"], int)
        assert row["devices"] > 0
        for key in ("wall_s", "cpu_s", "peak_rss_mb"):
            assert isinstance(row[key], float)
            assert row[key] > 0
        assert isinstance(row["all_terminal"], bool)
        assert isinstance(row["package_updated"], bool)
        assert isinstance(row["executions"], dict)
    assert {t["pass"] for t in data["targets"]} <= {True, False}
    assert data["machine"]["python"]
    assert len(data["machine"]["load_average_at_start"]) == 3
