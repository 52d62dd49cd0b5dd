"""(a) A 2,000-device rollout over a real Mosquitto, emulator embedded in the process."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from simulator.report import write_report
from tests.fleet_mqtt.support import (
    check_rollout,
    embedded,
    load,
    mqtt_run,
    options,
    quick_scenario,
    run_in_process,
)
from tests.mqtt_broker import Mosquitto

pytestmark = pytest.mark.slow  # end to end, at scale

DEVICES = 2000


@pytest.mark.asyncio
async def test_rollout_of_2000_devices_over_mqtt(tmp_path: Path) -> None:
    scenario = load(quick_scenario(tmp_path / "scenario", devices=DEVICES))
    with Mosquitto(tmp_path / "broker") as broker:
        run = mqtt_run(
            scenario,
            options(broker.uri, rollout_per_minute=60_000),
            event_log=tmp_path / "events.jsonl.gz",
        )
        began = time.monotonic()
        result = await run_in_process(run)
        elapsed = time.monotonic() - began
    check_rollout(run, result)
    assert elapsed < 60, elapsed
    assert embedded(run).link.ledger.wakeups == 0
    assert result.extra["connection_drops"] == 0
    assert result.extra["connects"] == DEVICES
    assert result.extra["bridge_handler_errors"] == 0
    json_path, html_path = write_report(result, tmp_path / "out")
    report = orjson.loads(json_path.read_bytes())
    assert html_path.exists()
    assert report["clock"] == "real"
    assert report["executions"] == {"SUCCEEDED": DEVICES}
    assert report["shadow"]["consistent"] == DEVICES
    assert report["extra"]["transport"] == "mqtt"
    assert report["extra"]["event_log_lines"] > 4 * DEVICES
    # Each device: start-next, IN_PROGRESS, SUCCEEDED, start-next again (at least) up;
    # their answers and the notification down.
    assert report["extra"]["messages_up"] >= 4 * DEVICES
