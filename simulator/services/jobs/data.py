"""The Jobs data plane (``iot-jobs-data`` 2017-09-29): what devices call.

Results are the response members; ``jobDocument`` is the raw JSON ``bytes`` of the document as
the device sees it (presigned URLs minted at this call): the HTTP codec sends it as a string, the
MQTT codec embeds it as an object. Timestamps are whole epoch seconds.
"""

from __future__ import annotations

from typing import Any, Final

from simulator.core.errors import (
    InvalidRequestException,
    JobExecutionStateException,
    ResourceNotFoundException,
    VersionMismatchException,
)
from simulator.core.jobs import (
    Actor,
    ExecutionStatus,
    JobStatus,
    Refusal,
    check_status_details,
)
from simulator.services.jobs.checks import check_thing_name, flag, optional_int
from simulator.services.jobs.control import JobsService
from simulator.services.jobs.records import ExecutionRecord
from simulator.services.jobs.wire import data_execution, data_summary, execution_state

__all__ = ["JobsDataService"]

NEXT = "$next"
_STATUSES: dict[str, ExecutionStatus] = {status.value: status for status in ExecutionStatus}
# Members as globals: on Python 3.11 ``ExecutionStatus.QUEUED`` goes through the enum metaclass's
# ``__getattr__`` hook, as costly as a function call, and these are read on every device request.
_QUEUED: Final = ExecutionStatus.QUEUED
_IN_PROGRESS: Final = ExecutionStatus.IN_PROGRESS
_DEVICE: Final = Actor.DEVICE
_DELETING: Final = JobStatus.DELETION_IN_PROGRESS
_NOT_DEVICE_STATUS: Final = Refusal.NOT_DEVICE_STATUS


def _step(value: object) -> int | None:
    """``stepTimeoutInMinutes``: 1-10080, or -1 to clear the step timer [B]."""
    minutes = optional_int(value, "stepTimeoutInMinutes")
    if minutes is not None and minutes != -1 and not 1 <= minutes <= 10080:
        raise InvalidRequestException("stepTimeoutInMinutes must be 1 to 10080, or -1")
    return minutes


class JobsDataService:
    """GetPendingJobExecutions, StartNextPendingJobExecution, DescribeJobExecution,
    UpdateJobExecution, over the store of a :class:`~.control.JobsService`."""

    def __init__(self, jobs: JobsService) -> None:
        self.jobs = jobs
        self.engine = jobs.engine
        # The clock and the stamp function themselves: every device request reads them.
        self._clock = jobs.engine.runtime.clock
        self._stamp = jobs.engine.stamp

    def _execution(self, job_id: object, thing: str, number: int | None) -> ExecutionRecord:
        if not isinstance(job_id, str):
            raise InvalidRequestException("jobId must be a string")
        job = self.engine.jobs.get(job_id)
        if job is None or job.status is _DELETING:
            raise ResourceNotFoundException(f"Job {job_id} cannot be found.")
        return self.engine.execution(job_id, thing, number)

    def timestamp(self) -> int:
        """The top-level ``timestamp`` of MQTT Jobs messages now (see ``timestamp_unit``)."""
        return self._stamp(self._clock())

    def get_pending_job_executions(self, *, thing_name: str) -> dict[str, Any]:
        check_thing_name(thing_name)
        in_progress: list[dict[str, Any]] = []
        queued: list[dict[str, Any]] = []
        for ex in self.engine.pending.items(thing_name):
            target = in_progress if ex.status is ExecutionStatus.IN_PROGRESS else queued
            target.append(data_summary(ex))
        return {"inProgressJobs": in_progress, "queuedJobs": queued}

    def start_next_pending_job_execution(
        self,
        *,
        thing_name: str,
        status_details: dict[str, str] | None = None,
        step_timeout_in_minutes: int | None = None,
    ) -> dict[str, Any]:
        check_thing_name(thing_name)
        details = None if status_details is None else check_status_details(status_details)
        step = None if step_timeout_in_minutes is None else _step(step_timeout_in_minutes)
        engine = self.engine
        ex = engine.pending.head(thing_name)
        if ex is None:
            return {}
        now = self._clock()
        if ex.status is _QUEUED:
            # A QUEUED execution starts with the given details; an IN_PROGRESS one is returned
            # as it is [AD:jobs-mqtt-api].
            engine.move(
                ex,
                _DEVICE,
                _IN_PROGRESS,
                now,
                details=details,
                step_minutes=step,
            )
        return {"execution": data_execution(ex, now, engine.document_for(ex, now))}

    def describe_job_execution(
        self,
        *,
        job_id: str,
        thing_name: str,
        include_job_document: bool | None = None,
        execution_number: int | None = None,
    ) -> dict[str, Any]:
        check_thing_name(thing_name)
        number = optional_int(execution_number, "executionNumber")
        with_document = (
            True
            if include_job_document is None
            else flag(include_job_document, "includeJobDocument")
        )
        engine = self.engine
        if job_id == NEXT:
            ex = engine.pending.head(thing_name)
            if ex is None:
                return {}  # nothing pending: no execution (inf)
        else:
            ex = self._execution(job_id, thing_name, number)
        now = self._clock()
        document = engine.document_for(ex, now) if with_document else None
        return {"execution": data_execution(ex, now, document)}

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
    ) -> dict[str, Any]:
        check_thing_name(thing_name)
        # A dict lookup first: the enum's call-by-value is a slow path on every device update.
        target = _STATUSES.get(status) if type(status) is str else None
        if target is None:
            try:
                target = ExecutionStatus(status)
            except ValueError:
                raise InvalidRequestException(f"Invalid status {status!r}") from None
        # Omitted members skip their checks (devices send one or two of the nine).
        details = None if status_details is None else check_status_details(status_details)
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
        engine = self.engine
        ex = self._execution(job_id, thing_name, number)
        if expected is not None and expected != ex.version:
            raise VersionMismatchException(
                f"expectedVersion {expected} does not match the job execution's version "
                f"{ex.version}.",
                execution_state=execution_state(ex),
            )
        now = self._clock()
        refusal = engine.move(ex, _DEVICE, target, now, details=details, step_minutes=step)
        if refusal is _NOT_DEVICE_STATUS:
            raise InvalidRequestException(f"Invalid status {status}: {refusal.value}.")
        if refusal is not None:
            raise JobExecutionStateException(
                f"Cannot update the job execution from {ex.status.value} to {status}: "
                f"{refusal.value}.",
                execution_state=execution_state(ex),
            )
        out: dict[str, Any] = {}
        if with_state:
            out["executionState"] = execution_state(ex)
        if with_document:
            out["jobDocument"] = engine.document_for(ex, now)
        return out
