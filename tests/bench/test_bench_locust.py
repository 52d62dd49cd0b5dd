"""``fleetsim bench locust``, a small run from the console: the JSON has the promised shape.

Tiny fleets (20 devices per client), a 4 s window: no assertion on the numbers, which mean nothing
on a shared machine at this size, only that both clients connected, sent requests and were
answered. Locust runs in subprocesses on the locustfiles of ``simulator/locustrun/bench/``.
"""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from tests.bench.console import bench_json

pytestmark = pytest.mark.slow  # a benchmark run

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


def test_locust_benchmark_json_shape(tmp_path: Path) -> None:
    data = bench_json(
        *("locust", "--ours", "20", "--peer", "20", "--window", "4", "--settle", "2"),
        cwd=tmp_path,
        timeout=180,
    )
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
