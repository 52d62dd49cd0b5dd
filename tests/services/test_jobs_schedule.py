"""``schedulingConfig`` enforced on a virtual clock: start, maintenance windows, end behaviours."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from simulator.services.jobs import JobsOptions
from tests.services.jobs_support import World, aws_error

INVALID = ("InvalidRequestException", 400)
#: Thursday 2026-01-01T00:00Z.
MIDNIGHT = dt.datetime(2026, 1, 1, tzinfo=dt.UTC).timestamp()
NIGHTLY = {"startTime": "cron(0 2 * * ? *)", "durationInMinutes": 30}  # 02:00-02:30 daily


def _world(things: int, **options: Any) -> World:
    w = World(things=things, options=JobsOptions(**options) if options else None)
    w.clock.now = MIDNIGHT
    return w


def _iso(w: World, seconds: float) -> str:
    return dt.datetime.fromtimestamp(w.clock.now + seconds, tz=dt.UTC).strftime("%Y-%m-%dT%H:%M")


def _count(w: World, job_id: str) -> int:
    return len(w.jobs.list_job_executions_for_job(job_id=job_id)["executionSummaries"])


def _until(w: World, hhmmss: str, day: int = 1) -> None:
    """Advance the clock to ``hhmmss`` on 2026-01-``day``."""
    when = dt.datetime.fromisoformat(f"2026-01-{day:02d}T{hhmmss}+00:00").timestamp()
    w.advance(when - w.clock.now)


def test_scheduled_until_start_then_in_progress() -> None:
    w = _world(2)
    w.create("j", "t0", "t1", scheduling_config={"startTime": _iso(w, 3600)})
    assert w.job("j")["status"] == "SCHEDULED"
    listed = w.jobs.list_jobs(status="SCHEDULED")["jobs"]
    assert [j["jobId"] for j in listed] == ["j"]
    assert w.jobs.list_jobs(status="IN_PROGRESS")["jobs"] == []
    assert w.timers.next_deadline() == MIDNIGHT + 3600  # one timer: the start
    w.advance(3599)
    assert (w.job("j")["status"], _count(w, "j")) == ("SCHEDULED", 0)
    assert w.messages("/notify-next") == []
    w.advance(1)
    assert (w.job("j")["status"], _count(w, "j")) == ("IN_PROGRESS", 2)
    assert len(w.messages("/notify-next")) == 2


def test_rollout_only_inside_maintenance_windows() -> None:
    w = _world(40)
    things = [f"t{i}" for i in range(40)]
    w.create(
        "j",
        *things,
        scheduling_config={"maintenanceWindows": [NIGHTLY]},
        job_executions_rollout_config={"maximumPerMinute": 1},
    )
    assert (w.job("j")["status"], _count(w, "j")) == ("IN_PROGRESS", 0)
    # Closed until 02:00: the job waits on one timer, set for the opening (no polling).
    assert w.timers.next_deadline() == MIDNIGHT + 2 * 3600
    _until(w, "01:59:59")
    assert _count(w, "j") == 0
    _until(w, "02:00:00")
    assert _count(w, "j") == 1
    _until(w, "02:29:59")
    assert _count(w, "j") == 30  # one a minute for the window's 30 minutes
    _until(w, "02:30:30")
    assert _count(w, "j") == 30
    assert w.timers.next_deadline() == MIDNIGHT + 86400 + 2 * 3600  # tomorrow's opening
    assert w.job("j")["jobProcessDetails"]["numberOfQueuedThings"] == 30
    w.finish("j", "t0")  # executions already released go on between windows
    assert w.status("j", "t0") == "SUCCEEDED"
    _until(w, "01:59:59", day=2)
    assert _count(w, "j") == 30
    _until(w, "02:09:59", day=2)
    assert _count(w, "j") == 40
    for thing in things[1:]:
        w.finish("j", thing)
    assert w.job("j")["status"] == "COMPLETED"
    assert w.timers.next_deadline() is None


def test_start_time_then_windows() -> None:
    w = _world(3)
    w.create(
        "j",
        "t0",
        "t1",
        "t2",
        scheduling_config={"startTime": _iso(w, 3600), "maintenanceWindows": [NIGHTLY]},
    )
    assert w.job("j")["scheduledJobRollouts"] == [
        {"startTime": f"2026-01-{d:02d}T02:00"} for d in range(1, 8)
    ]
    _until(w, "01:30:00")
    assert (w.job("j")["status"], _count(w, "j")) == ("IN_PROGRESS", 0)
    _until(w, "02:00:00")
    assert _count(w, "j") == 3
    _until(w, "03:00:00")
    # Listed from now on: today's opening has passed.
    assert w.job("j")["scheduledJobRollouts"][0] == {"startTime": "2026-01-02T02:00"}


def test_scheduled_rollouts_stop_at_the_end_and_merge_windows() -> None:
    w = _world(1)
    w.create(
        "j",
        "t0",
        scheduling_config={
            "endTime": _iso(w, 3 * 86400 + 3 * 3600),  # 2026-01-04T03:00
            "maintenanceWindows": [
                NIGHTLY,
                {"startTime": "cron(0 2 ? * FRI *)", "durationInMinutes": 60},
            ],
        },
    )
    rollouts = [r["startTime"] for r in w.job("j")["scheduledJobRollouts"]]
    assert rollouts == [f"2026-01-0{d}T02:00" for d in (1, 2, 3, 4)]  # Friday's is the 2nd's
    w.create("k", "t0")
    assert "scheduledJobRollouts" not in w.job("k")


@pytest.mark.parametrize(
    ("behavior", "queued", "in_progress", "job_status"),
    [
        ("STOP_ROLLOUT", "QUEUED", "SUCCEEDED", "COMPLETED"),
        ("CANCEL", "CANCELED", "SUCCEEDED", "CANCELED"),
        ("FORCE_CANCEL", "CANCELED", "CANCELED", "CANCELED"),
    ],
)
def test_end_behaviours(behavior: str, queued: str, in_progress: str, job_status: str) -> None:
    """At the end t0 is IN_PROGRESS, t1 QUEUED and t2 still waits for a window."""
    w = _world(3)
    w.create(
        "j",
        "t0",
        "t1",
        "t2",
        scheduling_config={
            "startTime": _iso(w, 3600),
            "endTime": _iso(w, 5400),
            "endBehavior": behavior,
            # 01:00-01:02: room for two releases at one a minute.
            "maintenanceWindows": [{"startTime": "cron(0 1 * * ? *)", "durationInMinutes": 2}],
        },
        job_executions_rollout_config={"maximumPerMinute": 1},
    )
    _until(w, "01:05:00")
    assert _count(w, "j") == 2
    w.update("j", "t0", "IN_PROGRESS")
    _until(w, "01:29:59")
    assert w.job("j")["status"] == "IN_PROGRESS"
    _until(w, "01:30:00")
    assert w.status("j", "t1") == queued
    assert w.status("j", "t0") == ("CANCELED" if behavior == "FORCE_CANCEL" else "IN_PROGRESS")
    if in_progress == "SUCCEEDED":
        w.update("j", "t0", "SUCCEEDED")  # in-flight executions may finish
    assert w.status("j", "t0") == in_progress
    if behavior == "STOP_ROLLOUT":
        w.finish("j", "t1")
    assert w.job("j")["status"] == job_status
    assert w.timers.next_deadline() is None
    w.advance(2 * 86400)  # later windows release nothing
    assert _count(w, "j") == 2


def test_default_end_behavior_is_an_option() -> None:
    w = _world(1, default_end_behavior="CANCEL")
    w.create("j", "t0", scheduling_config={"endTime": _iso(w, 1800)})
    w.advance(1800)
    assert (w.job("j")["status"], w.status("j", "t0")) == ("CANCELED", "CANCELED")


def test_cancel_while_scheduled() -> None:
    w = _world(2)
    w.create(
        "j",
        "t0",
        "t1",
        scheduling_config={"startTime": _iso(w, 3600), "endTime": _iso(w, 7200)},
    )
    out = w.jobs.cancel_job(job_id="j")
    assert out["jobId"] == "j"
    assert w.job("j")["status"] == "CANCELED"
    assert w.timers.next_deadline() is None  # its start and end timers are gone
    w.advance(7200)
    assert (w.job("j")["status"], _count(w, "j")) == ("CANCELED", 0)
    with aws_error(*INVALID):
        w.jobs.cancel_job(job_id="j")
    w.jobs.delete_job(job_id="j")


def test_continuous_job_scheduled() -> None:
    """Things joining a SCHEDULED CONTINUOUS job's group wait for its start."""
    w = _world(1)
    w.group("g")
    w.join("g", "t0")
    w.create(
        "j",
        targets=[w.group_arn("g")],
        target_selection="CONTINUOUS",
        scheduling_config={"startTime": _iso(w, 3600)},
    )
    w.thing("late", "g")
    assert _count(w, "j") == 0
    w.advance(3600)
    assert _count(w, "j") == 2


def test_continuous_joiners_wait_for_a_window_and_none_join_after_the_end() -> None:
    """A thing joining a running CONTINUOUS job with windows is released inside a window; after
    a STOP_ROLLOUT end, a joiner gets no execution."""
    w = _world(1)
    w.group("g")
    w.create(
        "j",
        targets=[w.group_arn("g")],
        target_selection="CONTINUOUS",
        scheduling_config={
            "maintenanceWindows": [NIGHTLY],
            "endTime": "2026-01-02T03:00",
            "endBehavior": "STOP_ROLLOUT",
        },
    )
    _until(w, "00:10:00")
    w.join("g", "t0")  # outside the window: it waits
    assert _count(w, "j") == 0
    _until(w, "02:00:00")
    assert _count(w, "j") == 1
    w.thing("inside", "g")  # inside the window: released
    w.advance(1)
    assert _count(w, "j") == 2
    _until(w, "03:00:00", day=2)
    w.thing("after", "g")
    w.advance(1)
    assert _count(w, "j") == 2


@pytest.mark.parametrize(
    "config",
    [
        {"startTime": "2026-01-01T00:29"},  # under 30 minutes ahead
        {"startTime": "2025-12-31T23:00"},  # in the past
        {"startTime": "2027-01-02T00:00"},  # over a year ahead
        {"startTime": "2026-01-01T01:00", "endTime": "2026-01-01T01:29"},
        {"startTime": "01/01/2026 01:00"},
        {"endBehavior": "LATER"},
        {"maintenanceWindows": [{"startTime": "cron(0 2 * * * *)", "durationInMinutes": 30}]},
        {"maintenanceWindows": [{"startTime": "cron(0 2 * * ? *)", "durationInMinutes": 0}]},
        {"maintenanceWindows": [{"startTime": "cron(0 2 * * ? *)", "durationInMinutes": 1431}]},
        {"maintenanceWindows": [{"startTime": "0 2 * * ? *", "durationInMinutes": 30}]},
        {"maintenanceWindows": [{"durationInMinutes": 30}]},
        {"startTime": 1767229200},
    ],
)
def test_refused(config: dict[str, Any]) -> None:
    w = _world(1)
    with aws_error(*INVALID):
        w.create("j", "t0", scheduling_config=config)
    assert w.jobs.list_jobs()["jobs"] == []


def test_options_shorten_the_lead_and_limit_windows() -> None:
    w = _world(1, schedule_min_lead_s=0.0, schedule_min_duration_s=60.0, max_maintenance_windows=1)
    w.create("j", "t0", scheduling_config={"startTime": _iso(w, 60), "endTime": _iso(w, 120)})
    assert w.job("j")["status"] == "SCHEDULED"
    w.advance(60)
    assert (w.job("j")["status"], _count(w, "j")) == ("IN_PROGRESS", 1)
    with aws_error(*INVALID) as info:
        w.create("k", "t0", scheduling_config={"maintenanceWindows": [NIGHTLY, NIGHTLY]})
    assert "at most 1" in info.value.message


def test_template_windows_apply_to_its_jobs() -> None:
    w = _world(1)
    w.jobs.create_job_template(
        job_template_id="tpl",
        description="nightly",
        document='{"x":1}',
        maintenance_windows=[NIGHTLY],
    )
    w.create("j", "t0", job_template_arn=w.scope.arn("jobtemplate/tpl"))
    assert w.job("j")["schedulingConfig"]["maintenanceWindows"] == [NIGHTLY]
    _until(w, "01:59:00")
    assert _count(w, "j") == 0
    _until(w, "02:00:00")
    assert _count(w, "j") == 1
