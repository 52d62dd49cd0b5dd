"""Wire shapes of Jobs records: the dicts the control and data planes return.

Control-plane (``iot``) timestamps are float epoch seconds; data-plane (``iot-jobs-data``) and
MQTT timestamps are whole epoch seconds (``long`` in the model, integers in the examples).
"""

from __future__ import annotations

from typing import Any

from simulator.core.jobs import TERMINAL
from simulator.core.jobs import ExecutionStatus as S
from simulator.services.jobs.records import ExecutionRecord, JobRecord

__all__ = [
    "cp_execution",
    "cp_execution_summary",
    "data_execution",
    "data_summary",
    "execution_state",
    "process_details",
    "seconds_left",
]


def seconds_left(ex: ExecutionRecord, now: float) -> int | None:
    """``approximateSecondsBeforeTimedOut`` (only while a timer runs)."""
    when = ex.timeout_at()
    if when is None or ex.status in TERMINAL:
        return None
    left = int(when - now)
    return left if left > 0 else 0


def data_summary(ex: ExecutionRecord) -> dict[str, Any]:
    """``JobExecutionSummary`` of the data plane (GetPendingJobExecutions, ``notify``)."""
    started = ex.started_at
    if started is None:
        return {
            "jobId": ex.job.job_id,
            "queuedAt": int(ex.queued_at),
            "lastUpdatedAt": int(ex.updated_at),
            "versionNumber": ex.version,
            "executionNumber": ex.number,
        }
    return {
        "jobId": ex.job.job_id,
        "queuedAt": int(ex.queued_at),
        "startedAt": int(started),
        "lastUpdatedAt": int(ex.updated_at),
        "versionNumber": ex.version,
        "executionNumber": ex.number,
    }


def data_execution(ex: ExecutionRecord, now: float, document: object = None) -> dict[str, Any]:
    """``JobExecution`` of the data plane; ``document`` (bytes or a Fragment) when asked for."""
    out: dict[str, Any] = {
        "jobId": ex.job.job_id,
        "thingName": ex.thing,
        "status": ex.status._value_,  # the plain attribute: `.value` is a slow descriptor
        "queuedAt": int(ex.queued_at),
        "lastUpdatedAt": int(ex.updated_at),
        "versionNumber": ex.version,
        "executionNumber": ex.number,
    }
    if ex.details:
        out["statusDetails"] = ex.details
    if ex.started_at is not None:
        out["startedAt"] = int(ex.started_at)
    if ex.deadline is not None or ex.step_deadline is not None:
        left = seconds_left(ex, now)
        if left is not None:
            out["approximateSecondsBeforeTimedOut"] = left
    if document is not None:
        out["jobDocument"] = document
    return out


def execution_state(ex: ExecutionRecord) -> dict[str, Any]:
    """``JobExecutionState``: what UpdateJobExecution and its errors report."""
    out: dict[str, Any] = {"status": ex.status.value, "versionNumber": ex.version}
    if ex.details:
        out["statusDetails"] = dict(ex.details)
    return out


def cp_execution_summary(ex: ExecutionRecord) -> dict[str, Any]:
    """``JobExecutionSummary`` of the control plane (ListJobExecutionsFor*)."""
    out: dict[str, Any] = {
        "status": ex.status.value,
        "queuedAt": ex.queued_at,
        "lastUpdatedAt": ex.updated_at,
        "executionNumber": ex.number,
        "retryAttempt": ex.retry_attempt,
    }
    if ex.started_at is not None:
        out["startedAt"] = ex.started_at
    return out


def cp_execution(ex: ExecutionRecord, thing_arn: str, now: float) -> dict[str, Any]:
    """``JobExecution`` of the control plane (DescribeJobExecution): no document."""
    out: dict[str, Any] = {
        "jobId": ex.job.job_id,
        "status": ex.status.value,
        "forceCanceled": ex.force_canceled,
        "statusDetails": {"detailsMap": dict(ex.details or {})},
        "thingArn": thing_arn,
        "queuedAt": ex.queued_at,
        "lastUpdatedAt": ex.updated_at,
        "executionNumber": ex.number,
        "versionNumber": ex.version,
    }
    if ex.started_at is not None:
        out["startedAt"] = ex.started_at
    left = seconds_left(ex, now)
    if left is not None:
        out["approximateSecondsBeforeTimedOut"] = left
    return out


def process_details(job: JobRecord) -> dict[str, Any]:
    """``jobProcessDetails``: things per status of their current execution."""
    counts = job.counts
    out: dict[str, Any] = {
        "numberOfCanceledThings": counts[S.CANCELED],
        "numberOfSucceededThings": counts[S.SUCCEEDED],
        "numberOfFailedThings": counts[S.FAILED],
        "numberOfRejectedThings": counts[S.REJECTED],
        "numberOfQueuedThings": counts[S.QUEUED],
        "numberOfInProgressThings": counts[S.IN_PROGRESS],
        "numberOfRemovedThings": counts[S.REMOVED],
        "numberOfTimedOutThings": counts[S.TIMED_OUT],
    }
    if job.backlog:
        out["processingTargets"] = list(job.targets)
    return out
