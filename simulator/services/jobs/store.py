"""The Jobs store: jobs, executions and templates, and the only code that changes their status.

Every execution status change goes through :meth:`JobsStore.move`, which asks the core table
(:func:`~simulator.core.jobs.check_transition`) first and only then mutates: counts, the pending
list (and so its notifications), timers. Every job status change goes through
:meth:`JobsStore.job_event` and :data:`~simulator.core.jobs.JOB_TRANSITIONS`. What a status
change triggers elsewhere is the collaborators' business, wired as callbacks: a finished
execution calls the :meth:`on_finished` handler (:class:`~.outcomes.Outcomes`), a job status
change calls the :meth:`on_job_status` listeners (:class:`~.rollout.Rollout` and
:class:`~.membership.Membership` stop following the job). The job events
(:class:`~.announce.Announcer`) also hear of what no status change shows: a finished execution
before its consequences, a deleted execution, a purged job (:meth:`hook_events`).

Drivers read the store through :meth:`job_state`, :meth:`executions` and
:meth:`terminal_executions`; the records they see must not be changed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from typing import Final, Protocol

from simulator.core.arn import Scope
from simulator.core.errors import ResourceNotFoundException
from simulator.core.jobs import (
    TERMINAL,
    Actor,
    ExecutionStatus,
    JobEvent,
    JobStatus,
    Refusal,
    StatusDetailsChecker,
    TargetSelection,
    check_transition,
    job_transition,
)
from simulator.services.jobs.pending import PendingIndex
from simulator.services.jobs.records import ExecutionRecord, JobRecord, TemplateRecord
from simulator.services.jobs.results import JobState
from simulator.services.jobs.sharing import DetailsTable, JobIdSets
from simulator.services.runtime import Runtime

__all__ = ["EventHooks", "ExecutionListener", "FinishedHandler", "JobStatusListener", "JobsStore"]

#: Called once an execution reached a terminal status (through :meth:`JobsStore.move`).
FinishedHandler = Callable[[ExecutionRecord, float], None]
#: Called after a job changed status: (job, its previous status, now).
JobStatusListener = Callable[[JobRecord, JobStatus, float], None]
#: Called after an execution changed status: (execution, its previous status or ``None`` for a
#: new QUEUED one, the actor or ``None`` for a new one, now); before any consequence of it.
ExecutionListener = Callable[[ExecutionRecord, ExecutionStatus | None, Actor | None, float], None]

_S = ExecutionStatus
# Members read on every device update, as globals: on Python 3.11 ``ExecutionStatus.QUEUED`` goes
# through the enum metaclass's ``__getattr__`` hook, as costly as a function call.
_QUEUED: Final = _S.QUEUED
_IN_PROGRESS: Final = _S.IN_PROGRESS
_DEVICE: Final = Actor.DEVICE
_FORCE_CANCEL: Final = Actor.FORCE_CANCEL
_JOB_IN_PROGRESS: Final = JobStatus.IN_PROGRESS
_SNAPSHOT: Final = TargetSelection.SNAPSHOT


class EventHooks(Protocol):
    """What the job events hear from the store besides job status changes."""

    def execution_ended(self, ex: ExecutionRecord, now: float, /) -> None:
        """``ex`` just became terminal (before the store's finished handler runs)."""
        ...

    def execution_removed(self, ex: ExecutionRecord, now: float, /) -> None:
        """``ex`` was deleted (DeleteJobExecution)."""
        ...

    def job_removed(self, job: JobRecord, now: float, /) -> None:
        """``job`` is gone (the end of DELETION_IN_PROGRESS)."""
        ...


def _nothing(ex: ExecutionRecord, now: float) -> None:
    return None


class JobsStore:
    """Jobs, executions and templates of one account, and their two state machines."""

    def __init__(self, runtime: Runtime, scope: Scope, *, queued_to_terminal: bool) -> None:
        self.scope = scope
        #: job id -> job (read-only outside this package).
        self.jobs: dict[str, JobRecord] = {}
        #: template id -> template.
        self.templates: dict[str, TemplateRecord] = {}
        #: The pending lists of every thing.
        self.pending = PendingIndex()
        #: Validates ``statusDetails`` (its memo of valid keys and values is this store's).
        self.check_details = StatusDetailsChecker()
        self._runtime = runtime
        self._clock = runtime.clock
        #: thing -> ids of the jobs it has executions of, oldest first (shared tuples).
        self._by_thing: dict[str, tuple[str, ...]] = {}
        self._job_ids = JobIdSets()
        self._details = DetailsTable()
        self._seq = 0
        self._queued_to_terminal = queued_to_terminal
        self._finished: FinishedHandler = _nothing
        self._job_listeners: list[JobStatusListener] = []
        self._moved: ExecutionListener | None = None
        self._hooks: EventHooks | None = None

    def on_finished(self, handler: FinishedHandler) -> None:
        """Call ``handler(execution, now)`` whenever an execution becomes terminal."""
        self._finished = handler

    def on_job_status(self, listener: JobStatusListener) -> None:
        """Call ``listener(job, previous status, now)`` after every job status change."""
        self._job_listeners.append(listener)

    def on_execution(self, listener: ExecutionListener) -> None:
        """Call ``listener`` after every execution status change (the run's history)."""
        self._moved = listener

    def hook_events(self, hooks: EventHooks | None) -> None:
        """Tell ``hooks`` of finished and deleted executions and purged jobs (``None``: stop;
        the hot path then pays one test)."""
        self._hooks = hooks

    # -- lookups -----------------------------------------------------------------------------

    def now(self) -> float:
        return self._clock()

    def job(self, job_id: str, *, deleting_ok: bool = True) -> JobRecord:
        job = self.jobs.get(job_id)
        if job is None or (not deleting_ok and job.status is JobStatus.DELETION_IN_PROGRESS):
            raise ResourceNotFoundException(f"Job {job_id} cannot be found.")
        return job

    def execution(self, job_id: str, thing: str, number: int | None = None) -> ExecutionRecord:
        """The thing's execution of a job: the given number, or the latest."""
        job = self.jobs.get(job_id)
        runs = None if job is None else job.by_thing.get(thing)
        if isinstance(runs, list):
            if number is None:
                return runs[-1]
            for ex in reversed(runs):
                if ex.number == number:
                    return ex
        elif runs is not None and (number is None or runs.number == number):
            return runs
        raise ResourceNotFoundException(
            f"Job execution of job {job_id} on thing {thing} cannot be found."
        )

    def job_ids_of(self, thing: str) -> list[str]:
        """Ids of the jobs ``thing`` has executions of, oldest first (a copy)."""
        return list(self._by_thing.get(thing, ()))

    def thing_arn(self, thing: str) -> str:
        return self.scope.arn(f"thing/{thing}")

    # -- typed reads for drivers -------------------------------------------------------------

    def job_state(self, job_id: str) -> JobState:
        """A snapshot of one job (raises ResourceNotFoundException like DescribeJob)."""
        return JobState.of(self.job(job_id))

    def executions(self, job_id: str) -> Iterator[ExecutionRecord]:
        """Every execution of a job in ListJobExecutionsForJob's order (records: read only)."""
        job = self.jobs.get(job_id)
        if job is not None:
            yield from job.all_executions()

    def terminal_executions(self, job_id: str) -> Iterator[tuple[ExecutionStatus, float]]:
        """``(status, lastUpdatedAt)`` of each terminal execution of a job, in list order."""
        for ex in self.executions(job_id):
            if ex.status in TERMINAL:
                yield ex.status, ex.updated_at

    # -- jobs --------------------------------------------------------------------------------

    def add_job(self, job: JobRecord) -> None:
        """Store a new job (its id checked free by the caller)."""
        self.jobs[job.job_id] = job

    def allows(self, job: JobRecord, event: JobEvent) -> bool:
        """Whether the job table accepts ``event`` now (to check before other changes)."""
        return job_transition(job.status, event) is not None

    def job_event(self, job: JobRecord, event: JobEvent, now: float) -> bool:
        """Apply ``event`` to a job if the job table allows it; ``False`` when it does not."""
        previous = job.status
        status = job_transition(previous, event)
        if status is None:
            return False
        job.status = status
        job.updated = now
        if status is JobStatus.COMPLETED:
            job.completed = now
        for listener in self._job_listeners:
            listener(job, previous, now)
        return True

    def complete_if_done(self, job: JobRecord, now: float) -> None:
        """A SNAPSHOT job is COMPLETED once nothing is pending and nothing waits to roll out."""
        if job.target_selection is _SNAPSHOT and job.status is _JOB_IN_PROGRESS and job.active == 0:
            self.job_event(job, JobEvent.COMPLETE, now)

    def remove_job(self, job: JobRecord) -> None:
        """Forget a job and its executions (the end of DELETION_IN_PROGRESS)."""
        if self.jobs.get(job.job_id) is job:
            del self.jobs[job.job_id]
        for thing in job.by_thing:
            self._forget_job_of(thing, job.job_id)
        if self._hooks is not None:
            self._hooks.job_removed(job, self._clock())

    def stop_timers(self, job: JobRecord, now: float) -> None:
        """Stop every execution timer of a job and take its executions off the pending lists
        (the job is being deleted: its statuses stay as they are)."""
        for ex in job.all_executions():
            if ex.timer is not None:
                ex.timer.cancel()
                ex.timer = None
            if not ex.status.terminal:
                self.pending.discard(ex, now)

    # -- executions --------------------------------------------------------------------------

    def create_execution(
        self,
        job: JobRecord,
        thing: str,
        now: float,
        *,
        retry_attempt: int = 0,
        same_number: bool = False,
    ) -> ExecutionRecord:
        """A new QUEUED execution for ``thing``: it becomes the thing's current execution."""
        by_thing = job.by_thing
        runs = by_thing.get(thing)
        self._seq += 1
        if runs is None:
            ex = ExecutionRecord(job, thing, 1, now, self._seq, retry_attempt, updated_at=now)
            by_thing[thing] = ex
            job.order.add(thing)
            self._by_thing[thing] = self._job_ids.with_id(self._by_thing.get(thing, ()), job.job_id)
        else:
            previous = runs[-1] if isinstance(runs, list) else runs
            job.counts[previous.status] -= 1
            number = previous.number if same_number else previous.number + 1
            ex = ExecutionRecord(job, thing, number, now, self._seq, retry_attempt, updated_at=now)
            if isinstance(runs, list):
                if same_number:
                    runs[-1] = ex
                else:
                    runs.append(ex)
            else:
                by_thing[thing] = ex if same_number else [runs, ex]
        job.counts[_QUEUED] += 1
        self.pending.add(ex, now)
        if self._moved is not None:
            self._moved(ex, None, None, now)
        return ex

    def move(
        self,
        ex: ExecutionRecord,
        actor: Actor,
        target: ExecutionStatus,
        now: float,
        *,
        details: dict[str, str] | None = None,
        step_minutes: int | None = None,
    ) -> Refusal | None:
        """Change an execution's status if the transition table allows it.

        Args:
            ex: the execution.
            actor: who asks.
            target: the status asked for.
            now: the time of the change.
            details: new ``statusDetails`` (``None`` keeps the old ones).
            step_minutes: a new step timeout (``-1`` clears it), for device updates.

        Returns:
            ``None`` when done, else why nothing changed.
        """
        current = ex.status
        refusal = check_transition(
            current, actor, target, queued_to_terminal=self._queued_to_terminal
        )
        if refusal is not None:
            return refusal
        job = ex.job
        if details is not None:
            ex.details = self._details.share(details)
        ex.updated_at = now
        if actor is _DEVICE:
            ex.version += 1
        elif actor is _FORCE_CANCEL and current is _IN_PROGRESS:
            ex.force_canceled = True
        if target is _IN_PROGRESS:
            if current is not target:
                ex.status = target
                counts = job.counts
                counts[current] -= 1
                counts[target] += 1
                ex.started_at = now  # which also moves it ahead of the QUEUED ones (ex.key)
                if job.timeout is not None:
                    ex.timeout_minutes = job.timeout.in_progress_timeout_in_minutes
                self.pending.resort(ex, now)
                if self._moved is not None:
                    self._moved(ex, current, actor, now)
            if step_minutes is not None:
                ex.step_deadline = None if step_minutes == -1 else now + 60.0 * step_minutes
                self._arm(ex)
            elif current is not target and ex.timeout_minutes is not None:
                self._arm(ex)
            return None
        ex.status = target
        counts = job.counts
        counts[current] -= 1
        counts[target] += 1
        if ex.timer is not None:
            ex.timer.cancel()
            ex.timer = None
        self.pending.discard(ex, now)
        if self._moved is not None:
            self._moved(ex, current, actor, now)
        if self._hooks is not None:
            self._hooks.execution_ended(ex, now)
        self._finished(ex, now)
        return None

    def remove_execution(self, ex: ExecutionRecord, now: float) -> None:
        """Forget one execution record (DeleteJobExecution; the checks are the caller's)."""
        job = ex.job
        thing = ex.thing
        runs = job.by_thing[thing]
        if isinstance(runs, list):
            is_current = runs[-1] is ex
            runs.remove(ex)
            latest: ExecutionRecord | None = runs[-1]
            if len(runs) == 1:
                job.by_thing[thing] = runs[0]
        elif runs is ex:
            is_current, latest = True, None
            del job.by_thing[thing]
            job.order.remove(thing)
            self._forget_job_of(thing, job.job_id)
        else:
            raise ValueError(f"{ex!r} is not an execution of its job")
        if ex.timer is not None:
            ex.timer.cancel()
            ex.timer = None
        if not ex.status.terminal:
            self.pending.discard(ex, now)
        if is_current:
            job.counts[ex.status] -= 1
            if latest is not None:
                job.counts[latest.status] += 1
        if self._hooks is not None:
            self._hooks.execution_removed(ex, now)
        self.complete_if_done(job, now)

    def _forget_job_of(self, thing: str, job_id: str) -> None:
        jobs_of = self._by_thing.get(thing)
        if jobs_of is not None:
            jobs_of = self._job_ids.without_id(jobs_of, job_id)
            if jobs_of:
                self._by_thing[thing] = jobs_of
            else:
                del self._by_thing[thing]

    def _arm(self, ex: ExecutionRecord) -> None:
        if ex.timer is not None:
            ex.timer.cancel()
            ex.timer = None
        when = ex.timeout_at()
        if when is not None:
            ex.timer = self._runtime.scheduler.call_at(when, partial(self._timed_out, ex))

    def _timed_out(self, ex: ExecutionRecord) -> None:
        ex.timer = None
        when = ex.timeout_at()
        if ex.status is _S.IN_PROGRESS and when is not None:
            self.move(ex, Actor.TIMEOUT, _S.TIMED_OUT, max(self.now(), when))
