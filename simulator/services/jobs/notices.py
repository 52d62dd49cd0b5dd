"""The notifications the Jobs service emits, as typed calls: no topic or payload in here.

The MQTT API (:mod:`simulator.api.mqtt.notices`) implements :class:`JobsNotices` and turns each
call into ``$aws/things/{thing}/jobs/notify`` and ``notify-next`` messages for the runtime's
publisher. Notifications are method calls rather than event objects: the in-process fleet emits
millions of them, and a call with typed arguments costs no allocation.

:class:`JobsEvents` receives the job and job-execution *event messages* of an account that
enabled them (``$aws/events/job/...`` and ``$aws/events/jobExecution/...``, see
:mod:`.announce`); the MQTT API implements it too.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Literal, Protocol

from simulator.services.jobs.records import ExecutionRecord, JobRecord

__all__ = [
    "ExecutionOperation",
    "JobOperation",
    "JobsEvents",
    "JobsNotices",
    "NoEvents",
    "NoNotices",
]

#: The ``operation`` of a JOB event (the last level of its topic) [AD:events-jobs].
JobOperation = Literal[
    "completed", "canceled", "deleted", "cancellation_in_progress", "deletion_in_progress"
]
#: The ``operation`` of a JOB_EXECUTION event (the last level of its topic) [AD:events-jobs].
ExecutionOperation = Literal[
    "succeeded", "failed", "rejected", "canceled", "timed_out", "removed", "deleted"
]


class JobsNotices(Protocol):
    """What listens to the Jobs service's notifications."""

    def pending_changed(
        self,
        thing: str,
        pending: Sequence[ExecutionRecord],
        old_head: ExecutionRecord | None,
        now: float,
        /,
    ) -> None:
        """The pending list of ``thing`` changed (an execution was added, started or left).

        Args:
            thing: the thing whose list changed.
            pending: its pending executions now, IN_PROGRESS first then QUEUED (read during the
                call only: the list changes afterwards).
            old_head: the head of the list before the change (``None``: it was empty).
            now: the time of the change.
        """
        ...


class NoNotices:
    """Listens to nothing: a control plane without an MQTT API."""

    __slots__ = ()

    def pending_changed(
        self,
        thing: str,
        pending: Sequence[ExecutionRecord],
        old_head: ExecutionRecord | None,
        now: float,
        /,
    ) -> None:
        return None


class JobsEvents(Protocol):
    """What receives the job and job-execution events (only those the account enabled)."""

    def job_event(
        self, event_id: str, job: JobRecord, operation: JobOperation, now: float, /
    ) -> None:
        """A JOB event: ``job`` reached the state ``operation`` names (read during the call)."""
        ...

    def execution_event(
        self, event_id: str, ex: ExecutionRecord, operation: ExecutionOperation, now: float, /
    ) -> None:
        """A JOB_EXECUTION event: ``ex`` ended (or was deleted) as ``operation`` names."""
        ...


class NoEvents:
    """Receives no events: a control plane without an MQTT API."""

    __slots__ = ()

    def job_event(
        self, event_id: str, job: JobRecord, operation: JobOperation, now: float, /
    ) -> None:
        return None

    def execution_event(
        self, event_id: str, ex: ExecutionRecord, operation: ExecutionOperation, now: float, /
    ) -> None:
        return None
