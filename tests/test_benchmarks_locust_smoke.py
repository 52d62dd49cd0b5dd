"""Smoke test of ``python -m benchmarks.locust``: it runs and its JSON has the promised shape.

Tiny fleets (20 devices per client), a 4 s window: no assertion on the numbers, which mean nothing
on a shared machine at this size, only that both clients connected, sent requests and were
answered. Locust runs in subprocesses (it monkey-patches whatever imports it).
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
ROW_KEYS = {
    "client",
    "devices",
    "connected",
    "connect_s",
    "cpu_pct",
    "requests_per_s",
    "p50_ms",
    "p99_ms",
    "max_ms",
    "failures",
    "rss_kb_per_device",
    "responder_cpu_pct",
    "broker_cpu_pct",
    "load_average",
    "holds",
    "why_not",
}


@pytest.mark.slow
def test_locust_benchmark_json_shape() -> None:
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "benchmarks.locust", "--json"),
            *("--ours", "20", "--peer", "20", "--window", "4", "--settle", "2"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    data = json.loads(proc.stdout)  # exactly one JSON object, nothing else on stdout
    assert isinstance(data, dict)

    rows = data["rows"]
    assert {row["client"] for row in rows} == {"fleetsim", "locust-mqtt"}
    for row in rows:
        assert set(row) == ROW_KEYS
        assert row["devices"] == 20
        assert row["connected"] == 20, row
        assert row["requests_per_s"] > 0, row
        assert math.isfinite(row["p50_ms"])
        assert row["p50_ms"] <= row["p99_ms"] <= row["max_ms"]
        assert row["failures"] == 0, row
        assert isinstance(row["holds"], bool)
        assert row["holds"] == (not row["why_not"])
        for key in ("cpu_pct", "responder_cpu_pct", "broker_cpu_pct"):
            assert row[key] >= 0
    assert set(data["largest"]) == {"fleetsim", "locust-mqtt"}
    assert set(data["idle_rss_mb"]) == {"fleetsim", "locust-mqtt"}
    assert all(mb > 0 for mb in data["idle_rss_mb"].values())
    assert data["ratio"] is None or data["ratio"] > 0
    assert {t["pass"] for t in data["targets"]} <= {True, False}
    assert data["machine"]["python"]
    assert len(data["machine"]["load_average_at_start"]) == 3
