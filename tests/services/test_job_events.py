"""Event configurations and the job / job-execution events, at the service level.

A whole :class:`ControlPlane` over a virtual clock and a hand-run timer heap, its notifications
wired to MQTT (:func:`simulator.api.mqtt.notices.attach`) onto a recording publisher: the
messages checked are the topics and bytes a broker would carry.
"""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.api.mqtt.notices import attach
from simulator.api.wire.events import describe_event_configurations
from simulator.core.errors import InvalidRequestException
from simulator.services.controlplane import ControlPlane, EmulatorOptions
from simulator.services.events import EventsOptions, EventType
from simulator.services.runtime import RecordingPublisher, Runtime, TimerHeap, VirtualClock
from tests.hypothesis_profiles import examples

ALL_TYPES = [kind.value for kind in EventType]
DOC = '{"operation":"test"}'


class Plane:
    """A control plane whose MQTT messages are recorded; time moves only when told."""

    def __init__(self, *, events: EventsOptions | None = None) -> None:
        self.clock = VirtualClock(1_700_000_000.25)
        self.timers = TimerHeap()
        self.bus = RecordingPublisher()
        options = EmulatorOptions(events=events or EventsOptions())
        self.plane = ControlPlane(Runtime(self.clock, self.timers, self.bus), options)
        attach(self.plane)

    def enable(self, *kinds: str, enabled: bool = True) -> None:
        self.plane.events.update_event_configurations(
            event_configurations={kind: {"Enabled": enabled} for kind in kinds}
        )

    def job(self, job_id: str, *things: str, **kwargs: Any) -> None:
        for thing in things:
            if thing not in self.plane.registry.things:
                self.plane.registry.create_thing(thing_name=thing)
        targets = [self.plane.scope.arn(f"thing/{t}") for t in things]
        self.plane.jobs.create_job(job_id=job_id, targets=targets, document=DOC, **kwargs)

    def update(self, job_id: str, thing: str, status: str, **kwargs: Any) -> None:
        self.plane.jobs_data.update_job_execution(
            job_id=job_id, thing_name=thing, status=status, **kwargs
        )

    def advance(self, seconds: float) -> None:
        end = self.clock.now + seconds
        while (when := self.timers.next_deadline()) is not None and when <= end:
            self.clock.now = max(self.clock.now, when)
            self.timers.run_due(self.clock.now)
        self.clock.now = end

    def events(self) -> list[tuple[str, dict[str, Any]]]:
        """Every event message so far, in order (taken off the record)."""
        out = [(t, orjson.loads(p)) for t, p in self.bus.messages if t.startswith("$aws/events/")]
        self.bus.messages.clear()
        return out


@pytest.fixture
def p() -> Plane:
    return Plane()


# -- UpdateEventConfigurations / DescribeEventConfigurations ---------------------------------


def test_describe_lists_every_type_disabled_and_no_dates_before_an_update(p: Plane) -> None:
    body = describe_event_configurations(p.plane.events.describe_event_configurations())
    assert body == {"eventConfigurations": {kind: {"Enabled": False} for kind in ALL_TYPES}}


def test_update_changes_only_the_types_named_and_sets_the_dates(p: Plane) -> None:
    p.enable("JOB", "THING")
    first = p.clock.now
    p.clock.now += 5
    p.enable("THING", enabled=False)
    body = describe_event_configurations(p.plane.events.describe_event_configurations())
    enabled = {k for k, v in body["eventConfigurations"].items() if v["Enabled"]}
    assert enabled == {"JOB"}
    assert (body["creationDate"], body["lastModifiedDate"]) == (first, first + 5)


@pytest.mark.parametrize(
    "configurations",
    [{"NOPE": {"Enabled": True}}, {"JOB": {"Enabled": "yes"}}, {"JOB": True}],
    ids=["unknown-type", "not-a-boolean", "not-an-object"],
)
def test_bad_configurations_are_refused_and_change_nothing(
    p: Plane, configurations: dict[str, Any]
) -> None:
    before = p.plane.events.describe_event_configurations()
    with pytest.raises(InvalidRequestException) as info:
        p.plane.events.update_event_configurations(
            event_configurations={"THING": {"Enabled": True}, **configurations}
        )
    assert info.value.http_status == 400
    assert p.plane.events.describe_event_configurations() == before


@pytest.mark.parametrize(("absent", "expected"), [(False, False), (None, True)])
def test_a_configuration_without_enabled_follows_the_option(
    absent: bool | None, expected: bool
) -> None:
    p = Plane(events=EventsOptions(absent_enabled=absent))
    p.enable("JOB")
    p.plane.events.update_event_configurations(event_configurations={"JOB": {}})
    assert p.plane.events.enabled(EventType.JOB) is expected


_UPDATES = st.lists(
    st.dictionaries(
        st.sampled_from([*ALL_TYPES, "BOGUS"]),
        st.fixed_dictionaries({"Enabled": st.booleans()}),
        max_size=4,
    ),
    max_size=6,
)


@given(_UPDATES)
@settings(max_examples=examples(60), deadline=None)
def test_describe_is_the_fold_of_the_accepted_updates(updates: list[dict[str, Any]]) -> None:
    p = Plane()
    model = dict.fromkeys(ALL_TYPES, False)
    for update in updates:
        if "BOGUS" in update:
            with pytest.raises(InvalidRequestException):
                p.plane.events.update_event_configurations(event_configurations=update)
            continue
        p.plane.events.update_event_configurations(event_configurations=update)
        model.update({k: v["Enabled"] for k, v in update.items()})
    body = describe_event_configurations(p.plane.events.describe_event_configurations())
    assert {k: v["Enabled"] for k, v in body["eventConfigurations"].items()} == model


# -- events ----------------------------------------------------------------------------------


def test_nothing_is_published_while_events_are_disabled(p: Plane) -> None:
    p.enable("THING")  # another type: still nothing from Jobs
    p.job("j1", "t1")
    p.update("j1", "t1", "SUCCEEDED")
    p.job("j2", "t2")
    p.plane.jobs.cancel_job(job_id="j2")
    p.plane.jobs.delete_job(job_id="j1")
    p.advance(60)
    assert p.events() == []
    assert p.plane.jobs.describe_job(job_id="j2").job.status.value == "CANCELED"  # it ran


def test_completed_job_and_succeeded_execution(p: Plane) -> None:
    p.enable("JOB", "JOB_EXECUTION")
    p.job("j1", "t1", description="roll out v2")
    p.update("j1", "t1", "IN_PROGRESS")
    p.clock.now += 3
    p.update("j1", "t1", "SUCCEEDED", status_details={"step": "done"})
    (t1, ex), (t2, job) = p.events()
    assert t1 == "$aws/events/jobExecution/j1/succeeded"
    assert ex == {
        "eventType": "JOB_EXECUTION",
        "eventId": ex["eventId"],
        "timestamp": int(p.clock.now),
        "operation": "succeeded",
        "jobId": "j1",
        "thingArn": "arn:aws:iot:us-east-1:123456789012:thing/t1",
        "status": "SUCCEEDED",
        "statusDetails": {"step": "done"},
    }
    assert t2 == "$aws/events/job/j1/completed"
    created_ms = round(1_700_000_000.25 * 1000)
    assert job == {
        "eventType": "JOB",
        "eventId": job["eventId"],
        "timestamp": int(p.clock.now),
        "operation": "completed",
        "jobId": "j1",
        "status": "COMPLETED",
        "targetSelection": "SNAPSHOT",
        "targets": ["arn:aws:iot:us-east-1:123456789012:thing/t1"],
        "description": "roll out v2",
        "completedAt": round(p.clock.now * 1000),
        "createdAt": created_ms,
        "lastUpdatedAt": round(p.clock.now * 1000),
        "jobProcessDetails": {
            "numberOfCanceledThings": 0,
            "numberOfRejectedThings": 0,
            "numberOfFailedThings": 0,
            "numberOfRemovedThings": 0,
            "numberOfSucceededThings": 1,
        },
    }
    assert ex["eventId"] != job["eventId"]


def test_job_dates_in_seconds_by_option() -> None:
    p = Plane(events=EventsOptions(job_dates="s"))
    p.enable("JOB")
    p.job("j1", "t1")
    p.update("j1", "t1", "SUCCEEDED")
    [(_, job)] = p.events()
    assert job["createdAt"] == 1_700_000_000.25


@pytest.mark.parametrize("status", ["FAILED", "REJECTED"])
def test_failed_and_rejected_executions(p: Plane, status: str) -> None:
    p.enable("JOB_EXECUTION")
    p.job("j1", "t1")
    p.update("j1", "t1", "IN_PROGRESS")
    p.update("j1", "t1", status)
    [(topic, body)] = p.events()
    assert topic == f"$aws/events/jobExecution/j1/{status.lower()}"
    assert (body["operation"], body["status"]) == (status.lower(), status)
    assert "statusDetails" not in body  # none were ever given


def test_timed_out_execution(p: Plane) -> None:
    p.enable("JOB_EXECUTION")
    p.job("j1", "t1", timeout_config={"inProgressTimeoutInMinutes": 1})
    p.update("j1", "t1", "IN_PROGRESS")
    p.advance(59)
    assert p.events() == []
    p.advance(2)
    [(topic, body)] = p.events()
    assert topic == "$aws/events/jobExecution/j1/timed_out"
    assert (body["status"], body["timestamp"]) == ("TIMED_OUT", int(p.clock.now - 1))


def test_removed_execution_when_its_thing_is_deleted(p: Plane) -> None:
    p.enable("JOB_EXECUTION")
    p.job("j1", "t1")
    p.plane.registry.delete_thing(thing_name="t1")
    [(topic, body)] = p.events()
    assert topic == "$aws/events/jobExecution/j1/removed"
    assert (body["status"], body["thingArn"]) == ("REMOVED", p.plane.scope.arn("thing/t1"))


def test_cancel_announces_in_progress_then_executions_then_canceled(p: Plane) -> None:
    p.enable("JOB", "JOB_EXECUTION")
    p.job("j1", "t1", "t2")
    p.update("j1", "t2", "IN_PROGRESS")  # stays IN_PROGRESS: no force
    p.plane.jobs.cancel_job(job_id="j1", comment="stop it")
    p.advance(0)
    events = p.events()
    assert [t for t, _ in events] == [
        "$aws/events/job/j1/cancellation_in_progress",
        "$aws/events/jobExecution/j1/canceled",
        "$aws/events/job/j1/canceled",
    ]
    (_, starting), (_, execution), (_, canceled) = events
    assert (starting["status"], starting["comment"]) == ("CANCELLATION_IN_PROGRESS", "stop it")
    assert execution["thingArn"].endswith(":thing/t1")
    assert (canceled["status"], canceled["comment"]) == ("CANCELED", "stop it")
    assert "jobProcessDetails" not in canceled and "completedAt" not in canceled


def test_delete_announces_in_progress_then_deleted(p: Plane) -> None:
    p.enable("JOB", "JOB_EXECUTION")
    p.job("j1", "t1")
    p.update("j1", "t1", "SUCCEEDED")
    p.events()
    p.plane.jobs.delete_job(job_id="j1")
    [(topic, body)] = p.events()
    assert (topic, body["status"]) == (
        "$aws/events/job/j1/deletion_in_progress",
        "DELETION_IN_PROGRESS",
    )
    p.advance(p.plane.jobs.options.deletion_delay_s)
    [(topic, body)] = p.events()  # no execution events with the job: the default
    assert (topic, body["status"]) == ("$aws/events/job/j1/deleted", "DELETED")


def test_executions_deleted_with_their_job_by_option() -> None:
    p = Plane(events=EventsOptions(job_executions_deleted_with_job=True))
    p.enable("JOB_EXECUTION")
    p.job("j1", "t1", "t2")
    p.plane.jobs.delete_job(job_id="j1", force=True)
    p.advance(p.plane.jobs.options.deletion_delay_s)
    topics = sorted((t, b["thingArn"].rsplit("/", 1)[1]) for t, b in p.events())
    assert topics == [
        ("$aws/events/jobExecution/j1/deleted", "t1"),
        ("$aws/events/jobExecution/j1/deleted", "t2"),
    ]


@pytest.mark.parametrize(("option", "status"), [("DELETED", "DELETED"), ("last", "FAILED")])
def test_deleted_execution(option: Any, status: str) -> None:
    p = Plane(events=EventsOptions(deleted_execution_status=option))
    p.enable("JOB_EXECUTION")
    p.job("j1", "t1", "t2")
    p.update("j1", "t1", "FAILED")
    p.events()
    p.plane.jobs.delete_job_execution(job_id="j1", thing_name="t1", execution_number=1)
    [(topic, body)] = p.events()
    assert (topic, body["operation"], body["status"]) == (
        "$aws/events/jobExecution/j1/deleted",
        "deleted",
        status,
    )


def test_only_the_enabled_type_is_published_and_ids_are_unique(p: Plane) -> None:
    p.enable("JOB_EXECUTION")
    for i in range(5):
        p.job(f"j{i}", "t1")
        p.update(f"j{i}", "t1", "SUCCEEDED")
    events = p.events()
    assert {t.split("/")[2] for t, _ in events} == {"jobExecution"}
    assert len({body["eventId"] for _, body in events}) == 5
    p.enable("JOB_EXECUTION", enabled=False)
    p.enable("JOB")
    p.job("j9", "t1")
    p.update("j9", "t1", "SUCCEEDED")
    assert [t for t, _ in p.events()] == ["$aws/events/job/j9/completed"]
