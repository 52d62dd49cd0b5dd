"""Wire shapes of the Jobs data plane (``iot-jobs-data``), shared by HTTP, MQTT and notifications.

Data-plane and MQTT timestamps are whole epoch seconds (``long`` in the model, integers in the
examples). A job document is passed through as given: raw ``bytes`` (HTTP turns them into a JSON
string) or an ``orjson.Fragment`` (MQTT embeds the object as it is).
"""

from __future__ import annotations

from typing import Any

from simulator.core.jobs import TERMINAL
from simulator.services.jobs.records import ExecutionRecord
from simulator.services.jobs.results import (
    ExecutionState,
    ExecutionView,
    PendingExecutions,
    UpdateResult,
)

__all__ = [
    "data_execution",
    "data_summary",
    "describe_execution",
    "execution_state",
    "pending_executions",
    "seconds_left",
    "start_next",
    "update_execution",
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
    """``JobExecution`` of the data plane; ``document`` (bytes or a Fragment) when given."""
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


def execution_state(state: ExecutionState) -> dict[str, Any]:
    """``JobExecutionState``."""
    out: dict[str, Any] = {"status": state.status.value, "versionNumber": state.version}
    if state.details:
        out["statusDetails"] = dict(state.details)
    return out


# -- one encoder per operation (HTTP: the document stays bytes, sent as a JSON string) --------


def pending_executions(result: PendingExecutions) -> dict[str, Any]:
    """GetPendingJobExecutions."""
    return {
        "inProgressJobs": [data_summary(ex) for ex in result.in_progress],
        "queuedJobs": [data_summary(ex) for ex in result.queued],
    }


def start_next(result: ExecutionView, document: object = None) -> dict[str, Any]:
    """StartNextPendingJobExecution and DescribeJobExecution: ``{}`` when nothing is pending.

    ``document`` replaces the result's document bytes (MQTT passes a Fragment of them).
    """
    ex = result.execution
    if ex is None:
        return {}
    doc = result.document if document is None else document
    return {"execution": data_execution(ex, result.now, doc)}


describe_execution = start_next


def update_execution(result: UpdateResult, document: object = None) -> dict[str, Any]:
    """UpdateJobExecution: ``executionState`` and ``jobDocument`` when asked for."""
    out: dict[str, Any] = {}
    if result.state is not None:
        out["executionState"] = execution_state(result.state)
    if result.document is not None:
        out["jobDocument"] = result.document if document is None else document
    return out
