"""``fleetsim bench fleet``, its smallest run from the console: the JSON has the promised shape.

No timing assertions: the numbers of a ``--quick`` run on a shared machine mean nothing.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.console import ROOT, bench_json

pytestmark = pytest.mark.slow  # a benchmark run

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


def test_fleet_benchmark_json_shape(tmp_path: Path) -> None:
    scenario = ROOT / "scenarios" / "quickstart.toml"
    data = bench_json("fleet", "--quick", "--scenario", str(scenario), cwd=tmp_path, timeout=300)

    rows = data["results"]
    assert [row["devices"] for row in rows] == [200, 1_000]
    for row in rows:
        assert set(row) >= ROW_KEYS
        for key in ("wall_s", "cpu_s", "peak_rss_mb"):
            assert isinstance(row[key], float)
            assert row[key] > 0
        # Every size plays the whole rollout: these are what the run checked, not timings.
        assert row["all_terminal"] is True
        assert row["package_updated"] is True
        assert sum(row["executions"].values()) == row["devices"]
    assert {t["pass"] for t in data["targets"]} <= {True, False}
    assert data["scenario"] == str(scenario)
    assert data["machine"]["python"]
    assert len(data["machine"]["load_average_at_start"]) == 3
