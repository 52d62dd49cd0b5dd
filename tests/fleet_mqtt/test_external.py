"""(c) An external ``fleetsim serve --mqtt`` as the control plane, and (e) a fleet split into two
shards run by two processes against it.

The run sets the scenario up through the server's HTTP API (boto3), creates the job (shard 0
only), follows it there, and audits ``$package`` with GetThingShadow; the devices talk to the
server's bridge over the broker only.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import orjson
import pytest

from tests.api.conftest import Server, finish
from tests.broker.conftest import serve_mqtt
from tests.fleet_mqtt.support import fleetsim, popen_fleetsim, quick_scenario
from tests.mqtt_broker import Mosquitto

pytestmark = pytest.mark.slow  # end to end: brokers and fleetsim processes


def _names(count: int) -> list[str]:
    return [f"device-{i:06d}" for i in range(count)]


def _check_emulator(server: Server, devices: int) -> None:
    """In the server: one job COMPLETED, one SUCCEEDED execution per device, $package 1.2.0."""
    iot, data = server.client("iot"), server.client("iot-data")
    job = iot.describe_job(jobId="agent-1-2-0")["job"]
    assert job["status"] == "COMPLETED", job["jobProcessDetails"]
    assert job["jobProcessDetails"]["numberOfSucceededThings"] == devices
    per_thing: Counter[str] = Counter()
    for name in _names(devices):
        summaries = iot.list_job_executions_for_thing(thingName=name)["executionSummaries"]
        statuses = [s["jobExecutionSummary"]["status"] for s in summaries]
        assert statuses == ["SUCCEEDED"], (name, statuses)
        per_thing[name] += len(statuses)
        shadow = orjson.loads(
            data.get_thing_shadow(thingName=name, shadowName="$package")["payload"].read()
        )
        assert shadow["state"]["reported"]["agent"]["version"] == "1.2.0", (name, shadow)
    assert set(per_thing.values()) == {1}


def _report(out: Path) -> dict[str, Any]:
    report: dict[str, Any] = orjson.loads((out / "report.json").read_bytes())
    return report


def test_external_control_plane(tmp_path: Path) -> None:
    devices = 60
    scenario = quick_scenario(tmp_path / "scenario", devices=devices)
    with Mosquitto(tmp_path / "broker") as broker:
        server = serve_mqtt("--mqtt", broker.uri)
        try:
            out = tmp_path / "out"
            ran = fleetsim(
                "run", scenario, "--broker", broker.uri, "--control-plane", server.url,
                "--quiet", "--out", out,
            )  # fmt: skip
            assert ran.returncode == 0, ran.stderr
            report = _report(out)
            assert report["executions"] == {"SUCCEEDED": devices}
            assert report["shadow"]["consistent"] == devices, report["shadow"]
            assert report["extra"]["control_plane"] == server.url
            assert report["extra"]["devices_repeating_an_execution"] == 0
            assert report["completion_latency_s"]["count"] == devices
            _check_emulator(server, devices)
        finally:
            finish(server)


def test_two_shards_complete_one_rollout(tmp_path: Path) -> None:
    devices = 120
    scenario = quick_scenario(tmp_path / "scenario", devices=devices)
    with Mosquitto(tmp_path / "broker") as broker:
        server = serve_mqtt("--mqtt", broker.uri)
        try:
            shards = {}
            for k in (1, 0):  # shard 1 first: shard 0 must wait for its things
                shards[k] = popen_fleetsim(
                    "run", scenario, "--broker", broker.uri, "--control-plane", server.url,
                    "--shard", f"{k}/2", "--quiet", "--out", tmp_path / f"out-{k}",
                    log=tmp_path / f"shard-{k}.log",
                )  # fmt: skip
            for k, process in shards.items():
                assert process.wait(timeout=240) == 0, (tmp_path / f"shard-{k}.log").read_text()
            reports = {f"out-{k}": _report(tmp_path / f"out-{k}") for k in shards}
            for name, report in reports.items():
                assert report["devices"] == devices // 2, name
                # Execution counts are the whole job's; latencies are the shard's own devices.
                assert report["executions"] == {"SUCCEEDED": devices}, name
                assert report["completion_latency_s"]["count"] == devices // 2, name
                assert report["shadow"]["consistent"] == devices // 2, (name, report["shadow"])
            assert reports["out-0"]["extra"]["shard"] == "0/2"
            assert reports["out-1"]["extra"]["shard_devices"] == f"{devices // 2}..{devices - 1}"
            _check_emulator(server, devices)
        finally:
            finish(server)
