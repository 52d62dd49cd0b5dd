"""Smoke test of ``python -m benchmarks.mqtt``: it runs and its JSON has the promised shape.

No timing assertions: the numbers of a ``--quick`` run on a shared machine mean nothing.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow  # a benchmark smoke run

ROOT = Path(__file__).resolve().parents[2]
CLIENTS = {"raw", "fleetsim", "gmqtt", "aiomqtt"}
CONNECTION_KEYS = {"client", "devices", "connects_per_s", "rss_kb_per_conn", "idle_cpu_pct"}
ROLLOUT_KEYS = {"client", "devices", "messages_per_s", "all_terminal"}


def test_mqtt_benchmark_json_shape() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "benchmarks.mqtt", "--quick", "--json"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    data = json.loads(proc.stdout)  # exactly one JSON object, nothing else on stdout
    assert set(data) == {"connections", "rollout"}

    rows = data["connections"]
    assert {row["client"] for row in rows} == CLIENTS
    for row in rows:
        assert set(row) == CONNECTION_KEYS
        assert isinstance(row["devices"], int) and row["devices"] > 0
        for key in ("connects_per_s", "rss_kb_per_conn", "idle_cpu_pct"):
            assert isinstance(row[key], float)
        assert row["connects_per_s"] > 0
        assert row["idle_cpu_pct"] >= 0

    assert isinstance(data["rollout"], list)
    for row in data["rollout"]:  # empty until the engine drives devices over MQTT
        assert set(row) == ROLLOUT_KEYS
        assert isinstance(row["messages_per_s"], float) and isinstance(row["all_terminal"], bool)
