"""Scheduled jobs: ``schedulingConfig`` enforced on the injected clock and scheduler.

* A job with a ``startTime`` still to come is created SCHEDULED (:func:`initial_job_status`) and
  STARTs at that time through the job table; then it rolls out.
* With ``maintenanceWindows``, targets are released only while a window is open ([B]: the
  windows are "for the rollout of a job document"): between windows the rollout pauses with one
  timer set for the next opening, never a polling loop. Executions already created carry on.
* At ``endTime`` the ``endBehavior`` applies [B]: STOP_ROLLOUT releases nothing more (executions
  already created carry on, and a SNAPSHOT job then completes when they finish); CANCEL cancels
  the job, its QUEUED executions with it (IN_PROGRESS ones may finish); FORCE_CANCEL cancels the
  job and every unfinished execution. Without ``endBehavior`` the option
  ``JobsOptions.default_end_behavior`` applies (unverified).
* A SCHEDULED job can be canceled (CancelJob) or force-deleted like any other; its timers go.
* DescribeJob's ``scheduledJobRollouts`` lists the next seven window openings [B] (from the
  start time when the job has not started).

Which configured things AWS leaves unsaid are options of
:class:`~simulator.services.jobs.options.JobsOptions` (``schedule_*``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Final

from simulator.core.errors import InvalidRequestException
from simulator.core.jobs import (
    JobEvent,
    JobStatus,
    SchedulingConfig,
    format_schedule_time,
    next_window,
    upcoming_windows,
    window_open,
)
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import JobRecord
from simulator.services.jobs.store import JobsStore
from simulator.services.jobs.teardown import Teardown
from simulator.services.runtime import Scheduler, TimerHandle

__all__ = ["Scheduling", "check_scheduling"]

#: How far ahead to look for the next window of a job without an end: the longest a schedule
#: may last (``endTime`` at most 2 years after ``startTime`` [B]).
_HORIZON_S: Final = 2 * 366 * 86400.0
_ENDED: Final = frozenset({JobStatus.CANCELED, JobStatus.COMPLETED, JobStatus.DELETION_IN_PROGRESS})


def check_scheduling(config: SchedulingConfig, options: JobsOptions) -> None:
    """The checks of a parsed ``schedulingConfig`` that depend on options.

    Raises:
        InvalidRequestException: more maintenance windows than ``max_maintenance_windows``.
    """
    limit = options.max_maintenance_windows
    if limit is not None and len(config.maintenance_windows) > limit:
        raise InvalidRequestException(
            f"schedulingConfig.maintenanceWindows: at most {limit} windows, "
            f"got {len(config.maintenance_windows)}"
        )


class Scheduling:
    """Start and end timers of scheduled jobs, and the maintenance-window gate of their rollout.

    Args:
        store: the jobs store (its job table makes every status change).
        scheduler: the injected scheduler (the simulated heap in ``fleetsim run``).
        teardown: cancels jobs for the CANCEL / FORCE_CANCEL end behaviours.
        options: ``default_end_behavior``, ``scheduled_rollouts_shown``.
        begin: the rollout's "the job is IN_PROGRESS: release now" (called after START).
        stop: the rollout's "release nothing more" (STOP_ROLLOUT).
    """

    def __init__(
        self,
        store: JobsStore,
        scheduler: Scheduler,
        teardown: Teardown,
        options: JobsOptions,
        *,
        begin: Callable[[JobRecord, float], None],
        stop: Callable[[JobRecord], None],
    ) -> None:
        self._store = store
        self._scheduler = scheduler
        self._teardown = teardown
        self._options = options
        self._begin = begin
        self._stop = stop
        self._timers: dict[JobRecord, list[TimerHandle]] = {}
        store.on_job_status(self._job_status)

    def arm(self, job: JobRecord) -> bool:
        """Set a new job's start and end timers; ``True`` when it rolls out from now."""
        scheduling = job.scheduling
        if scheduling is None:
            return True
        timers: list[TimerHandle] = []
        starts_now = job.status is not JobStatus.SCHEDULED
        if not starts_now:
            assert scheduling.start is not None  # SCHEDULED only with a start to come
            timers.append(self._scheduler.call_at(scheduling.start, partial(self._on_start, job)))
        if scheduling.end is not None:
            timers.append(self._scheduler.call_at(scheduling.end, partial(self._on_end, job)))
        if timers:
            self._timers[job] = timers
        return starts_now

    def gate(self, job: JobRecord, now: float) -> float | None:
        """``None`` when the job may release targets now, else when to look again
        (``math.inf``: no window opens again before the job's end)."""
        scheduling = job.scheduling
        if scheduling is None or not scheduling.maintenance_windows:
            return None
        windows = scheduling.maintenance_windows
        if window_open(windows, now):
            return None
        until = scheduling.end if scheduling.end is not None else now + _HORIZON_S
        opens = next_window(windows, now, until=until)
        return math.inf if opens is None else opens

    def upcoming(self, job: JobRecord, now: float) -> tuple[str, ...]:
        """``scheduledJobRollouts``: the next window openings of a job that may still roll out."""
        scheduling = job.scheduling
        if (
            scheduling is None
            or not scheduling.maintenance_windows
            or job.status not in (JobStatus.SCHEDULED, JobStatus.IN_PROGRESS)
        ):
            return ()
        since = now if scheduling.start is None else max(now, scheduling.start)
        until = scheduling.end if scheduling.end is not None else since + _HORIZON_S
        times = upcoming_windows(
            scheduling.maintenance_windows,
            since,
            count=self._options.scheduled_rollouts_shown,
            until=until,
        )
        return tuple(format_schedule_time(t) for t in times)

    # -- internals ---------------------------------------------------------------------------

    def _on_start(self, job: JobRecord) -> None:
        now = self._store.now()
        if self._store.job_event(job, JobEvent.START, now):  # else canceled or deleted meanwhile
            self._begin(job, now)

    def _on_end(self, job: JobRecord) -> None:
        scheduling = job.scheduling
        if scheduling is None or job.status not in (JobStatus.IN_PROGRESS, JobStatus.SCHEDULED):
            return
        store = self._store
        now = store.now()
        behavior = scheduling.end_behavior or self._options.default_end_behavior
        if behavior == "STOP_ROLLOUT":
            self._stop(job)
            # A job that never started starts with nothing left to roll out.
            store.job_event(job, JobEvent.START, now)
            store.complete_if_done(job, now)
        else:
            event = JobEvent.CANCEL if behavior == "CANCEL" else JobEvent.FORCE_CANCEL
            self._teardown.cancel_job(job, now, event=event)

    def _job_status(self, job: JobRecord, previous: JobStatus, now: float) -> None:
        if job.status in _ENDED:
            for timer in self._timers.pop(job, ()):
                timer.cancel()
