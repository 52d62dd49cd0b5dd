"""Both transition tables walked whole through the Jobs store and service.

Every (status, event) pair of the job table and every (status, actor, target) triple of the
execution table is tried on a record that reached that status through the service: it
transitions exactly as the table says, or it is refused and nothing changes. The service's own
operations (CancelJob, DeleteJob, CancelJobExecution, UpdateJobExecution) are accepted exactly
when the table allows them, and a status written outside the store's transition methods is
caught by :class:`~tests.services.jobs_transitions.TransitionLog`.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from simulator.core.errors import AwsError
from simulator.core.jobs import (
    JOB_TRANSITIONS,
    Actor,
    ExecutionStatus,
    JobEvent,
    JobStatus,
    check_transition,
)
from simulator.services.jobs.records import ExecutionRecord, JobRecord
from tests.services.jobs_support import World
from tests.services.jobs_transitions import TransitionLog

J = JobStatus
S = ExecutionStatus


def _scheduled(w: World) -> None:
    start = w.clock.now + 3600
    w.create("j", "t0", scheduling_config={"startTime": _iso(start), "endBehavior": "CANCEL"})


def _iso(epoch: float) -> str:
    import datetime  # noqa: PLC0415

    return datetime.datetime.fromtimestamp(epoch, datetime.UTC).strftime("%Y-%m-%dT%H:%M")


#: How a job reaches each status through the service.
JOB_SETUPS: dict[JobStatus, Callable[[World], None]] = {
    J.IN_PROGRESS: lambda w: w.create("j", "t0"),
    J.SCHEDULED: _scheduled,
    J.COMPLETED: lambda w: (w.create("j", "t0"), w.finish("j", "t0")),
    J.CANCELED: lambda w: (w.create("j", "t0"), w.jobs.cancel_job(job_id="j")),
    J.DELETION_IN_PROGRESS: lambda w: (
        w.create("j", "t0"),
        w.jobs.delete_job(job_id="j", force=True),
    ),
}


def _job_in(status: JobStatus) -> tuple[World, JobRecord]:
    w = World(things=1)
    JOB_SETUPS[status](w)
    job = w.jobs_service.store.jobs["j"]
    assert job.status is status
    return w, job


def test_every_job_status_is_reached() -> None:
    assert set(JOB_SETUPS) == set(JobStatus)


@pytest.mark.parametrize(("status", "event"), list(itertools.product(J, JobEvent)), ids=str)
def test_the_store_follows_the_job_table(status: JobStatus, event: JobEvent) -> None:
    w, job = _job_in(status)
    store = w.jobs_service.store
    expected = JOB_TRANSITIONS.get((status, event))
    assert store.allows(job, event) is (expected is not None)
    assert store.job_event(job, event, w.clock.now) is (expected is not None)
    assert job.status is (status if expected is None else expected)


_OPERATIONS: dict[JobEvent, Callable[[World], object]] = {
    JobEvent.CANCEL: lambda w: w.jobs.cancel_job(job_id="j"),
    JobEvent.FORCE_CANCEL: lambda w: w.jobs.cancel_job(job_id="j", force=True),
    JobEvent.DELETE: lambda w: w.jobs.delete_job(job_id="j"),
    JobEvent.FORCE_DELETE: lambda w: w.jobs.delete_job(job_id="j", force=True),
}


@pytest.mark.parametrize(("status", "event"), list(itertools.product(J, _OPERATIONS)), ids=str)
def test_job_operations_are_accepted_exactly_when_the_table_allows(
    status: JobStatus, event: JobEvent
) -> None:
    w, job = _job_in(status)
    log = TransitionLog(w.jobs_service.store)
    expected = JOB_TRANSITIONS.get((status, event))
    try:
        _OPERATIONS[event](w)
    except AwsError as exc:
        assert expected is None, exc
        assert exc.http_status < 500
        assert job.status is status
    else:
        assert job.status is expected
    log.check()


# -- executions ------------------------------------------------------------------------------


def _to_in_progress(w: World) -> None:
    w.update("j", "t0", "IN_PROGRESS")


#: How an execution reaches each status through the service (the job has a 1-minute timeout).
EXECUTION_SETUPS: dict[ExecutionStatus, Callable[[World], None]] = {
    S.QUEUED: lambda w: None,
    S.IN_PROGRESS: _to_in_progress,
    S.SUCCEEDED: lambda w: w.finish("j", "t0", "SUCCEEDED"),
    S.FAILED: lambda w: w.finish("j", "t0", "FAILED"),
    S.REJECTED: lambda w: w.finish("j", "t0", "REJECTED"),
    S.TIMED_OUT: lambda w: (_to_in_progress(w), w.advance(61)),
    S.REMOVED: lambda w: w.leave("g", "t0"),
    S.CANCELED: lambda w: w.jobs.cancel_job_execution(job_id="j", thing_name="t0"),
}


def _execution_in(status: ExecutionStatus) -> tuple[World, ExecutionRecord]:
    w = World()
    w.group("g")
    w.thing("t0", "g")
    w.create(
        "j",
        targets=[w.group_arn("g")],
        target_selection="CONTINUOUS",
        timeout_config={"inProgressTimeoutInMinutes": 1},
    )
    EXECUTION_SETUPS[status](w)
    ex = w.jobs_service.store.execution("j", "t0")
    assert ex.status is status
    return w, ex


def test_every_execution_status_is_reached() -> None:
    assert set(EXECUTION_SETUPS) == set(ExecutionStatus)


@pytest.mark.parametrize(
    ("status", "actor", "target"), list(itertools.product(S, Actor, S)), ids=str
)
def test_the_store_follows_the_execution_table(
    status: ExecutionStatus, actor: Actor, target: ExecutionStatus
) -> None:
    w, ex = _execution_in(status)
    store = w.jobs_service.store
    version = ex.version
    allowed = check_transition(status, actor, target) is None
    refusal = store.move(ex, actor, target, w.clock.now)
    assert (refusal is None) is allowed
    assert ex.status is (target if allowed else status)
    if not allowed:
        assert ex.version == version  # refused: nothing changed
    counts = w.jobs_service.store.jobs["j"].counts
    assert counts[ex.status] == 1 and sum(counts.values()) == 1


@pytest.mark.parametrize(("status", "target"), list(itertools.product(S, S)), ids=str)
def test_device_updates_are_accepted_exactly_when_the_table_allows(
    status: ExecutionStatus, target: ExecutionStatus
) -> None:
    w, ex = _execution_in(status)
    log = TransitionLog(w.jobs_service.store)
    allowed = check_transition(status, Actor.DEVICE, target) is None
    try:
        w.update("j", "t0", target.value)
    except AwsError as exc:
        assert not allowed, exc
        assert exc.http_status < 500
        assert ex.status is status
    else:
        assert allowed
        assert ex.status is target
    log.check()


@pytest.mark.parametrize(("status", "force"), list(itertools.product(S, [False, True])), ids=str)
def test_cancel_execution_is_accepted_exactly_when_the_table_allows(
    status: ExecutionStatus, force: bool
) -> None:
    w, ex = _execution_in(status)
    log = TransitionLog(w.jobs_service.store)
    actor = Actor.FORCE_CANCEL if force else Actor.CANCEL
    allowed = check_transition(status, actor, S.CANCELED) is None
    try:
        w.jobs.cancel_job_execution(job_id="j", thing_name="t0", force=force)
    except AwsError as exc:
        assert not allowed, exc
        assert ex.status is status
    else:
        assert allowed
        assert ex.status is S.CANCELED
    log.check()


def test_a_status_written_around_the_store_is_caught() -> None:
    w, ex = _execution_in(S.QUEUED)
    log = TransitionLog(w.jobs_service.store)
    ex.status = S.SUCCEEDED  # a back-door
    with pytest.raises(AssertionError):
        log.check()
    w, job = _job_in(J.IN_PROGRESS)
    log = TransitionLog(w.jobs_service.store)
    job.status = J.COMPLETED  # a back-door
    with pytest.raises(AssertionError):
        log.check()
