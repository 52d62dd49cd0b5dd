"""``fleetsim bench api``: both servers run from the console and its JSON has the right shape;
without moto (an optional peer) fleetsim is measured alone, with a note.

No timing assertions: the numbers of a ``--quick`` run on a shared machine mean nothing. Each
timed operation was checked against a real response inside the benchmark before each round.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.bench.console import bench_json
from tests.fleetsim_cli import fleetsim

pytestmark = pytest.mark.slow  # a benchmark run

ROW_KEYS = {"server", "operation", "requests_per_s", "p50_ms", "p99_ms"}
SHARED = {"DescribeThing", "UpdateThingShadow", "GetThingShadow", "DescribeJob", "GetJobDocument"}


def test_api_benchmark_json_shape(tmp_path: Path) -> None:
    data = bench_json("api", "--quick", cwd=tmp_path, timeout=600)
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
    assert all(c["failures"] == 0 for c in data["cpu"])  # no 403: signed afresh each round
    assert data["method"]["signed"] == "per round"
    assert {t["pass"] for t in data["targets"]} <= {True, False}


def test_without_moto_fleetsim_is_measured_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "moto", None)  # find_spec: not installed
    result = fleetsim(*("bench", "api", "--json", "--no-pin", "--rounds", "1", "--duration", "0.2"))
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert {row["server"] for row in data["results"]} == {"fleetsim"}
    assert data["ratios"] == {} and data["targets"] == []
    note = next(s for s in data["skipped"] if s["server"] == "moto")
    assert "pip install 'fleetsim[bench]'" in note["reason"]
    assert "pip install 'fleetsim[bench]'" in result.stderr
