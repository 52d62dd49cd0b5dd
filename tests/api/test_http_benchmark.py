"""Smoke test of ``python -m benchmarks.api``: both servers run and its JSON has the right shape.

No timing assertions: the numbers of a ``--quick`` run on a shared machine mean nothing. Each
timed operation was checked against a real response inside the benchmark before timing.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from tests.api.conftest import ROOT

pytestmark = pytest.mark.slow  # a benchmark smoke run

ROW_KEYS = {"server", "operation", "requests_per_s", "p50_ms", "p99_ms"}
SHARED = {"DescribeThing", "UpdateThingShadow", "GetThingShadow", "DescribeJob", "GetJobDocument"}


def test_api_benchmark_json_shape() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.api", "--json", "--quick"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # exactly one JSON object, nothing else on stdout
    rows = data["results"]
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["server"] in {"fleetsim", "moto"}
        for key in ("requests_per_s", "p50_ms", "p99_ms"):
            assert isinstance(row[key], float)
            assert row[key] > 0
        assert row["p50_ms"] <= row["p99_ms"]
    measured = {(r["server"], r["operation"]) for r in rows}
    skipped = {(s["server"], s["operation"]) for s in data["skipped"]}
    # DescribeThing needs only the registry: always measured on both servers.
    assert {("fleetsim", "DescribeThing"), ("moto", "DescribeThing")} <= measured
    # Every shared operation fleetsim serves is measured on moto too, and compared.
    for op in SHARED:
        if ("fleetsim", op) in measured:
            assert ("moto", op) in measured
            assert data["ratios"][op] > 0
        else:
            assert ("fleetsim", op) in skipped
    if ("fleetsim", "UpdateJobExecution") not in skipped:
        assert ("fleetsim", "UpdateJobExecution") in measured
    assert all(c["failures"] == 0 for c in data["cpu"])
    assert {t["pass"] for t in data["targets"]} <= {True, False}
