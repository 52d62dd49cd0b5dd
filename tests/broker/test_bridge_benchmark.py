"""Smoke test of ``python -m benchmarks.mqtt_bridge``: it runs and its JSON has the promised shape.

No timing assertions: the numbers of a ``--quick`` run on a shared machine mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.api.conftest import ROOT

pytestmark = pytest.mark.slow  # a benchmark smoke run

ROW_KEYS = {
    "connections",
    "devices",
    "broker_inflight",
    "requests_per_s",
    "p50_ms",
    "p99_ms",
    "rejected",
    "serve_cpu_pct",
    "broker_cpu_pct",
    "load_cpu_pct",
    "serve_cpu_us_per_request",
}


def test_bridge_benchmark_json_shape() -> None:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "benchmarks.mqtt_bridge",
            "--quick",
            "--json",
            "--connections",
            "1,2",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)
    assert [row["connections"] for row in data["results"]] == [1, 2]
    for row in data["results"]:
        assert set(row) == ROW_KEYS
        assert row["requests_per_s"] > 0
        assert row["rejected"] == 0
    assert data["certificates"]["issue_per_s"] > 0
    assert data["machine"]["python"]
