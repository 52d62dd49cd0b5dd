"""Job and job-execution events: which status changes AWS announces, and when [AD:events-jobs].

:class:`Announcer` listens to the store (job status changes, finished and deleted executions,
purged jobs) and, for an account that enabled ``JOB`` or ``JOB_EXECUTION`` events
(:class:`~simulator.services.events.EventsService`), hands each event to its
:class:`~.notices.JobsEvents` with a fresh ``eventId``. Topics and payloads are the MQTT API's
(:mod:`simulator.api.mqtt.notices`).

When each event is sent:

* JOB ``completed``: the job became COMPLETED;
* JOB ``cancellation_in_progress``, the executions' ``canceled``, then JOB ``canceled``: a
  cancel request (CancelJob, an abort, a scheduling end) was accepted. AWS sends the first when
  the request starts and the last once it is done. Here the job is CANCELED at once; the three
  kinds leave together from a timer due at the same instant (so the payloads carry what the
  request set after the status change, CancelJob's ``comment``), each with the time and id of
  the change it reports. AWS does not guarantee the order of event messages [AD:iot-events]. A
  repeated ``force`` cancel of a CANCELED job is a new request and announces again (inf);
* JOB ``deletion_in_progress`` then ``deleted``: DeleteJob was accepted, then the job is gone;
* JOB_EXECUTION ``succeeded`` / ``failed`` / ``rejected`` / ``canceled`` / ``timed_out`` /
  ``removed``: an execution reached that terminal status, before anything it triggers (a retry,
  an abort, the job's completion);
* JOB_EXECUTION ``deleted``: DeleteJobExecution (and, if
  :attr:`~simulator.services.events.EventsOptions.job_executions_deleted_with_job`, every
  execution of a deleted job).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Final, Protocol

from simulator.core.jobs import ExecutionStatus, JobStatus
from simulator.services.events import EventType
from simulator.services.jobs.notices import (
    ExecutionOperation,
    JobOperation,
    JobsEvents,
    NoEvents,
)
from simulator.services.jobs.records import ExecutionRecord, JobRecord
from simulator.services.jobs.store import JobsStore
from simulator.services.runtime import Scheduler

__all__ = ["Announcer", "EventGate"]

_S = ExecutionStatus
#: The operation of the JOB_EXECUTION event of each terminal status.
_ENDED: Final[dict[ExecutionStatus, ExecutionOperation]] = {
    _S.SUCCEEDED: "succeeded",
    _S.FAILED: "failed",
    _S.REJECTED: "rejected",
    _S.CANCELED: "canceled",
    _S.TIMED_OUT: "timed_out",
    _S.REMOVED: "removed",
}
#: An execution event waiting for its job's cancellation to be announced: (id, execution,
#: operation, time).
_Held = tuple[str, ExecutionRecord, ExecutionOperation, float]
_JOB: Final = EventType.JOB
_JOB_EXECUTION: Final = EventType.JOB_EXECUTION


class EventGate(Protocol):
    """What the announcer needs of the event configurations."""

    def on_change(self, listener: Callable[[], None], /) -> None: ...

    def enabled(self, kind: EventType, /) -> bool: ...

    def new_event_id(self) -> str: ...


class Announcer:
    """Turns the store's changes into job and job-execution events (see the module docstring).

    Args:
        store: the Jobs store to listen to.
        scheduler: runs the deferred ``canceled`` events.
        gate: which event types are enabled, and event ids.
        executions_deleted_with_job: a deleted job also announces each execution ``deleted``.
    """

    def __init__(
        self,
        store: JobsStore,
        scheduler: Scheduler,
        gate: EventGate,
        *,
        executions_deleted_with_job: bool = False,
    ) -> None:
        self._scheduler = scheduler
        self._gate = gate
        self._with_job = executions_deleted_with_job
        self._sink: JobsEvents = NoEvents()
        #: Jobs whose cancellation is being announced -> the execution events held meanwhile.
        self._holding: dict[JobRecord, list[_Held]] = {}
        self._store = store
        store.on_job_status(self._job_status)  # job status changes are rare: always heard
        gate.on_change(self._configured)
        self._configured()

    def _configured(self) -> None:
        # The store tells of every finished execution: it pays one test while nothing listens.
        listening = self._gate.enabled(_JOB) or self._gate.enabled(_JOB_EXECUTION)
        self._store.hook_events(self if listening else None)

    def notify_to(self, sink: JobsEvents) -> None:
        """Send the enabled events to ``sink`` (the MQTT API) from now on."""
        self._sink = sink

    # -- job status changes ------------------------------------------------------------------

    def _job_status(self, job: JobRecord, previous: JobStatus, now: float) -> None:
        if not self._gate.enabled(_JOB):
            return
        status = job.status
        if status is JobStatus.COMPLETED:
            self._job(job, "completed", now)
        elif status is JobStatus.CANCELED:
            if job not in self._holding:  # else a second request within the same instant
                self._holding[job] = []
                starting = self._gate.new_event_id()
                self._scheduler.call_at(now, partial(self._canceled, job, starting, now))
        elif status is JobStatus.DELETION_IN_PROGRESS:
            self._job(job, "deletion_in_progress", now)

    def _canceled(self, job: JobRecord, starting: str, now: float) -> None:
        held = self._holding.pop(job, [])
        sink = self._sink
        sink.job_event(starting, job, "cancellation_in_progress", now)
        for event_id, ex, operation, when in held:
            sink.execution_event(event_id, ex, operation, when)
        self._job(job, "canceled", now)

    def _job(self, job: JobRecord, operation: JobOperation, now: float) -> None:
        self._sink.job_event(self._gate.new_event_id(), job, operation, now)

    # -- EventHooks --------------------------------------------------------------------------

    def execution_ended(self, ex: ExecutionRecord, now: float, /) -> None:
        if self._gate.enabled(_JOB_EXECUTION):
            event_id = self._gate.new_event_id()
            operation = _ENDED[ex.status]
            held = self._holding.get(ex.job) if self._holding else None
            if held is not None:
                held.append((event_id, ex, operation, now))
            else:
                self._sink.execution_event(event_id, ex, operation, now)

    def execution_removed(self, ex: ExecutionRecord, now: float, /) -> None:
        if self._gate.enabled(_JOB_EXECUTION):
            self._sink.execution_event(self._gate.new_event_id(), ex, "deleted", now)

    def job_removed(self, job: JobRecord, now: float, /) -> None:
        gate = self._gate
        if self._with_job and gate.enabled(_JOB_EXECUTION):
            for ex in job.all_executions():
                self._sink.execution_event(gate.new_event_id(), ex, "deleted", now)
        if gate.enabled(_JOB):
            self._job(job, "deleted", now)
