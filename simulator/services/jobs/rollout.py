"""Rollout and scheduling of jobs: release queued targets in batches per scheduler tick.

Targets known when a job starts wait in the job's ``backlog``; each tick releases as many as
:func:`simulator.core.jobs.plan_release` allows (one timer per job with a backlog, never one per
execution). A job with a ``schedulingConfig`` start time is created SCHEDULED and STARTs then;
at its end time the ``endBehavior`` applies (STOP_ROLLOUT drops the backlog, CANCEL /
FORCE_CANCEL cancel the job through :class:`~.teardown.Teardown`). Maintenance windows are
stored, not enforced.

:class:`Rollout` owns each job's rollout window and timers, and is the only writer of
``JobRecord.backlog``. It follows job status changes: a canceled or deleted job stops rolling.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import partial

from simulator.core.jobs import JobEvent, JobStatus, RolloutWindow, plan_release
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import JobRecord
from simulator.services.jobs.store import JobsStore
from simulator.services.jobs.teardown import Teardown
from simulator.services.registry import Registry
from simulator.services.runtime import Scheduler, TimerHandle

__all__ = ["Rollout"]


@dataclass(slots=True, eq=False)
class _Plan:
    """One job's rollout: its window, its tick timer, its schedule's start and end timers."""

    window: RolloutWindow | None = None
    tick: TimerHandle | None = None
    schedule: list[TimerHandle] = field(default_factory=list)


class Rollout:
    """Releases each job's targets at its rollout rate, from its scheduled start to its end."""

    def __init__(
        self,
        store: JobsStore,
        registry: Registry,
        scheduler: Scheduler,
        teardown: Teardown,
        options: JobsOptions,
    ) -> None:
        self._store = store
        self._registry = registry
        self._scheduler = scheduler
        self._teardown = teardown
        self._options = options
        self._plans: dict[JobRecord, _Plan] = {}
        store.on_job_status(self._job_status)

    def start(self, job: JobRecord, things: Iterable[str], now: float) -> None:
        """Queue ``things`` for a new job; roll out now, or at its scheduled start."""
        job.backlog.extend(things)
        plan = self._plans[job] = _Plan()
        scheduling = job.scheduling
        if job.status is JobStatus.SCHEDULED and scheduling is not None:
            assert scheduling.start is not None  # SCHEDULED only with a start to come
            plan.schedule.append(
                self._scheduler.call_at(scheduling.start, partial(self._on_start, job))
            )
        else:
            self._begin(job, now)
        if scheduling is not None and scheduling.end is not None:
            plan.schedule.append(
                self._scheduler.call_at(scheduling.end, partial(self._on_end, job))
            )

    # -- the backlog (also for membership) ---------------------------------------------------

    def add(self, job: JobRecord, things: Iterable[str]) -> None:
        """More targets for a running job (AssociateTargetsWithJob): release them at its rate."""
        before = len(job.backlog)
        job.backlog.extend(things)
        plan = self._plans.get(job)
        if len(job.backlog) > before and (plan is None or plan.tick is None):
            self._release(job)

    def enqueue(self, job: JobRecord, thing: str) -> None:
        """A thing joined a SCHEDULED job's targets: it waits for the start."""
        if thing not in job.backlog:
            job.backlog.append(thing)

    def drop(self, job: JobRecord, thing: str) -> None:
        """A thing left the job's targets before its release."""
        if thing in job.backlog:
            job.backlog.remove(thing)

    # -- internals ---------------------------------------------------------------------------

    def _on_start(self, job: JobRecord) -> None:
        now = self._store.now()
        if self._store.job_event(job, JobEvent.START, now):  # else canceled or deleted meanwhile
            self._begin(job, now)

    def _on_end(self, job: JobRecord) -> None:
        scheduling = job.scheduling
        if scheduling is None or job.status not in (JobStatus.IN_PROGRESS, JobStatus.SCHEDULED):
            return
        now = self._store.now()
        behavior = scheduling.end_behavior or "STOP_ROLLOUT"
        if behavior == "STOP_ROLLOUT":
            self._stop(job)
            # A job that never started starts with nothing left to roll out.
            self._store.job_event(job, JobEvent.START, now)
            self._store.complete_if_done(job, now)
        else:
            event = JobEvent.CANCEL if behavior == "CANCEL" else JobEvent.FORCE_CANCEL
            self._teardown.cancel_job(job, now, event=event)

    def _begin(self, job: JobRecord, now: float) -> None:
        """The job is IN_PROGRESS: release its first batch now."""
        plan = self._plans.setdefault(job, _Plan())
        plan.window = RolloutWindow(now)
        self._release(job)
        self._store.complete_if_done(job, now)

    def _release(self, job: JobRecord) -> None:
        """Release the targets the rollout rate allows now; come back next tick if any remain."""
        plan = self._plans.setdefault(job, _Plan())
        plan.tick = None
        if job.status is not JobStatus.IN_PROGRESS or not job.backlog:
            return
        store = self._store
        now = store.now()
        options = self._options
        count, plan.window = plan_release(
            job.rollout,
            plan.window or RolloutWindow(now),
            now=now,
            backlog=len(job.backlog),
            notified=job.notified,
            succeeded=job.succeeded,
            default=options.default_rollout_per_minute,
            ceiling=options.max_rollout_per_minute,
        )
        backlog = job.backlog
        things = self._registry.things
        for _ in range(count):
            thing = backlog.popleft()
            if thing in things and job.current(thing) is None:
                job.notified += 1
                store.create_execution(job, thing, now)
        if backlog:
            plan.tick = self._scheduler.call_at(
                now + options.rollout_tick_s, partial(self._release, job)
            )
        else:
            store.complete_if_done(job, now)

    def _stop(self, job: JobRecord) -> None:
        """Drop the backlog and the tick timer (cancel, abort, delete, end of schedule)."""
        job.backlog.clear()
        plan = self._plans.get(job)
        if plan is not None and plan.tick is not None:
            plan.tick.cancel()
            plan.tick = None

    def _job_status(self, job: JobRecord, previous: JobStatus, now: float) -> None:
        status = job.status
        if status is JobStatus.CANCELED:
            self._stop(job)
        elif status is JobStatus.DELETION_IN_PROGRESS:
            self._stop(job)
            plan = self._plans.pop(job, None)
            if plan is not None:
                for timer in plan.schedule:
                    timer.cancel()
