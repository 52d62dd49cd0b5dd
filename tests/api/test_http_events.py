"""UpdateEventConfigurations / DescribeEventConfigurations: boto3 against a real ``fleetsim serve``.

The session server is shared, so these tests look at what they changed rather than assume a
fresh account (the fresh account's answer is checked at the service level,
``tests/services/test_job_events.py``). The configurations and the job events' own state (event
ids, the timer that announces a cancellation) go through ``--state-dir``: restarted for real,
and replayed in process.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import signal
from pathlib import Path
from typing import Any

import pytest

from simulator.api.durable import StateDir
from simulator.api.durable.wiring import restore_plane
from simulator.services.jobs.notices import ExecutionOperation, JobOperation
from simulator.services.jobs.records import ExecutionRecord, JobRecord
from tests.api.conftest import aws_error, finish, launch
from tests.api.test_durable_units import CONFIG, SETTINGS, FakeWall

TYPES = {
    "THING",
    "THING_GROUP",
    "THING_TYPE",
    "THING_GROUP_MEMBERSHIP",
    "THING_GROUP_HIERARCHY",
    "THING_TYPE_ASSOCIATION",
    "JOB",
    "JOB_EXECUTION",
    "POLICY",
    "CERTIFICATE",
    "CA_CERTIFICATE",
}


def _enabled(iot: Any) -> dict[str, bool]:
    configurations = iot.describe_event_configurations()["eventConfigurations"]
    return {kind: config["Enabled"] for kind, config in configurations.items()}


def test_update_then_describe(iot: Any) -> None:
    iot.update_event_configurations(
        eventConfigurations={"THING_TYPE": {"Enabled": True}, "POLICY": {"Enabled": True}}
    )
    iot.update_event_configurations(eventConfigurations={"POLICY": {"Enabled": False}})
    described = iot.describe_event_configurations()
    assert set(described["eventConfigurations"]) == TYPES
    enabled = _enabled(iot)
    assert (enabled["THING_TYPE"], enabled["POLICY"]) == (True, False)
    created, modified = described["creationDate"], described["lastModifiedDate"]
    assert isinstance(created, dt.datetime) and isinstance(modified, dt.datetime)
    assert created <= modified


@pytest.mark.parametrize(
    ("configurations", "fragment"),
    [
        (
            {"NOT_A_TYPE": {"Enabled": True}},
            "Value 'NOT_A_TYPE' at 'eventConfigurations.NOT_A_TYPE.key' failed to satisfy "
            "constraint: Member must satisfy enum value set: [THING, THING_GROUP",
        ),
        ({"job": {"Enabled": True}}, "Value 'job' at 'eventConfigurations.job.key'"),
    ],
    ids=["unknown", "lower-case"],
)
def test_unknown_event_types_are_refused(
    iot: Any, configurations: dict[str, Any], fragment: str
) -> None:
    before = _enabled(iot)
    code, status, response = aws_error(
        iot.update_event_configurations, eventConfigurations=configurations
    )
    assert (code, status) == ("InvalidRequestException", 400)
    assert fragment in response["Error"]["Message"]
    assert _enabled(iot) == before


@pytest.mark.slow  # two server processes
def test_configurations_survive_a_restart_with_state_dir(tmp_path: Path) -> None:
    first = launch("--auth", "none", "--state-dir", str(tmp_path))
    first.client("iot").update_event_configurations(
        eventConfigurations={"JOB": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": True}}
    )
    before = first.client("iot").describe_event_configurations()
    first.process.send_signal(signal.SIGKILL)
    first.process.wait(timeout=30)
    first.stderr_path.unlink(missing_ok=True)
    second = launch("--auth", "none", "--state-dir", str(tmp_path))
    try:
        after = second.client("iot").describe_event_configurations()
        assert after["eventConfigurations"] == before["eventConfigurations"]
        assert after["lastModifiedDate"] == before["lastModifiedDate"]
        assert _enabled(second.client("iot"))["JOB"] is True
    finally:
        finish(second)


class Recorded:
    """A job-events sink keeping ``(eventId, topic level, operation)`` (module level: the
    control plane is pickled at shutdown, this with it)."""

    def __init__(self) -> None:
        self.events: list[tuple[str, str, str]] = []

    def job_event(
        self, event_id: str, job: JobRecord, operation: JobOperation, now: float, /
    ) -> None:
        self.events.append((event_id, "job", operation))

    def execution_event(
        self, event_id: str, ex: ExecutionRecord, operation: ExecutionOperation, now: float, /
    ) -> None:
        self.events.append((event_id, "jobExecution", operation))


def test_a_restored_plane_keeps_the_configuration_and_mints_new_event_ids(tmp_path: Path) -> None:
    async def until(predicate: Any) -> None:
        for _ in range(500):  # bounded: each turn lets the loop run the due timers
            if predicate():
                return
            await asyncio.sleep(0.01)
        raise AssertionError("the condition never held")

    async def scenario() -> None:
        wall = FakeWall()
        loop = asyncio.get_running_loop()
        state = StateDir.open(tmp_path, SETTINGS, ca=None, wall=wall)
        plane = restore_plane(state, CONFIG, loop)
        sink = Recorded()
        plane.job_events.notify_to(sink)
        plane.events.update_event_configurations(
            event_configurations={"JOB": {"Enabled": True}, "JOB_EXECUTION": {"Enabled": True}}
        )
        for thing in ("a", "b"):
            plane.registry.create_thing(thing_name=thing)
        arns = [plane.scope.arn(f"thing/{t}") for t in ("a", "b")]
        plane.jobs.create_job(job_id="j1", targets=arns, document='{"op":"x"}')
        await until(lambda: len(list(plane.jobs.executions("j1"))) == 2)
        plane.jobs_data.update_job_execution(job_id="j1", thing_name="a", status="SUCCEEDED")
        plane.jobs.cancel_job(job_id="j1", comment="stop")
        await until(lambda: len(sink.events) == 4)  # the cancellation leaves from a timer
        assert [e[1:] for e in sink.events] == [
            ("jobExecution", "succeeded"),
            ("job", "cancellation_in_progress"),
            ("jobExecution", "canceled"),
            ("job", "canceled"),
        ]
        described = plane.events.describe_event_configurations()
        await state.close()

        restored_state = StateDir.open(tmp_path, SETTINGS, ca=None, wall=wall)
        restored = restore_plane(restored_state, CONFIG, loop)
        assert restored.events.describe_event_configurations() == described
        later = Recorded()
        restored.job_events.notify_to(later)
        wall.now += 1
        restored.jobs.delete_job(job_id="j1")
        assert [e[1:] for e in later.events] == [("job", "deletion_in_progress")]
        assert later.events[0][0] not in {e[0] for e in sink.events}  # the counter went on
        await restored_state.close()

    asyncio.run(scenario())
