"""The Jobs engine: the store and every state change of executions and jobs, in one place.

The control plane (:mod:`.control`) and the data plane (:mod:`.data`) call into one
:class:`JobsEngine`. Every execution status change goes through :meth:`JobsEngine.move`, which
asks the core transition table first and only then mutates (counts, the pending list and its
notifications, timers), and finally applies what a finished execution triggers: the ``$package``
write, a retry, the abort criteria and SNAPSHOT completion. Rollout pacing, CONTINUOUS
membership and cancel/delete live in :mod:`.rollout`, :mod:`.membership` and :mod:`.teardown`
as functions of the engine.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from functools import partial
from typing import Any, Final, Protocol

import orjson

from simulator.core.catalog import Catalog
from simulator.core.errors import AwsError, ResourceNotFoundException
from simulator.core.jobs import (
    Actor,
    ExecutionStatus,
    JobEvent,
    JobStatus,
    Refusal,
    TargetSelection,
    check_transition,
)
from simulator.core.substitution import Execution, Presigner, render_for_device
from simulator.services.jobs import membership, rollout, teardown
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.pending import PendingIndex
from simulator.services.jobs.records import (
    RANK_IN_PROGRESS,
    RANK_QUEUED,
    ExecutionRecord,
    JobRecord,
    TemplateRecord,
)
from simulator.services.jobs.wire import data_execution
from simulator.services.registry import Registry, RegistryEvent
from simulator.services.runtime import Runtime

__all__ = ["JobsEngine", "PackageShadows"]

_S = ExecutionStatus
_FAILURES = (_S.FAILED, _S.REJECTED, _S.TIMED_OUT)
_RESULTS = (_S.SUCCEEDED, *_FAILURES)
# Members read on every device update, as globals: on Python 3.11 ``ExecutionStatus.QUEUED`` goes
# through the enum metaclass's ``__getattr__`` hook, as costly as a function call.
_QUEUED: Final = _S.QUEUED
_IN_PROGRESS: Final = _S.IN_PROGRESS
_SUCCEEDED: Final = _S.SUCCEEDED
_FAILED: Final = _S.FAILED
_TIMED_OUT: Final = _S.TIMED_OUT
_DEVICE: Final = Actor.DEVICE
_FORCE_CANCEL: Final = Actor.FORCE_CANCEL
_JOB_IN_PROGRESS: Final = JobStatus.IN_PROGRESS
_SNAPSHOT: Final = TargetSelection.SNAPSHOT


class PackageShadows(Protocol):
    """What Jobs needs from the Device Shadow service: the ``$package`` merge write."""

    def merge_package_versions(
        self, thing_name: str, versions: Mapping[str, str | None]
    ) -> None: ...


class JobsEngine:
    """Jobs, executions and templates of one account, and every change made to them."""

    def __init__(
        self,
        runtime: Runtime,
        registry: Registry,
        catalog: Catalog,
        shadows: PackageShadows,
        options: JobsOptions,
    ) -> None:
        self.runtime = runtime
        self.registry = registry
        self.catalog = catalog
        self.shadows = shadows
        self.options = options
        self.scope = registry.scope
        self.jobs: dict[str, JobRecord] = {}
        self.templates: dict[str, TemplateRecord] = {}
        #: thing -> ids of the jobs it has executions of (ordered set).
        self.by_thing: dict[str, dict[str, None]] = {}
        #: CONTINUOUS jobs that follow membership (IN_PROGRESS or SCHEDULED).
        self.continuous: dict[str, JobRecord] = {}
        self.deleting = 0
        self.package_write_failures = 0
        self._clock = runtime.clock
        self._seq = 0
        self._queued_to_terminal = options.allow_queued_to_terminal
        scale = 1000 if options.timestamp_unit == "ms" else 1
        self.stamp = (lambda t: int(t * scale)) if scale != 1 else int
        self.presigner = Presigner(options.access_key, options.secret_key, region=self.scope.region)
        self.pending = PendingIndex(
            runtime.publisher,
            limit=options.notify_limit,
            stamp=self.stamp,
            head_payload=self._head_payload,
        )
        registry.subscribe(self.on_registry_event)

    # -- targets and rollout (see .membership and .rollout) -----------------------------------

    def parse_targets(self, targets: object) -> membership.Targets:
        return membership.parse_targets(self, targets)

    def expand(self, targets: membership.Targets) -> Iterator[str]:
        return membership.expand(self, targets)

    def on_registry_event(self, event: RegistryEvent) -> None:
        membership.on_registry_event(self, event)

    def start_job(self, job: JobRecord, things: Iterable[str], now: float) -> None:
        rollout.start_job(self, job, things, now)

    def release(self, job: JobRecord) -> None:
        rollout.release(self, job)

    # -- lookups -----------------------------------------------------------------------------

    def job(self, job_id: str, *, deleting_ok: bool = True) -> JobRecord:
        job = self.jobs.get(job_id)
        if job is None or (not deleting_ok and job.status is JobStatus.DELETION_IN_PROGRESS):
            raise ResourceNotFoundException(f"Job {job_id} cannot be found.")
        return job

    def execution(self, job_id: str, thing: str, number: int | None = None) -> ExecutionRecord:
        """The thing's execution of a job: the given number, or the latest."""
        job = self.jobs.get(job_id)
        history = None if job is None else job.executions.get(thing)
        if history:
            if number is None:
                return history[-1]
            for ex in reversed(history):
                if ex.number == number:
                    return ex
        raise ResourceNotFoundException(
            f"Job execution of job {job_id} on thing {thing} cannot be found."
        )

    def thing_arn(self, thing: str) -> str:
        return self.scope.arn(f"thing/{thing}")

    def now(self) -> float:
        return self._clock()

    # -- documents ---------------------------------------------------------------------------

    def document_for(self, ex: ExecutionRecord, now: float) -> bytes:
        """The document as this device sees it now (presigned URLs minted afresh)."""
        job = ex.job
        static = job.static_document
        if static is not None:
            return static
        doc = job.document
        expires = 3600 if job.presign is None else job.presign.expires_in_sec
        target = Execution(ex.thing, job.job_id, ex.number)
        return render_for_device(doc, target, self.presigner, now=now, expires_in=expires)

    def _head_payload(self, ex: ExecutionRecord, now: float) -> dict[str, Any]:
        return data_execution(ex, now, orjson.Fragment(self.document_for(ex, now)))

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
        history = job.executions.get(thing)
        if history is None:
            history = job.executions[thing] = []
            jobs_of = self.by_thing.get(thing)
            if jobs_of is None:
                jobs_of = self.by_thing[thing] = {}
            jobs_of[job.job_id] = None
        number = 1
        if history:
            previous = history[-1]
            job.counts[previous.status] -= 1
            number = previous.number if same_number else previous.number + 1
        self._seq += 1
        seq = self._seq
        ex = ExecutionRecord(
            job, thing, number, now, seq, retry_attempt, updated_at=now, key=(RANK_QUEUED, now, seq)
        )
        if same_number and history:
            history[-1] = ex
        else:
            history.append(ex)
        job.counts[_QUEUED] += 1
        self.pending.add(ex, now)
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
            ex.details = details
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
                ex.started_at = now
                ex.key = (RANK_IN_PROGRESS, ex.queued_at, ex.seq)
                minutes = (
                    None if job.timeout is None else job.timeout.in_progress_timeout_in_minutes
                )
                if minutes is not None:
                    ex.deadline = now + 60.0 * minutes
                self.pending.resort(ex, now)
            if step_minutes is not None:
                ex.step_deadline = None if step_minutes == -1 else now + 60.0 * step_minutes
                self._arm(ex)
            elif current is not target and ex.deadline is not None:
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
        self._finished(ex, now)
        return None

    def _arm(self, ex: ExecutionRecord) -> None:
        if ex.timer is not None:
            ex.timer.cancel()
            ex.timer = None
        when = ex.timeout_at()
        if when is not None:
            ex.timer = self.runtime.scheduler.call_at(when, partial(self._timed_out, ex))

    def _timed_out(self, ex: ExecutionRecord) -> None:
        ex.timer = None
        when = ex.timeout_at()
        if ex.status is _S.IN_PROGRESS and when is not None:
            self.move(ex, Actor.TIMEOUT, _S.TIMED_OUT, max(self.now(), when))

    def _finished(self, ex: ExecutionRecord, now: float) -> None:
        """What an execution reaching a terminal status triggers."""
        job = ex.job
        status = ex.status
        if status in _RESULTS:
            job.results[status] = job.results.get(status, 0) + 1
        if status is _SUCCEEDED:
            job.succeeded += 1
            if job.package_update and self.catalog.configuration.version_update_by_jobs:
                try:
                    self.shadows.merge_package_versions(ex.thing, job.package_update)
                except AwsError:
                    # AWS writes $package on its own, with the configured role: a failed write
                    # does not undo or fail the device's update (inf). Counted for reports.
                    self.package_write_failures += 1
        elif status is _FAILED or status is _TIMED_OUT:
            self._retry(ex, now)
        if job.abort is not None and status in _RESULTS:
            self._check_abort(job, now)
        self.maybe_complete(job, now)

    def _retry(self, ex: ExecutionRecord, now: float) -> None:
        """Queue a retry when the job's retry criteria allow one (never for REJECTED)."""
        job = ex.job
        if job.retry is None or job.status is not JobStatus.IN_PROGRESS:
            return
        failure = "FAILED" if ex.status is _S.FAILED else "TIMED_OUT"
        own = next((c for c in job.retry.criteria if c.failure_type == failure), None)
        crit = own or next((c for c in job.retry.criteria if c.failure_type == "ALL"), None)
        if crit is None:
            return
        used = job.retries.setdefault(ex.thing, [0, 0])
        slot = 0 if failure == "FAILED" else 1
        spent = used[slot] if own is not None else used[0] + used[1]
        if spent >= crit.number_of_retries:
            return
        used[slot] += 1
        same = not self.options.retry_new_execution_number
        self.create_execution(
            job, ex.thing, now, retry_attempt=ex.retry_attempt + 1, same_number=same
        )

    def _check_abort(self, job: JobRecord, now: float) -> None:
        assert job.abort is not None
        if job.status is not JobStatus.IN_PROGRESS:
            return
        results = job.results
        for crit in job.abort.criteria:
            if job.notified < crit.min_number_of_executed_things:
                continue
            if crit.failure_type == "ALL":
                failures = sum(results.get(s, 0) for s in _FAILURES)
            else:
                failures = results.get(_S(crit.failure_type), 0)
            if self.options.abort_percentage_of == "executed":
                base = sum(results.values())
            else:
                base = job.notified
            if base and 100.0 * failures / base >= crit.threshold_percentage:
                self.cancel_job(job, now, event=JobEvent.ABORT)
                job.reason_code = self.options.abort_reason_code
                return

    def maybe_complete(self, job: JobRecord, now: float) -> None:
        """A SNAPSHOT job is COMPLETED once nothing is pending and nothing waits to roll out."""
        if job.target_selection is _SNAPSHOT and job.status is _JOB_IN_PROGRESS and job.active == 0:
            job.status = JobStatus.COMPLETED
            job.completed = job.updated = now

    # -- ending jobs and executions (see .teardown) -------------------------------------------

    def cancel_job(self, job: JobRecord, now: float, *, event: JobEvent) -> None:
        """Cancel a job: its QUEUED executions (IN_PROGRESS too with FORCE_CANCEL)."""
        teardown.cancel_job(self, job, now, event=event)

    def delete_job(self, job: JobRecord, now: float, *, force: bool) -> None:
        """Start deleting a job; it disappears ``deletion_delay_s`` later."""
        teardown.delete_job(self, job, now, force=force)

    def delete_execution(self, ex: ExecutionRecord, now: float) -> None:
        """Remove one execution record (DeleteJobExecution; checks are the caller's)."""
        teardown.delete_execution(self, ex, now)
