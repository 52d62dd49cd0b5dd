"""``fleetsim bench mqtt`` and ``fleetsim bench mqtt-bridge``: their smallest runs from the console
(each starts its own Mosquitto); the JSON has the promised shape.

No timing assertions: the numbers of a ``--quick`` run on a shared machine mean nothing, only
what the runs checked (every device connected, every execution terminal, no rejection).
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.bench.console import bench_json

pytestmark = pytest.mark.slow  # a benchmark run

CLIENTS = {"raw", "fleetsim", "gmqtt", "aiomqtt"}
CONNECTION_KEYS = {"client", "devices", "connects_per_s", "rss_kb_per_conn", "idle_cpu_pct"}
ROLLOUT_KEYS = {"client", "devices", "messages_per_s", "all_terminal"}
BRIDGE_KEYS = {
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


def test_mqtt_benchmark_json_shape(tmp_path: Path) -> None:
    data = bench_json("mqtt", "--quick", cwd=tmp_path, timeout=600)
    assert set(data) == {"connections", "rollout", "skipped"}
    assert data["skipped"] == []  # the dev group installs every peer

    rows = data["connections"]
    assert {row["client"] for row in rows} == CLIENTS
    for row in rows:
        assert set(row) == CONNECTION_KEYS
        assert row["devices"] == 200
        for key in ("connects_per_s", "rss_kb_per_conn", "idle_cpu_pct"):
            assert isinstance(row[key], float)
        assert row["connects_per_s"] > 0
        assert row["idle_cpu_pct"] >= 0

    assert {row["client"] for row in data["rollout"]} == {"raw", "fleetsim"}
    for row in data["rollout"]:
        assert set(row) == ROLLOUT_KEYS
        assert row["devices"] == 300
        assert row["messages_per_s"] > 0
        assert row["all_terminal"] is True


def test_mqtt_bridge_benchmark_json_shape(tmp_path: Path) -> None:
    data = bench_json("mqtt-bridge", "--quick", "--connections", "1,2", cwd=tmp_path, timeout=300)
    assert [row["connections"] for row in data["results"]] == [1, 2]
    for row in data["results"]:
        assert set(row) == BRIDGE_KEYS
        assert row["requests_per_s"] > 0
        assert row["rejected"] == 0
    assert data["certificates"]["issue_per_s"] > 0
    assert data["machine"]["python"]
