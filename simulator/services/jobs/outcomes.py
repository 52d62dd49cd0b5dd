"""What an execution reaching a terminal status triggers: ``$package``, retries, abort, completion.

:class:`Outcomes` is the store's finished-execution handler. It writes the job's package
versions into the thing's ``$package`` shadow on SUCCEEDED (at once, or on the scheduler after
``JobsOptions.package_write_delay_s``), queues a retry when the retry criteria allow one,
cancels the job (ABORT) when an abort criterion is met, and completes a SNAPSHOT job with
nothing left to do. It owns the count of failed ``$package`` writes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Final, Protocol

from simulator.core.catalog import Catalog
from simulator.core.errors import AwsError
from simulator.core.jobs import ExecutionStatus, JobEvent, JobStatus
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import ExecutionRecord, JobRecord
from simulator.services.jobs.store import JobsStore
from simulator.services.jobs.teardown import Teardown
from simulator.services.runtime import Scheduler

__all__ = ["Outcomes", "PackageShadows", "PackageWriteListener"]

_S = ExecutionStatus
_FAILURES: Final = (_S.FAILED, _S.REJECTED, _S.TIMED_OUT)
_RESULTS: Final = (_S.SUCCEEDED, *_FAILURES)
_SUCCEEDED: Final = _S.SUCCEEDED
_FAILED: Final = _S.FAILED
_TIMED_OUT: Final = _S.TIMED_OUT


class PackageShadows(Protocol):
    """What Jobs needs from the Device Shadow service: the ``$package`` merge write."""

    def merge_package_versions(
        self, thing_name: str, versions: Mapping[str, str | None]
    ) -> None: ...


#: Told ``(thing, versions)`` just before each ``$package`` write Jobs makes (drivers attribute
#: the write with it).
PackageWriteListener = Callable[[str, Mapping[str, str | None]], None]


class Outcomes:
    """The consequences of finished executions."""

    def __init__(
        self,
        store: JobsStore,
        teardown: Teardown,
        catalog: Catalog,
        shadows: PackageShadows,
        options: JobsOptions,
        *,
        scheduler: Scheduler | None = None,
    ) -> None:
        if options.package_write_delay_s > 0 and scheduler is None:
            raise ValueError("a $package write delay needs a scheduler")
        self._scheduler = scheduler
        self._listeners: list[PackageWriteListener] = []
        self._store = store
        self._teardown = teardown
        self._catalog = catalog
        self._shadows = shadows
        self._options = options
        #: ``$package`` writes that failed (the update stood: AWS writes it on its own).
        self.package_write_failures = 0
        store.on_finished(self.finished)

    def finished(self, ex: ExecutionRecord, now: float) -> None:
        """What an execution reaching a terminal status triggers."""
        job = ex.job
        status = ex.status
        if status in _RESULTS:
            job.results[status] = job.results.get(status, 0) + 1
        if status is _SUCCEEDED:
            job.succeeded += 1
            if job.package_update and self._catalog.configuration.version_update_by_jobs:
                delay = self._options.package_write_delay_s
                if delay > 0:
                    assert self._scheduler is not None
                    write = partial(self._write, ex.thing, dict(job.package_update))
                    self._scheduler.call_at(now + delay, write)
                else:
                    self._write(ex.thing, job.package_update)
        elif status is _FAILED or status is _TIMED_OUT:
            self._retry(ex, now)
        if job.abort is not None and status in _RESULTS:
            self._check_abort(job, now)
        self._store.complete_if_done(job, now)

    def on_package_write(self, listener: PackageWriteListener) -> None:
        """Call ``listener(thing, versions)`` just before each ``$package`` write from now on."""
        self._listeners.append(listener)

    def _write(self, thing: str, versions: Mapping[str, str | None]) -> None:
        for listener in self._listeners:
            listener(thing, versions)
        try:
            self._shadows.merge_package_versions(thing, versions)
        except AwsError:
            # AWS writes $package on its own, with the configured role: a failed write does not
            # undo or fail the device's update (inf). Counted for reports. A delayed write that
            # finds the thing deleted meanwhile fails the same way.
            self.package_write_failures += 1

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
        same = not self._options.retry_new_execution_number
        self._store.create_execution(
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
            if self._options.abort_percentage_of == "executed":
                base = sum(results.values())
            else:
                base = job.notified
            if base and 100.0 * failures / base >= crit.threshold_percentage:
                self._teardown.cancel_job(job, now, event=JobEvent.ABORT)
                job.reason_code = self._options.abort_reason_code
                return
