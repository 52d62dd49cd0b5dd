"""Rollout and scheduling of a job: release queued targets in batches per scheduler tick.

Targets known when a job starts wait in the job's ``backlog``; each tick releases as many as
:func:`simulator.core.jobs.plan_release` allows (one timer per job with a backlog, never one per
execution). A job with a ``schedulingConfig`` start time is SCHEDULED until then; at its end
time the ``endBehavior`` applies (STOP_ROLLOUT drops the backlog, CANCEL / FORCE_CANCEL cancel
the job). Maintenance windows are stored, not enforced.
"""

from __future__ import annotations

from collections.abc import Iterable
from functools import partial
from typing import TYPE_CHECKING

from simulator.core.jobs import JobEvent, JobStatus, RolloutWindow, job_transition, plan_release
from simulator.services.jobs.records import JobRecord

if TYPE_CHECKING:
    from simulator.services.jobs.engine import JobsEngine

__all__ = ["begin_rollout", "release", "start_job", "stop_rollout"]


def start_job(engine: JobsEngine, job: JobRecord, things: Iterable[str], now: float) -> None:
    """Queue ``things`` for rollout and start the job now or at its scheduled time."""
    job.backlog.extend(things)
    scheduling = job.scheduling
    if scheduling is not None and scheduling.start is not None and scheduling.start > now:
        job.status = JobStatus.SCHEDULED
        job.timers.append(
            engine.runtime.scheduler.call_at(scheduling.start, partial(_on_start, engine, job))
        )
    else:
        begin_rollout(engine, job, now)
    if scheduling is not None and scheduling.end is not None:
        job.timers.append(
            engine.runtime.scheduler.call_at(scheduling.end, partial(_on_end, engine, job))
        )


def _on_start(engine: JobsEngine, job: JobRecord) -> None:
    status = job_transition(job.status, JobEvent.START)
    if status is None:
        return  # canceled or deleted meanwhile
    job.status = status
    now = engine.now()
    job.updated = now
    begin_rollout(engine, job, now)


def _on_end(engine: JobsEngine, job: JobRecord) -> None:
    scheduling = job.scheduling
    if scheduling is None or job.status not in (JobStatus.IN_PROGRESS, JobStatus.SCHEDULED):
        return
    now = engine.now()
    behavior = scheduling.end_behavior or "STOP_ROLLOUT"
    if behavior == "STOP_ROLLOUT":
        stop_rollout(job)
        if job.status is JobStatus.SCHEDULED:
            job.status = JobStatus.IN_PROGRESS  # never started: nothing left to roll out
        engine.maybe_complete(job, now)
    else:
        event = JobEvent.CANCEL if behavior == "CANCEL" else JobEvent.FORCE_CANCEL
        engine.cancel_job(job, now, event=event)


def begin_rollout(engine: JobsEngine, job: JobRecord, now: float) -> None:
    """The job is IN_PROGRESS: release its first batch now."""
    job.window = RolloutWindow(now)
    release(engine, job)
    engine.maybe_complete(job, now)


def release(engine: JobsEngine, job: JobRecord) -> None:
    """Release the targets the rollout rate allows now; come back next tick if any remain."""
    job.rollout_timer = None
    if job.status is not JobStatus.IN_PROGRESS or not job.backlog:
        return
    now = engine.now()
    options = engine.options
    count, job.window = plan_release(
        job.rollout,
        job.window or RolloutWindow(now),
        now=now,
        backlog=len(job.backlog),
        notified=job.notified,
        succeeded=job.succeeded,
        default=options.default_rollout_per_minute,
        ceiling=options.max_rollout_per_minute,
    )
    backlog = job.backlog
    things = engine.registry.things
    for _ in range(count):
        thing = backlog.popleft()
        if thing in things and job.current(thing) is None:
            job.notified += 1
            engine.create_execution(job, thing, now)
    if backlog:
        job.rollout_timer = engine.runtime.scheduler.call_at(
            now + options.rollout_tick_s, partial(release, engine, job)
        )
    else:
        engine.maybe_complete(job, now)


def stop_rollout(job: JobRecord) -> None:
    """Drop the backlog and its timer (cancel, abort, delete, end of schedule)."""
    job.backlog.clear()
    if job.rollout_timer is not None:
        job.rollout_timer.cancel()
        job.rollout_timer = None
