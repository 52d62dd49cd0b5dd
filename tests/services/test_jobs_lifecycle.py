"""Over time: rollout pacing, timeouts, retries, abort criteria, completion and scheduling."""

from __future__ import annotations

import datetime as dt
from typing import Any

from simulator.services.jobs import JobsOptions
from tests.services.jobs_support import World

ABORT_FAILED = {
    "criteriaList": [
        {
            "failureType": "FAILED",
            "action": "CANCEL",
            "thresholdPercentage": 50,
            "minNumberOfExecutedThings": 2,
        }
    ]
}


def _executions(w: World, job_id: str) -> int:
    return len(w.jobs.list_job_executions_for_job(job_id=job_id)["executionSummaries"])


def test_rollout_releases_at_the_rate_per_minute() -> None:
    w = World(things=25)
    w.create(
        "j", *[f"t{i}" for i in range(25)], job_executions_rollout_config={"maximumPerMinute": 10}
    )
    assert _executions(w, "j") == 10
    job = w.job("j")
    assert job["isConcurrent"] is True
    assert job["jobProcessDetails"]["processingTargets"] == job["targets"]
    assert len(w.timers) <= 2  # one rollout tick, never a timer per execution
    w.advance(59)
    assert _executions(w, "j") == 10
    w.advance(1)
    assert _executions(w, "j") == 20
    w.advance(60)
    assert _executions(w, "j") == 25
    assert "processingTargets" not in w.job("j")["jobProcessDetails"]
    assert w.job("j")["isConcurrent"] is False
    assert w.timers.next_deadline() is None


def test_rollout_ticks_within_the_minute_release_nothing_and_cancel_drops_the_backlog() -> None:
    """The pacing ``tests/api/test_http_e2e_jobs.py`` sees over HTTP, on the injected clock."""
    w = World(things=5)
    w.create(
        "j", *[f"t{i}" for i in range(5)], job_executions_rollout_config={"maximumPerMinute": 2}
    )
    first = w.jobs.list_job_executions_for_job(job_id="j")["executionSummaries"]
    assert len(first) == 2
    assert w.counts("j")["numberOfQueuedThings"] == 2
    for _ in range(59):  # every rollout tick (1 s) of the first minute
        w.advance(1)
        assert _executions(w, "j") == 2
        assert w.job("j")["status"] == "IN_PROGRESS"
    assert w.jobs.list_job_executions_for_job(job_id="j")["executionSummaries"] == first
    w.jobs.cancel_job(job_id="j")
    w.advance(600)  # the next windows come and go: the three unreleased things get nothing
    summaries = w.jobs.list_job_executions_for_job(job_id="j")["executionSummaries"]
    assert [s["jobExecutionSummary"]["status"] for s in summaries] == ["CANCELED", "CANCELED"]
    assert w.job("j")["status"] == "CANCELED"
    assert w.timers.next_deadline() is None


def test_default_rollout_rate_option() -> None:
    w = World(options=JobsOptions(default_rollout_per_minute=3, rollout_tick_s=5), things=7)
    w.create("j", *[f"t{i}" for i in range(7)])
    assert _executions(w, "j") == 3
    w.advance(60)
    assert _executions(w, "j") == 6


def test_exponential_rollout_on_succeeded_things() -> None:
    w = World(things=12)
    rollout = {
        "exponentialRate": {
            "baseRatePerMinute": 2,
            "incrementFactor": 2,
            "rateIncreaseCriteria": {"numberOfSucceededThings": 2},
        }
    }
    w.create("j", *[f"t{i}" for i in range(12)], job_executions_rollout_config=rollout)
    assert _executions(w, "j") == 2
    w.finish("j", "t0")
    w.finish("j", "t1")  # 2 succeeded: the rate is now 4 per minute
    w.advance(1)
    assert _executions(w, "j") == 4  # 2 more in the first minute
    w.advance(60)
    assert _executions(w, "j") == 8


def test_snapshot_completes_when_every_target_is_terminal() -> None:
    w = World(things=3)
    w.create("j", "t0", "t1", "t2")
    w.finish("j", "t0")
    w.finish("j", "t1", "FAILED")
    assert w.job("j")["status"] == "IN_PROGRESS"
    w.clock.now += 7
    w.update("j", "t2", "REJECTED")
    job = w.job("j")
    assert job["status"] == "COMPLETED"
    assert job["completedAt"] == w.clock.now
    assert w.counts("j") == {
        "numberOfCanceledThings": 0,
        "numberOfSucceededThings": 1,
        "numberOfFailedThings": 1,
        "numberOfRejectedThings": 1,
        "numberOfQueuedThings": 0,
        "numberOfInProgressThings": 0,
        "numberOfRemovedThings": 0,
        "numberOfTimedOutThings": 0,
    }


def test_snapshot_on_an_empty_group_completes_and_continuous_never() -> None:
    w = World(things=1)
    w.group("empty")
    w.create("snap", targets=[w.group_arn("empty")])
    assert w.job("snap")["status"] == "COMPLETED"
    w.create("cont", "t0", target_selection="CONTINUOUS")
    w.finish("cont", "t0")
    assert w.job("cont")["status"] == "IN_PROGRESS"


def test_in_progress_timeout() -> None:
    w = World(things=1)
    w.create("j", "t0", timeout_config={"inProgressTimeoutInMinutes": 1})
    w.advance(600)  # QUEUED executions never time out
    assert w.status("j", "t0") == "QUEUED"
    w.start_next("t0")
    w.bus.messages.clear()
    w.advance(59)
    assert w.status("j", "t0") == "IN_PROGRESS"
    w.advance(1)
    assert w.status("j", "t0") == "TIMED_OUT"
    assert w.messages("/notify-next", "t0") == [{"timestamp": int(w.clock.now)}]
    assert w.counts("j")["numberOfTimedOutThings"] == 1
    assert w.job("j")["status"] == "COMPLETED"


def test_step_timeout_never_extends_past_the_in_progress_bound() -> None:
    # Docs example: a 20-minute in-progress timer, a 9-minute step set at minute 13 still
    # times out at minute 20.
    w = World(things=1)
    w.create("j", "t0", timeout_config={"inProgressTimeoutInMinutes": 20})
    w.start_next("t0")
    w.advance(13 * 60)
    w.update("j", "t0", "IN_PROGRESS", step_timeout_in_minutes=9)
    w.advance(7 * 60 - 1)
    assert w.status("j", "t0") == "IN_PROGRESS"
    w.advance(1)
    assert w.status("j", "t0") == "TIMED_OUT"


def test_step_timeout_replace_and_clear() -> None:
    w = World(things=2)
    w.create("j", "t0", "t1")
    w.start_next("t0", step_timeout_in_minutes=2)
    w.advance(60)
    w.update("j", "t0", "IN_PROGRESS", step_timeout_in_minutes=5)  # replaces the old step
    w.advance(4 * 60)
    assert w.status("j", "t0") == "IN_PROGRESS"
    w.advance(60)
    assert w.status("j", "t0") == "TIMED_OUT"
    w.start_next("t1", step_timeout_in_minutes=1)
    w.update("j", "t1", "IN_PROGRESS", step_timeout_in_minutes=-1)  # -1 clears it
    w.advance(3600)
    assert w.status("j", "t1") == "IN_PROGRESS"
    assert w.timers.next_deadline() is None


def test_no_timers_without_timeouts() -> None:
    w = World(things=50)
    w.create("j", *[f"t{i}" for i in range(50)])
    for i in range(50):
        w.start_next(f"t{i}")
    assert w.timers.next_deadline() is None


def _retry(failed: int = 0, timed_out: int = 0, all_: int | None = None) -> dict[str, Any]:
    criteria = []
    if failed:
        criteria.append({"failureType": "FAILED", "numberOfRetries": failed})
    if timed_out:
        criteria.append({"failureType": "TIMED_OUT", "numberOfRetries": timed_out})
    if all_ is not None:
        criteria.append({"failureType": "ALL", "numberOfRetries": all_})
    return {"criteriaList": criteria}


def test_retries_of_failed_executions() -> None:
    w = World(things=1)
    w.create("j", "t0", job_executions_retry_config=_retry(failed=2))
    for attempt in range(3):
        w.finish("j", "t0", "FAILED")
        execution = w.jobs.describe_job_execution(job_id="j", thing_name="t0")["execution"]
        if attempt < 2:
            assert (execution["status"], execution["executionNumber"]) == ("QUEUED", attempt + 2)
    summaries = w.jobs.list_job_executions_for_job(job_id="j")["executionSummaries"]
    attempts = [
        (s["jobExecutionSummary"]["executionNumber"], s["jobExecutionSummary"]["retryAttempt"])
        for s in summaries
    ]
    assert attempts == [(1, 0), (2, 1), (3, 2)]
    assert w.status("j", "t0") == "FAILED"
    assert w.job("j")["status"] == "COMPLETED"
    assert w.counts("j")["numberOfFailedThings"] == 1


def test_rejected_is_never_retried_and_timeouts_are() -> None:
    w = World(things=2)
    w.create(
        "j",
        "t0",
        "t1",
        job_executions_retry_config=_retry(all_=1),
        timeout_config={"inProgressTimeoutInMinutes": 1},
    )
    w.finish("j", "t0", "REJECTED")
    assert w.status("j", "t0") == "REJECTED"
    w.start_next("t1")
    w.advance(60)
    execution = w.jobs.describe_job_execution(job_id="j", thing_name="t1")["execution"]
    assert (execution["status"], execution["executionNumber"]) == ("QUEUED", 2)
    w.start_next("t1")
    w.advance(60)
    assert w.status("j", "t1") == "TIMED_OUT"  # ALL allows one retry in all
    assert w.job("j")["status"] == "COMPLETED"


def test_retry_keeping_the_execution_number() -> None:
    w = World(options=JobsOptions(retry_new_execution_number=False), things=1)
    w.create("j", "t0", job_executions_retry_config=_retry(failed=1))
    w.finish("j", "t0", "FAILED")
    execution = w.jobs.describe_job_execution(job_id="j", thing_name="t0")["execution"]
    assert (execution["status"], execution["executionNumber"]) == ("QUEUED", 1)
    summary = w.jobs.list_job_executions_for_job(job_id="j")["executionSummaries"]
    assert [s["jobExecutionSummary"]["retryAttempt"] for s in summary] == [1]


def test_abort_cancels_queued_executions_only() -> None:
    w = World(things=5)
    w.create("j", *[f"t{i}" for i in range(5)], abort_config=ABORT_FAILED)
    w.start_next("t4")
    w.finish("j", "t0", "FAILED")  # 5 notified (>= 2), 1 of 1 finished failed
    job = w.job("j")
    assert job["status"] == "CANCELED"
    assert job["reasonCode"] == JobsOptions().abort_reason_code
    assert [w.status("j", f"t{i}") for i in range(5)] == [
        "FAILED",
        "CANCELED",
        "CANCELED",
        "CANCELED",
        "IN_PROGRESS",
    ]
    w.update("j", "t4", "SUCCEEDED")  # IN_PROGRESS executions carry on


def test_abort_waits_for_the_minimum_and_the_threshold() -> None:
    w = World(things=4)
    criteria = {
        "criteriaList": [
            {
                "failureType": "ALL",
                "action": "CANCEL",
                "thresholdPercentage": 60,
                "minNumberOfExecutedThings": 2,
            }
        ]
    }
    w.create("j", "t0", "t1", "t2", "t3", abort_config=criteria)
    w.finish("j", "t0")
    w.finish("j", "t1", "REJECTED")  # 50% < 60%
    assert w.job("j")["status"] == "IN_PROGRESS"
    w.finish("j", "t2", "FAILED")  # 66.7% >= 60%
    assert w.job("j")["status"] == "CANCELED"
    assert w.status("j", "t3") == "CANCELED"


def test_abort_stops_the_rollout() -> None:
    w = World(things=6)
    w.create(
        "j",
        *[f"t{i}" for i in range(6)],
        abort_config=ABORT_FAILED,
        job_executions_rollout_config={"maximumPerMinute": 2},
    )
    w.finish("j", "t0", "FAILED")  # 2 notified, 1 of 1 finished failed: 100% >= 50%
    assert w.job("j")["status"] == "CANCELED"
    assert w.status("j", "t1") == "CANCELED"
    w.advance(600)
    assert _executions(w, "j") == 2
    assert w.timers.next_deadline() is None


def _at(w: World, seconds: float) -> str:
    when = dt.datetime.fromtimestamp(w.clock.now + seconds, tz=dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M")


def test_scheduled_job_starts_at_its_start_time() -> None:
    w = World(things=2)
    w.clock.now = 1_700_000_040.0  # not on a minute boundary
    w.create("j", "t0", "t1", scheduling_config={"startTime": _at(w, 3600)})
    assert w.job("j")["status"] == "SCHEDULED"
    assert w.job("j")["schedulingConfig"]["startTime"] == _at(w, 3600)
    assert _executions(w, "j") == 0
    w.advance(3600)
    assert w.job("j")["status"] == "IN_PROGRESS"
    assert _executions(w, "j") == 2


def test_scheduled_end_behaviours() -> None:
    w = World(things=2)
    start, end = _at(w, 3600), _at(w, 7200)
    w.create(
        "stop",
        "t0",
        "t1",
        scheduling_config={"startTime": start, "endTime": end, "endBehavior": "STOP_ROLLOUT"},
        job_executions_rollout_config={"maximumPerMinute": 1},
    )
    w.create(
        "cancel",
        "t0",
        scheduling_config={"startTime": start, "endTime": end, "endBehavior": "FORCE_CANCEL"},
    )
    w.advance(3600)
    w.start_next("t0")  # the older job's execution
    w.advance(3600)
    assert _executions(w, "stop") == 2  # 1 per minute over 60 minutes reached both
    assert w.job("cancel")["status"] == "CANCELED"
    assert w.status("cancel", "t0") == "CANCELED"
    w.jobs.cancel_job(job_id="stop")
    w.create(
        "late",
        "t0",
        "t1",
        scheduling_config={"endTime": _at(w, 3600)},
        job_executions_rollout_config={"maximumPerMinute": 1},
    )
    w.advance(3600)
    assert _executions(w, "late") == 2
