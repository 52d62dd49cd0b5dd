"""The services' notifications as MQTT messages: topics and payloads, for the runtime's publisher.

:class:`JobsMqttNotices` turns "the pending list of thing T changed" into
``$aws/things/T/jobs/notify`` (the first ``notify_limit`` pending executions, to subscribers only)
and, when the head changed, ``.../notify-next`` (the new head's execution and document, or just
``{"timestamp"}`` when the list emptied) [AD:jobs-comm-notifications].
:class:`ShadowMqttNotices` turns accepted updates and deletes into ``/update/accepted``,
``/update/documents``, ``/update/delta`` and ``/delete/accepted`` [AD:device-shadow-mqtt], with
the payloads of :mod:`simulator.api.wire.shadow` (the bytes HTTP answers too).

:class:`JobsMqttEvents` turns the job and job-execution events an account enabled into
``$aws/events/job/{jobId}/{operation}`` and ``$aws/events/jobExecution/{jobId}/{operation}``
messages [AD:events-jobs], with the payloads of :mod:`simulator.api.wire.events`.

:func:`attach` wires all three into a control plane; :class:`~.dispatch.MqttApi` does it, so
every driver that serves MQTT publishes them.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson

from simulator.api.wire import events as event_wire
from simulator.api.wire import shadow as wire
from simulator.api.wire.jobs_data import data_execution, data_summary
from simulator.core.arn import Scope
from simulator.core.shadow import UpdateOutcome
from simulator.services.controlplane import ControlPlane
from simulator.services.events import EventsOptions
from simulator.services.jobs import JobsDataService
from simulator.services.jobs.notices import ExecutionOperation, JobOperation
from simulator.services.jobs.records import RANK_IN_PROGRESS, ExecutionRecord, JobRecord
from simulator.services.runtime import Publisher
from simulator.services.shadow_results import ShadowDeletion

__all__ = [
    "JobsMqttEvents",
    "JobsMqttNotices",
    "ShadowMqttNotices",
    "attach",
    "shadow_topic_prefix",
]


def shadow_topic_prefix(thing_name: str, shadow_name: str | None) -> str:
    """``$aws/things/{thing}/shadow`` or ``…/shadow/name/{name}`` [AD:device-shadow-mqtt]."""
    if shadow_name is None:
        return f"$aws/things/{thing_name}/shadow"
    return f"$aws/things/{thing_name}/shadow/name/{shadow_name}"


class JobsMqttNotices:
    """Publishes ``notify`` and ``notify-next`` for every change of a pending list."""

    __slots__ = ("_data", "_limit", "_publisher", "_stamp")

    def __init__(self, publisher: Publisher, data: JobsDataService) -> None:
        self._publisher = publisher
        self._data = data
        self._stamp = data.stamp
        self._limit = data.jobs.options.notify_limit

    def pending_changed(
        self,
        thing: str,
        pending: Sequence[ExecutionRecord],
        old_head: ExecutionRecord | None,
        now: float,
        /,
    ) -> None:
        stamp = self._stamp(now)
        publisher = self._publisher
        publish = publisher.publish
        notify = f"$aws/things/{thing}/jobs/notify"
        if not pending:
            if publisher.subscribed(notify):
                publish(notify, b'{"timestamp":%d,"jobs":{}}' % stamp)
            if old_head is not None:
                publish(f"{notify}-next", b'{"timestamp":%d}' % stamp)
            return
        head = pending[0]
        if publisher.subscribed(notify):
            jobs = self._summaries(pending, head)
            publish(notify, orjson.dumps({"timestamp": stamp, "jobs": jobs}))
        if head is not old_head:
            document = orjson.Fragment(self._data.document_for(head, now))
            payload = {"timestamp": stamp, "execution": data_execution(head, now, document)}
            publish(f"{notify}-next", orjson.dumps(payload))

    def _summaries(self, items: Sequence[ExecutionRecord], head: ExecutionRecord) -> dict[str, Any]:
        """The ``jobs`` member of a notify message: IN_PROGRESS first, then QUEUED."""
        if len(items) == 1:  # the common case: one pending execution
            group = "IN_PROGRESS" if head.key[0] == RANK_IN_PROGRESS else "QUEUED"
            jobs: dict[str, Any] = {group: [data_summary(head)]}
        else:
            in_progress: list[dict[str, Any]] = []
            queued: list[dict[str, Any]] = []
            for ex in items[: self._limit]:
                (in_progress if ex.key[0] == RANK_IN_PROGRESS else queued).append(data_summary(ex))
            jobs = {}
            if in_progress:
                jobs["IN_PROGRESS"] = in_progress
            if queued:
                jobs["QUEUED"] = queued
        return jobs


class ShadowMqttNotices:
    """Publishes the update and delete messages of every shadow change, to subscribers."""

    __slots__ = ("_publisher",)

    def __init__(self, publisher: Publisher) -> None:
        self._publisher = publisher

    def wants(self, thing_name: str, shadow_name: str | None, /) -> bool:
        subscribed = self._publisher.subscribed
        prefix = shadow_topic_prefix(thing_name, shadow_name)
        return (
            subscribed(f"{prefix}/update/accepted")
            or subscribed(f"{prefix}/update/documents")
            or subscribed(f"{prefix}/update/delta")
        )

    def updated(self, thing_name: str, shadow_name: str | None, outcome: UpdateOutcome, /) -> None:
        publisher = self._publisher
        prefix = shadow_topic_prefix(thing_name, shadow_name)
        topic = f"{prefix}/update/accepted"
        if publisher.subscribed(topic):
            publisher.publish(topic, wire.update_accepted(outcome))
        topic = f"{prefix}/update/documents"
        if publisher.subscribed(topic):
            publisher.publish(topic, wire.update_documents(outcome))
        topic = f"{prefix}/update/delta"
        if outcome.delta is not None and publisher.subscribed(topic):
            publisher.publish(topic, wire.update_delta(outcome))

    def deleted(
        self, thing_name: str, shadow_name: str | None, deletion: ShadowDeletion, /
    ) -> None:
        topic = f"{shadow_topic_prefix(thing_name, shadow_name)}/delete/accepted"
        self._publisher.publish(topic, wire.delete_accepted(deletion))


class JobsMqttEvents:
    """Publishes the job and job-execution events (to subscribers: the broker may know better,
    and a bridge says every topic is subscribed)."""

    __slots__ = ("_options", "_publisher", "_scope")

    def __init__(self, publisher: Publisher, scope: Scope, options: EventsOptions) -> None:
        self._publisher = publisher
        self._scope = scope
        self._options = options

    def job_event(
        self, event_id: str, job: JobRecord, operation: JobOperation, now: float, /
    ) -> None:
        topic = f"$aws/events/job/{job.job_id}/{operation}"
        if self._publisher.subscribed(topic):
            payload = event_wire.job_event(event_id, job, operation, now, options=self._options)
            self._publisher.publish(topic, orjson.dumps(payload))

    def execution_event(
        self, event_id: str, ex: ExecutionRecord, operation: ExecutionOperation, now: float, /
    ) -> None:
        topic = f"$aws/events/jobExecution/{ex.job.job_id}/{operation}"
        if self._publisher.subscribed(topic):
            payload = event_wire.execution_event(
                event_id, ex, operation, now, scope=self._scope, options=self._options
            )
            self._publisher.publish(topic, orjson.dumps(payload))


def attach(plane: ControlPlane) -> None:
    """Publish the notifications of ``plane``'s Jobs and Shadow services, and its job events,
    as MQTT messages through its runtime's publisher (replacing what listened before)."""
    publisher = plane.runtime.publisher
    plane.jobs.notify_to(JobsMqttNotices(publisher, plane.jobs_data))
    plane.shadows.notify_to(ShadowMqttNotices(publisher))
    plane.job_events.notify_to(JobsMqttEvents(publisher, plane.scope, plane.events.options))
