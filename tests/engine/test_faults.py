"""The fault schedule (``[[faults]]``): a ``$package`` report whose connection dropped lands late,
and in whole runs on the simulated clock the late report overwrites the device's newer one unless
the device reports with a version precondition."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.distributions import parse_distribution
from simulator.engine.faults import FaultSchedule, FaultSpec
from simulator.engine.scenario import load_scenario
from tests.engine.support import edited, lines, load, run
from tests.fleet_mqtt.support import mqtt_run, options, quick_scenario, run_in_process
from tests.mqtt_broker import Mosquitto

REPORT = "$aws/things/device-000001/shadow/name/$package/update"
OTHERS = (
    "$aws/things/device-000001/jobs/start-next",
    "$aws/things/device-000001/jobs/agent/update",
    "$aws/things/device-000001/shadow/name/$package/get",
    "$aws/things/device-000001/shadow/update",
)


@settings(max_examples=200, deadline=None)
@given(
    at=st.floats(0, 1000),
    length=st.floats(0.001, 1000),
    low=st.floats(0, 100),
    spread=st.floats(0, 100),
    times=st.lists(st.floats(-10, 3000), max_size=30),
)
def test_a_report_published_in_the_window_is_held_for_a_redelivery_draw(
    at: float, length: float, low: float, spread: float, times: list[float]
) -> None:
    fault = FaultSpec(drop="device", at_s=at, for_s=length, probability=1.0)
    delay = parse_distribution(f"uniform({low}, {low + spread})")
    schedule = FaultSchedule([fault], [delay], seed=3, start=100.0)
    held = 0
    for t in sorted(times):
        now = 100.0 + t
        for topic in OTHERS:
            assert schedule.delay(now, topic) == 0.0  # only $package reports are held
        extra = schedule.delay(now, REPORT)
        if 100.0 + at <= now < 100.0 + at + length:
            held += 1
            assert low <= extra <= low + spread + 1e-9
        else:
            assert extra == 0.0
    assert schedule.held == held


def test_the_probability_picks_which_reports_are_held_from_its_own_stream() -> None:
    fault = FaultSpec(drop="device", for_s=100.0, probability=0.5, redelivery_s=30)
    delays = [parse_distribution(30)]
    one = FaultSchedule([fault], delays, seed=7, start=0.0)
    again = FaultSchedule([fault], delays, seed=7, start=0.0)
    got = [one.delay(float(t), REPORT) for t in range(100)]
    assert got == [again.delay(float(t), REPORT) for t in range(100)]  # seeded
    assert set(got) == {0.0, 30.0} and 30 < one.held < 70


#: Every device reports after SUCCEEDED; half roll back 1-10 s later and report again. Half the
#: reports land 60 s late: a held report of 1.2.0 and an unheld rollback report reorder.
RACE = (
    "[device]\nreports_package_shadow = 1.0\nrollback_after_success_probability = 0.5\n"
    'rollback_after_success_delay = "uniform(1, 10)"\n'
    '[[faults]]\ndrop = "device"\nfor_s = 200\nprobability = 0.5\nredelivery_s = 60\n'
)
SETTLE = ("settle_s = 0", "settle_s = 300")


@pytest.mark.asyncio
async def test_a_report_redelivered_after_the_rollback_report_is_a_phantom(
    tmp_path: Path,
) -> None:
    log = tmp_path / "events.jsonl.gz"
    result, world = await run(load(tmp_path, edited(SETTLE, extra=RACE)), event_log=log)
    assert result.executions == {"SUCCEEDED": 20}
    assert result.extra["redelivered_reports"] > 0
    phantoms = [d for d in world.devices if world.tracker.classify(d.index)]
    assert phantoms and dict(result.shadow_by_cause) == {"phantom_version": len(phantoms)}
    writes = [e for e in lines(log) if e.get("k") == "write" and e["by"] == "device"]
    for device in phantoms:
        assert device.inventory == {"agent": "1.0.0"}
        assert world.tracker.reported(device.name) == {"agent": "1.2.0"}
        # The device's last two writes landed in the wrong order: rollback, then 1.2.0.
        *_, newer, late = [e["set"] for e in writes if e["dev"] == device.name]
        assert (newer, late) == ({"agent": "1.0.0"}, {"agent": "1.2.0"})
    assert all(e.get("pre") is None for e in writes)  # no precondition: nothing refused


@pytest.mark.asyncio
async def test_a_version_precondition_refuses_the_late_report_and_the_device_reports_again(
    tmp_path: Path,
) -> None:
    log = tmp_path / "events.jsonl.gz"
    text = edited(
        SETTLE, extra=RACE.replace("[device]\n", "[device]\npackage_version_precondition = true\n")
    )
    result, _ = await run(load(tmp_path, text), event_log=log)
    assert result.executions == {"SUCCEEDED": 20}
    assert result.extra["redelivered_reports"] > 0
    assert (result.shadow_consistent, result.shadow_by_cause) == (20, {})
    writes = [e for e in lines(log) if e.get("k") == "write" and e["by"] == "device"]
    assert writes and all(type(e.get("pre")) is int for e in writes)
    assert any(e["ans"] == "409" for e in writes)  # a late (or overtaken) report was refused


@pytest.mark.slow  # a real broker on the real clock: about 5 s
@pytest.mark.asyncio
async def test_over_mqtt_the_device_hears_package_answers_and_reports_with_versions(
    tmp_path: Path,
) -> None:
    """The mitigation needs no in-process bus: over a real Mosquitto, through the embedded
    emulator's bridge, a device with the precondition subscribes to ``$package``'s answers, learns
    the version, and every report it sends carries it (the faults play no part over MQTT and say
    so)."""
    path = quick_scenario(tmp_path / "scenario", devices=12)
    text = path.read_text().replace(
        "reports_package_shadow = 0.25",
        "reports_package_shadow = 1.0\npackage_version_precondition = true\n"
        "rollback_after_success_probability = 0.5\n"
        'rollback_after_success_delay = "uniform(0.1, 1)"',
    )
    path.write_text(text + '\n[[faults]]\ndrop = "device"\nfor_s = 60\n')
    log = tmp_path / "events.jsonl.gz"
    with Mosquitto(tmp_path / "broker") as broker:
        run = mqtt_run(load_scenario(path), options(broker.uri), event_log=log)
        result = await run_in_process(run, timeout=120.0)
    assert result.executions == {"SUCCEEDED": 12}
    assert (result.shadow_consistent, result.shadow_by_cause) == (12, {})
    assert any("[[faults]]" in note for note in result.notes)
    writes = [e for e in lines(log) if e.get("k") == "write" and e["by"] == "device"]
    assert len(writes) >= 12 and all(type(e.get("pre")) is int for e in writes)
