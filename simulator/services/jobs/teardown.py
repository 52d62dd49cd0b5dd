"""Ending things: CancelJob (and abort), DeleteJob, DeleteJobExecution.

:class:`Teardown` owns the count of jobs being deleted. Job status changes go through
:meth:`~.store.JobsStore.job_event` (whose listeners stop the rollout and CONTINUOUS
membership), execution status changes through :meth:`~.store.JobsStore.move`.
"""

from __future__ import annotations

from functools import partial
from typing import Final

from simulator.core.errors import (
    InvalidRequestException,
    InvalidStateTransitionException,
    LimitExceededException,
)
from simulator.core.jobs import Actor, ExecutionStatus, JobEvent
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import ExecutionRecord, JobRecord
from simulator.services.jobs.store import JobsStore
from simulator.services.runtime import Scheduler

__all__ = ["Teardown"]

_S = ExecutionStatus
#: The actor that cancels a job's executions, per job event.
_ACTORS: Final = {
    JobEvent.CANCEL: Actor.CANCEL,
    JobEvent.FORCE_CANCEL: Actor.FORCE_CANCEL,
    JobEvent.ABORT: Actor.ABORT,
}


class Teardown:
    """Cancels and deletes jobs and executions."""

    def __init__(self, store: JobsStore, scheduler: Scheduler, options: JobsOptions) -> None:
        self._store = store
        self._scheduler = scheduler
        self._options = options
        self._deleting = 0

    def cancel_job(self, job: JobRecord, now: float, *, event: JobEvent) -> None:
        """Cancel a job: its QUEUED executions (IN_PROGRESS too with FORCE_CANCEL).

        Raises:
            InvalidRequestException: the job table refuses ``event`` now.
        """
        actor = _ACTORS[event]
        if not self._store.job_event(job, event, now):
            raise InvalidRequestException(
                f"Job {job.job_id} is {job.status.value} and cannot be canceled."
            )
        if event is JobEvent.FORCE_CANCEL:
            job.force_canceled = True
        move = self._store.move
        for ex in list(job.latest()):
            if ex.status is _S.QUEUED or (
                ex.status is _S.IN_PROGRESS and actor is Actor.FORCE_CANCEL
            ):
                move(ex, actor, _S.CANCELED, now)

    def delete_job(self, job: JobRecord, now: float, *, force: bool) -> None:
        """Start deleting a job; it disappears ``deletion_delay_s`` later.

        Raises:
            InvalidStateTransitionException: not COMPLETED or CANCELED, without ``force``.
            LimitExceededException: too many jobs are being deleted already.
        """
        store = self._store
        event = JobEvent.FORCE_DELETE if force else JobEvent.DELETE
        if not store.allows(job, event):
            raise InvalidStateTransitionException(
                f"Job {job.job_id} is {job.status.value}; only COMPLETED or CANCELED jobs can be "
                "deleted without force."
            )
        limit = self._options.max_concurrent_deletions
        if self._deleting >= limit:
            raise LimitExceededException(f"At most {limit} jobs can be deleted at once.")
        store.job_event(job, event, now)
        self._deleting += 1
        store.stop_timers(job, now)
        when = now + self._options.deletion_delay_s
        self._scheduler.call_at(when, partial(self._purge, job))

    def delete_execution(self, ex: ExecutionRecord, now: float) -> None:
        """Remove one execution record (DeleteJobExecution; checks are the caller's)."""
        self._store.remove_execution(ex, now)

    def _purge(self, job: JobRecord) -> None:
        self._deleting -= 1
        self._store.remove_job(job)
