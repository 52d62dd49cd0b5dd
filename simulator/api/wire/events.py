"""Wire shapes of event configurations and of the job and job-execution event messages.

:func:`describe_event_configurations` is DescribeEventConfigurations' encoder (every event type
as ``{"Enabled": bool}``; dates as float epoch seconds, left out until the first update).

:func:`job_event` and :func:`execution_event` are the payloads of ``$aws/events/job/{jobId}/{op}``
and ``$aws/events/jobExecution/{jobId}/{op}`` [AD:events-jobs], with exactly the members the
documented examples show:

* JOB: ``eventType``, ``eventId``, ``timestamp`` (epoch seconds), ``operation``, ``jobId``,
  ``status`` (COMPLETED, CANCELED, DELETED, CANCELLATION_IN_PROGRESS, DELETION_IN_PROGRESS),
  ``targetSelection``, ``targets``, ``description`` (when set), ``createdAt``,
  ``lastUpdatedAt``; ``completed`` adds ``completedAt`` and ``jobProcessDetails`` (canceled,
  rejected, failed, removed and succeeded things: the five counts the example lists). The
  ``comment`` the examples show for the deletion and cancellation events is the job's
  (CancelJob's) comment, sent whenever the job has one (inf). Their dates are milliseconds by
  default (the examples' 13-digit values; unverified, see
  :attr:`~simulator.services.events.EventsOptions.job_dates`).
* JOB_EXECUTION: ``eventType``, ``eventId``, ``timestamp``, ``operation``, ``jobId``,
  ``thingArn``, ``status``, and ``statusDetails`` when the execution has any (inf: the example
  shows a map; whether an empty one is sent is unverified).
"""

from __future__ import annotations

from typing import Any, Final

from simulator.core.arn import Scope
from simulator.core.jobs import ExecutionStatus as S
from simulator.services.events import EventConfigurations, EventsOptions
from simulator.services.jobs.notices import ExecutionOperation, JobOperation
from simulator.services.jobs.records import ExecutionRecord, JobRecord

__all__ = ["describe_event_configurations", "execution_event", "job_event"]

#: The ``status`` of each JOB event's operation [AD:events-jobs].
_JOB_STATUS: Final[dict[JobOperation, str]] = {
    "completed": "COMPLETED",
    "canceled": "CANCELED",
    "deleted": "DELETED",
    "cancellation_in_progress": "CANCELLATION_IN_PROGRESS",
    "deletion_in_progress": "DELETION_IN_PROGRESS",
}


def describe_event_configurations(result: EventConfigurations) -> dict[str, Any]:
    """DescribeEventConfigurations."""
    out: dict[str, Any] = {
        "eventConfigurations": {
            kind.value: {"Enabled": enabled} for kind, enabled in result.enabled.items()
        }
    }
    if result.creation_date is not None:
        out["creationDate"] = result.creation_date
    if result.last_modified_date is not None:
        out["lastModifiedDate"] = result.last_modified_date
    return out


def _date(seconds: float, options: EventsOptions) -> float | int:
    return round(seconds * 1000) if options.job_dates == "ms" else seconds


def job_event(
    event_id: str, job: JobRecord, operation: JobOperation, now: float, *, options: EventsOptions
) -> dict[str, Any]:
    """The payload of a JOB event."""
    out: dict[str, Any] = {
        "eventType": "JOB",
        "eventId": event_id,
        "timestamp": int(now),
        "operation": operation,
        "jobId": job.job_id,
        "status": _JOB_STATUS[operation],
        "targetSelection": job.target_selection.value,
        "targets": list(job.targets),
    }
    if job.description is not None:
        out["description"] = job.description
    if operation == "completed" and job.completed is not None:
        out["completedAt"] = _date(job.completed, options)
    out["createdAt"] = _date(job.created, options)
    out["lastUpdatedAt"] = _date(job.updated, options)
    if operation == "completed":
        counts = job.counts
        out["jobProcessDetails"] = {
            "numberOfCanceledThings": counts[S.CANCELED],
            "numberOfRejectedThings": counts[S.REJECTED],
            "numberOfFailedThings": counts[S.FAILED],
            "numberOfRemovedThings": counts[S.REMOVED],
            "numberOfSucceededThings": counts[S.SUCCEEDED],
        }
    if job.comment is not None:
        out["comment"] = job.comment
    return out


def execution_event(
    event_id: str,
    ex: ExecutionRecord,
    operation: ExecutionOperation,
    now: float,
    *,
    scope: Scope,
    options: EventsOptions,
) -> dict[str, Any]:
    """The payload of a JOB_EXECUTION event."""
    if operation == "deleted" and options.deleted_execution_status == "DELETED":
        status = "DELETED"
    else:
        status = ex.status.value
    out: dict[str, Any] = {
        "eventType": "JOB_EXECUTION",
        "eventId": event_id,
        "timestamp": int(now),
        "operation": operation,
        "jobId": ex.job.job_id,
        "thingArn": scope.arn(f"thing/{ex.thing}"),
        "status": status,
    }
    if ex.details:
        out["statusDetails"] = dict(ex.details)
    return out
