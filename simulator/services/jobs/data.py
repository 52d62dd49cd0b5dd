"""The Jobs data plane (``iot-jobs-data`` 2017-09-29): what devices call.

Results are the typed records of :mod:`.results`; a job document is the raw JSON ``bytes`` of
the document as the device sees it (presigned URLs minted at this call): the HTTP codec sends it
as a string, the MQTT codec embeds it as an object. Timestamps are whole epoch seconds.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from simulator.core.errors import (
    InvalidRequestException,
    JobExecutionStateException,
    ResourceNotFoundException,
    VersionMismatchException,
)
from simulator.core.jobs import Actor, ExecutionStatus, JobStatus, Refusal
from simulator.services.jobs.checks import check_thing_name, flag, optional_int
from simulator.services.jobs.control import JobsService
from simulator.services.jobs.records import ExecutionRecord
from simulator.services.jobs.results import (
    ExecutionState,
    ExecutionView,
    PendingExecutions,
    UpdateResult,
)

__all__ = ["JobsDataService", "execution_state_fields"]

NEXT = "$next"
_STATUSES: dict[str, ExecutionStatus] = {status.value: status for status in ExecutionStatus}
# Members as globals: on Python 3.11 ``ExecutionStatus.QUEUED`` goes through the enum metaclass's
# ``__getattr__`` hook, as costly as a function call, and these are read on every device request.
_QUEUED: Final = ExecutionStatus.QUEUED
_IN_PROGRESS: Final = ExecutionStatus.IN_PROGRESS
_DEVICE: Final = Actor.DEVICE
_DELETING: Final = JobStatus.DELETION_IN_PROGRESS
_NOT_DEVICE_STATUS: Final = Refusal.NOT_DEVICE_STATUS
_UPDATED: Final = UpdateResult(None, None)


def _step(value: object) -> int | None:
    """``stepTimeoutInMinutes``: 1-10080, or -1 to clear the step timer [B]."""
    minutes = optional_int(value, "stepTimeoutInMinutes")
    if minutes is not None and minutes != -1 and not 1 <= minutes <= 10080:
        raise InvalidRequestException("stepTimeoutInMinutes must be 1 to 10080, or -1")
    return minutes


def execution_state_fields(ex: ExecutionRecord) -> dict[str, object]:
    """The ``executionState`` an error carries (errors are AWS-shaped: see core.errors)."""
    out: dict[str, object] = {"status": ex.status.value, "versionNumber": ex.version}
    if ex.details:
        out["statusDetails"] = dict(ex.details)
    return out


class JobsDataService:
    """GetPendingJobExecutions, StartNextPendingJobExecution, DescribeJobExecution,
    UpdateJobExecution, over the store of a :class:`~.control.JobsService`."""

    def __init__(self, jobs: JobsService) -> None:
        self.jobs = jobs
        self.store = jobs.store
        self.documents = jobs.documents
        # The clock itself: every device request reads it.
        self._clock = jobs.runtime.clock
        scale = 1000 if jobs.options.timestamp_unit == "ms" else 1
        #: The top-level ``timestamp`` of MQTT Jobs messages at a time (``timestamp_unit``).
        self.stamp: Callable[[float], int] = (lambda t: int(t * scale)) if scale != 1 else int

    def _execution(self, job_id: object, thing: str, number: int | None) -> ExecutionRecord:
        if not isinstance(job_id, str):
            raise InvalidRequestException("jobId must be a string")
        job = self.store.jobs.get(job_id)
        if job is None or job.status is _DELETING:
            raise ResourceNotFoundException(f"Job {job_id} cannot be found.")
        return self.store.execution(job_id, thing, number)

    def timestamp(self) -> int:
        """The top-level ``timestamp`` of MQTT Jobs messages now (see ``timestamp_unit``)."""
        return self.stamp(self._clock())

    def document_for(self, ex: ExecutionRecord, now: float) -> bytes:
        """The job document of ``ex`` as its device sees it at ``now``."""
        return self.documents.document_for(ex, now)

    def get_pending_job_executions(self, *, thing_name: str) -> PendingExecutions:
        check_thing_name(thing_name)
        items = self.store.pending.items(thing_name)
        in_progress = tuple(ex for ex in items if ex.status is _IN_PROGRESS)
        queued = tuple(ex for ex in items if ex.status is not _IN_PROGRESS)
        return PendingExecutions(in_progress, queued)

    def start_next_pending_job_execution(
        self,
        *,
        thing_name: str,
        status_details: dict[str, str] | None = None,
        step_timeout_in_minutes: int | None = None,
    ) -> ExecutionView:
        check_thing_name(thing_name)
        store = self.store
        details = None if status_details is None else store.check_details(status_details)
        step = None if step_timeout_in_minutes is None else _step(step_timeout_in_minutes)
        now = self._clock()
        ex = store.pending.head(thing_name)
        if ex is None:
            return ExecutionView(None, now, None)
        if ex.status is _QUEUED:
            # A QUEUED execution starts with the given details; an IN_PROGRESS one is returned
            # as it is [AD:jobs-mqtt-api].
            store.move(ex, _DEVICE, _IN_PROGRESS, now, details=details, step_minutes=step)
        return ExecutionView(ex, now, self.documents.document_for(ex, now))

    def describe_job_execution(
        self,
        *,
        job_id: str,
        thing_name: str,
        include_job_document: bool | None = None,
        execution_number: int | None = None,
    ) -> ExecutionView:
        check_thing_name(thing_name)
        number = optional_int(execution_number, "executionNumber")
        with_document = (
            True
            if include_job_document is None
            else flag(include_job_document, "includeJobDocument")
        )
        now = self._clock()
        if job_id == NEXT:
            ex = self.store.pending.head(thing_name)
            if ex is None:
                return ExecutionView(None, now, None)  # nothing pending: no execution (inf)
        else:
            ex = self._execution(job_id, thing_name, number)
        document = self.documents.document_for(ex, now) if with_document else None
        return ExecutionView(ex, now, document)

    def update_job_execution(
        self,
        *,
        job_id: str,
        thing_name: str,
        status: str,
        status_details: dict[str, str] | None = None,
        step_timeout_in_minutes: int | None = None,
        expected_version: int | None = None,
        include_job_execution_state: bool | None = None,
        include_job_document: bool | None = None,
        execution_number: int | None = None,
    ) -> UpdateResult:
        check_thing_name(thing_name)
        # A dict lookup first: the enum's call-by-value is a slow path on every device update.
        target = _STATUSES.get(status) if type(status) is str else None
        if target is None:
            try:
                target = ExecutionStatus(status)
            except ValueError:
                raise InvalidRequestException(f"Invalid status {status!r}") from None
        store = self.store
        # Omitted members skip their checks (devices send one or two of the nine).
        details = None if status_details is None else store.check_details(status_details)
        step = None if step_timeout_in_minutes is None else _step(step_timeout_in_minutes)
        expected = (
            None if expected_version is None else optional_int(expected_version, "expectedVersion")
        )
        number = (
            None if execution_number is None else optional_int(execution_number, "executionNumber")
        )
        with_state = include_job_execution_state is not None and flag(
            include_job_execution_state, "includeJobExecutionState"
        )
        with_document = include_job_document is not None and flag(
            include_job_document, "includeJobDocument"
        )
        ex = self._execution(job_id, thing_name, number)
        if expected is not None and expected != ex.version:
            raise VersionMismatchException(
                f"expectedVersion {expected} does not match the job execution's version "
                f"{ex.version}.",
                execution_state=execution_state_fields(ex),
            )
        now = self._clock()
        refusal = store.move(ex, _DEVICE, target, now, details=details, step_minutes=step)
        if refusal is _NOT_DEVICE_STATUS:
            raise InvalidRequestException(f"Invalid status {status}: {refusal.value}.")
        if refusal is not None:
            raise JobExecutionStateException(
                f"Cannot update the job execution from {ex.status.value} to {status}: "
                f"{refusal.value}.",
                execution_state=execution_state_fields(ex),
            )
        if not with_state and not with_document:
            return _UPDATED  # what devices ask for nearly always: one shared result
        return UpdateResult(
            ExecutionState.of(ex) if with_state else None,
            self.documents.document_for(ex, now) if with_document else None,
        )
