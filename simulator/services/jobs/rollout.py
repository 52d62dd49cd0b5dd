"""Rollout of jobs: release queued targets in batches per scheduler tick.

Targets known when a job starts wait in the job's ``backlog``; each tick releases as many as
:func:`simulator.core.jobs.plan_release` allows (one timer per job with a backlog, never one per
execution). A job's ``schedulingConfig`` (start, end behaviour, maintenance windows) is
:class:`~.schedule.Scheduling`'s business: it starts the rollout, gates each release on the
maintenance windows (a closed window sets the job's one timer for the next opening) and ends it.

:class:`Rollout` owns each job's rollout window and timers, and is the only writer of
``JobRecord.backlog``. It follows job status changes: a canceled or deleted job stops rolling.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from functools import partial

from simulator.core.jobs import JobStatus, RolloutWindow, plan_release
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import JobRecord
from simulator.services.jobs.schedule import Scheduling
from simulator.services.jobs.store import JobsStore
from simulator.services.jobs.teardown import Teardown
from simulator.services.registry import Registry
from simulator.services.runtime import Scheduler, TimerHandle

__all__ = ["Rollout"]


@dataclass(slots=True, eq=False)
class _Plan:
    """One job's rollout: its window and its tick timer (or the next maintenance window's)."""

    window: RolloutWindow | None = None
    tick: TimerHandle | None = None


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
        #: The jobs' schedules (start, end, maintenance windows).
        self.scheduling = Scheduling(
            store, scheduler, teardown, options, begin=self._begin, stop=self._stop
        )

    def start(self, job: JobRecord, things: Iterable[str], now: float) -> None:
        """Queue ``things`` for a new job; roll out now, or at its scheduled start."""
        job.backlog.extend(things)
        self._plans[job] = _Plan()
        if self.scheduling.arm(job):
            self._begin(job, now)

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
        reopen = self.scheduling.gate(job, now)
        if reopen is not None:  # between maintenance windows: wait for the next one
            if reopen != math.inf:
                plan.tick = self._scheduler.call_at(reopen, partial(self._release, job))
            return
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
            self._plans.pop(job, None)
