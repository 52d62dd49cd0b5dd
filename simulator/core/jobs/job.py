"""Job states and the ONE table of the events that move a job ([AD:iot-jobs-lifecycle], [B]).

* A job starts IN_PROGRESS, or SCHEDULED when it has a ``schedulingConfig`` start time (START
  when that time comes).
* A SNAPSHOT job is COMPLETED once every target has a terminal execution and no retry remains;
  a CONTINUOUS job is never completed.
* CancelJob and the scheduling end behaviours CANCEL / FORCE_CANCEL give CANCELED; the abort
  criteria (ABORT) too. A canceled job may be canceled again with ``force`` (to cancel the
  executions still IN_PROGRESS): (inf).
* DeleteJob without ``force`` accepts only COMPLETED and CANCELED jobs; with ``force``, any job
  not already being deleted. DELETION_IN_PROGRESS ends with the job disappearing.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from typing import Final

__all__ = [
    "JOB_TRANSITIONS",
    "JobEvent",
    "JobStatus",
    "TargetSelection",
    "initial_job_status",
    "job_transition",
]


class JobStatus(enum.Enum):
    """``JobStatus`` of the ``iot`` model."""

    IN_PROGRESS = "IN_PROGRESS"
    SCHEDULED = "SCHEDULED"
    CANCELED = "CANCELED"
    COMPLETED = "COMPLETED"
    DELETION_IN_PROGRESS = "DELETION_IN_PROGRESS"

    __hash__ = object.__hash__  # identity hashing runs in C (see ExecutionStatus)


class TargetSelection(enum.Enum):
    SNAPSHOT = "SNAPSHOT"
    CONTINUOUS = "CONTINUOUS"


class JobEvent(enum.Enum):
    START = "start"
    COMPLETE = "complete"
    CANCEL = "cancel"
    FORCE_CANCEL = "force-cancel"
    ABORT = "abort"
    DELETE = "delete"
    FORCE_DELETE = "force-delete"

    __hash__ = object.__hash__


_J = JobStatus
_E = JobEvent

#: (current status, event) -> the status after it. Absent pairs are refused.
JOB_TRANSITIONS: Final[Mapping[tuple[JobStatus, JobEvent], JobStatus]] = {
    (_J.SCHEDULED, _E.START): _J.IN_PROGRESS,
    (_J.IN_PROGRESS, _E.COMPLETE): _J.COMPLETED,
    (_J.SCHEDULED, _E.CANCEL): _J.CANCELED,
    (_J.IN_PROGRESS, _E.CANCEL): _J.CANCELED,
    (_J.SCHEDULED, _E.FORCE_CANCEL): _J.CANCELED,
    (_J.IN_PROGRESS, _E.FORCE_CANCEL): _J.CANCELED,
    (_J.CANCELED, _E.FORCE_CANCEL): _J.CANCELED,
    (_J.IN_PROGRESS, _E.ABORT): _J.CANCELED,
    (_J.COMPLETED, _E.DELETE): _J.DELETION_IN_PROGRESS,
    (_J.CANCELED, _E.DELETE): _J.DELETION_IN_PROGRESS,
    (_J.SCHEDULED, _E.FORCE_DELETE): _J.DELETION_IN_PROGRESS,
    (_J.IN_PROGRESS, _E.FORCE_DELETE): _J.DELETION_IN_PROGRESS,
    (_J.COMPLETED, _E.FORCE_DELETE): _J.DELETION_IN_PROGRESS,
    (_J.CANCELED, _E.FORCE_DELETE): _J.DELETION_IN_PROGRESS,
}


def job_transition(current: JobStatus, event: JobEvent) -> JobStatus | None:
    """The job's status after ``event``, or ``None`` when the event is not allowed now."""
    return JOB_TRANSITIONS.get((current, event))


def initial_job_status(start: float | None, now: float) -> JobStatus:
    """The status a new job is created in: SCHEDULED until a start time still to come."""
    return _J.SCHEDULED if start is not None and start > now else _J.IN_PROGRESS
