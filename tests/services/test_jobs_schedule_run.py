"""``fleetsim run`` on the simulated clock: a scheduled job with a maintenance window rolls out
only inside it, and a scenario's ``scheduling`` is checked when it is loaded."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from simulator.core.errors import UsageError
from simulator.engine.setup_requests import create_job_request
from tests.engine.support import edited, load, report, run

#: Run start (the scenario default): 2026-01-01T00:00Z.
START = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
WINDOW = 'maintenanceWindows = [{ startTime = "cron(0 1 * * ? *)", durationInMinutes = 10 }]'


def _scenario(scheduling: str) -> str:
    return edited(
        ("sample_interval_s = 5", "sample_interval_s = 600"),
        ("max_duration_s = 3600", "max_duration_s = 200000"),
        (
            'targets = ["group:fleet"]',
            'targets = ["group:fleet"]\nrollout = { maximumPerMinute = 1 }\n'
            f"scheduling = {{ {scheduling} }}",
        ),
    )


@pytest.mark.asyncio
async def test_a_run_rolls_out_only_inside_the_maintenance_window(tmp_path: Path) -> None:
    scenario = load(tmp_path, _scenario(f'startTime = "2026-01-01T00:45", {WINDOW}'))
    request = create_job_request(scenario, scenario.jobs[0], lambda kind, name: name)
    assert request["schedulingConfig"]["startTime"] == "2026-01-01T00:45"
    result, world = await run(scenario)
    data = report(result)
    assert data["stop_reason"] == "every job finished"
    (job,) = data["jobs"]
    assert job["status"] == "COMPLETED"
    assert job["executions"] == {"SUCCEEDED": 20}
    queued = sorted(ex.queued_at - START for ex in world.emulator.jobs.executions("agent-1-2-0"))
    # One a minute while the 01:00-01:10 window is open: ten today, ten tomorrow.
    day = 86400
    assert [int(t // 60) for t in queued] == [
        *range(60, 70),
        *range(day // 60 + 60, day // 60 + 70),
    ]


def test_a_scenario_schedule_is_checked_on_load(tmp_path: Path) -> None:
    # Created at at_s = 10 on the simulated clock: a start 20 minutes later is too soon.
    with pytest.raises(UsageError, match=r"\$\.jobs\[0\]\.scheduling: .*startTime"):
        load(tmp_path, _scenario('startTime = "2026-01-01T00:20"'))
    with pytest.raises(UsageError, match=r"\$\.jobs\[0\]\.scheduling: .*cron"):
        load(
            tmp_path,
            _scenario('maintenanceWindows = [{ startTime = "daily", durationInMinutes = 10 }]'),
        )
