"""Ending things: CancelJob (and abort), DeleteJob, DeleteJobExecution over a JobsEngine."""

from __future__ import annotations

from functools import partial
from typing import TYPE_CHECKING

from simulator.core.errors import (
    InvalidRequestException,
    InvalidStateTransitionException,
    LimitExceededException,
)
from simulator.core.jobs import Actor, ExecutionStatus, JobEvent, job_transition
from simulator.services.jobs import rollout
from simulator.services.jobs.records import ExecutionRecord, JobRecord

if TYPE_CHECKING:
    from simulator.services.jobs.engine import JobsEngine

__all__ = ["cancel_job", "delete_execution", "delete_job"]

_S = ExecutionStatus


def cancel_job(engine: JobsEngine, job: JobRecord, now: float, *, event: JobEvent) -> None:
    """Cancel a job: its QUEUED executions (IN_PROGRESS too with FORCE_CANCEL)."""
    status = job_transition(job.status, event)
    if status is None:
        raise InvalidRequestException(
            f"Job {job.job_id} is {job.status.value} and cannot be canceled."
        )
    job.status = status
    job.updated = now
    rollout.stop_rollout(job)
    engine.continuous.pop(job.job_id, None)
    actor = {
        JobEvent.FORCE_CANCEL: Actor.FORCE_CANCEL,
        JobEvent.ABORT: Actor.ABORT,
    }.get(event, Actor.CANCEL)
    if event is JobEvent.FORCE_CANCEL:
        job.force_canceled = True
    for history in list(job.executions.values()):
        ex = history[-1]
        if ex.status is _S.QUEUED or (ex.status is _S.IN_PROGRESS and actor is Actor.FORCE_CANCEL):
            engine.move(ex, actor, _S.CANCELED, now)


def delete_job(engine: JobsEngine, job: JobRecord, now: float, *, force: bool) -> None:
    """Start deleting a job; it disappears ``deletion_delay_s`` later."""
    status = job_transition(job.status, JobEvent.FORCE_DELETE if force else JobEvent.DELETE)
    if status is None:
        raise InvalidStateTransitionException(
            f"Job {job.job_id} is {job.status.value}; only COMPLETED or CANCELED jobs can be "
            "deleted without force."
        )
    if engine.deleting >= engine.options.max_concurrent_deletions:
        raise LimitExceededException(
            f"At most {engine.options.max_concurrent_deletions} jobs can be deleted at once."
        )
    job.status = status
    job.updated = now
    engine.deleting += 1
    rollout.stop_rollout(job)
    engine.continuous.pop(job.job_id, None)
    for timer in job.timers:
        timer.cancel()
    for history in job.executions.values():
        for ex in history:
            if ex.timer is not None:
                ex.timer.cancel()
                ex.timer = None
            if not ex.status.terminal:
                engine.pending.discard(ex, now)
    when = now + engine.options.deletion_delay_s
    engine.runtime.scheduler.call_at(when, partial(_purge, engine, job))


def _purge(engine: JobsEngine, job: JobRecord) -> None:
    engine.deleting -= 1
    if engine.jobs.get(job.job_id) is job:
        del engine.jobs[job.job_id]
    for thing in job.executions:
        jobs_of = engine.by_thing.get(thing)
        if jobs_of is not None:
            jobs_of.pop(job.job_id, None)
            if not jobs_of:
                del engine.by_thing[thing]


def delete_execution(engine: JobsEngine, ex: ExecutionRecord, now: float) -> None:
    """Remove one execution record (DeleteJobExecution; checks are the caller's)."""
    job = ex.job
    history = job.executions[ex.thing]
    is_current = history[-1] is ex
    history.remove(ex)
    if ex.timer is not None:
        ex.timer.cancel()
        ex.timer = None
    if not ex.status.terminal:
        engine.pending.discard(ex, now)
    if is_current:
        job.counts[ex.status] -= 1
        if history:
            job.counts[history[-1].status] += 1
    if not history:
        del job.executions[ex.thing]
        jobs_of = engine.by_thing.get(ex.thing)
        if jobs_of is not None:
            jobs_of.pop(job.job_id, None)
    engine.maybe_complete(job, now)
