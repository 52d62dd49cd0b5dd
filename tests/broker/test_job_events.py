"""Job and job-execution events over ``fleetsim serve --mqtt`` and a real Mosquitto.

An operator (a paho client) subscribes to ``$aws/events/#``; boto3 enables the events, runs a
job to completion with a device working over the MQTT Jobs API, fails one over HTTP
(``iot-jobs-data``), cancels one and deletes two things; the operator sees each event with
AWS's payload. With the events disabled, the same work publishes none: proved by a request
round trip through the emulator after everything it could have published, not by waiting.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.api.conftest import Server, finish
from tests.broker.conftest import Device, device, serve_mqtt
from tests.mqtt_broker import Mosquitto

pytestmark = pytest.mark.slow  # end to end: Mosquitto, fleetsim serve --mqtt, devices

ACCOUNT = "arn:aws:iot:us-east-1:123456789012"
BOTH = ("JOB", "JOB_EXECUTION")


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mosquitto, Server]]:
    with Mosquitto(tmp_path_factory.mktemp("broker")) as broker:
        server = serve_mqtt("--mqtt", broker.uri)
        yield broker, server
        finish(server)


def _configure(server: Server, enabled: bool) -> None:
    server.client("iot").update_event_configurations(
        eventConfigurations={kind: {"Enabled": enabled} for kind in BOTH}
    )


def _job(server: Server, job_id: str, *things: str) -> None:
    iot = server.client("iot")
    arns = [iot.create_thing(thingName=thing)["thingArn"] for thing in things]
    iot.create_job(jobId=job_id, targets=arns, document='{"operation":"install"}')


def _gone(server: Server, job_id: str) -> None:
    """Wait until DeleteJob's deletion is over (the job no longer exists)."""
    iot = server.client("iot")
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        try:
            iot.describe_job(jobId=job_id)
        except ClientError as error:
            assert error.response["Error"]["Code"] == "ResourceNotFoundException"
            return
        time.sleep(0.05)  # polling for a state the emulator reaches on its own timer
    raise AssertionError(f"{job_id} still exists")


def _barrier(server: Server, ops: Device, thing: str) -> None:
    """A jobs/get round trip through the emulator on its one broker connection: anything it
    published before answering reaches ``ops`` before the answer does."""
    token = uuid.uuid4().hex
    ops.subscribe(f"$aws/things/{thing}/jobs/get/accepted")
    ops.publish(f"$aws/things/{thing}/jobs/get", {"clientToken": token})
    assert ops.expect(f"$aws/things/{thing}/jobs/get/accepted")["clientToken"] == token


def _device_runs(car: Device, thing: str, job_id: str) -> None:
    car.publish(f"$aws/things/{thing}/jobs/start-next", {"clientToken": "s"})
    started = car.expect(f"$aws/things/{thing}/jobs/start-next/accepted")
    assert started["execution"]["jobId"] == job_id
    car.publish(
        f"$aws/things/{thing}/jobs/{job_id}/update",
        {"status": "SUCCEEDED", "statusDetails": {"step": "done"}, "clientToken": "u"},
    )
    car.expect(f"$aws/things/{thing}/jobs/{job_id}/update/accepted")


def _common(body: dict[str, Any], kind: str, operation: str, job_id: str, start: float) -> None:
    assert body["eventType"] == kind
    assert body["operation"] == operation
    assert body["jobId"] == job_id
    assert isinstance(body["timestamp"], int)
    assert int(start) <= body["timestamp"] <= time.time() + 1
    uuid.UUID(body["eventId"])


def test_enabled_events_follow_a_rollout(shared: tuple[Mosquitto, Server]) -> None:
    broker, server = shared
    _configure(server, True)
    iot, data = server.client("iot"), server.client("iot-jobs-data")
    start = time.time()
    with device(broker.port, "ops-1") as ops, device(broker.port, "ev-car-1") as car:
        ops.subscribe("$aws/events/#")
        car.subscribe("$aws/things/ev-car-1/jobs/#")

        _job(server, "ev-done", "ev-car-1")
        _device_runs(car, "ev-car-1", "ev-done")
        succeeded = ops.expect("$aws/events/jobExecution/ev-done/succeeded")
        _common(succeeded, "JOB_EXECUTION", "succeeded", "ev-done", start)
        assert succeeded["thingArn"] == f"{ACCOUNT}:thing/ev-car-1"
        assert (succeeded["status"], succeeded["statusDetails"]) == ("SUCCEEDED", {"step": "done"})
        completed = ops.expect("$aws/events/job/ev-done/completed")
        _common(completed, "JOB", "completed", "ev-done", start)
        assert completed["status"] == "COMPLETED"
        assert completed["targets"] == [f"{ACCOUNT}:thing/ev-car-1"]
        assert completed["jobProcessDetails"]["numberOfSucceededThings"] == 1
        assert completed["completedAt"] >= completed["createdAt"]  # epoch ms [AD:events-jobs]

        _job(server, "ev-fail", "ev-car-2", "ev-car-3")
        data.update_job_execution(jobId="ev-fail", thingName="ev-car-2", status="FAILED")
        failed = ops.expect("$aws/events/jobExecution/ev-fail/failed")
        assert (failed["status"], failed["thingArn"]) == ("FAILED", f"{ACCOUNT}:thing/ev-car-2")
        iot.delete_job_execution(jobId="ev-fail", thingName="ev-car-2", executionNumber=1)
        deleted = ops.expect("$aws/events/jobExecution/ev-fail/deleted")
        _common(deleted, "JOB_EXECUTION", "deleted", "ev-fail", start)

        iot.cancel_job(jobId="ev-fail", comment="enough")
        starting = ops.expect("$aws/events/job/ev-fail/cancellation_in_progress")
        assert (starting["status"], starting["comment"]) == ("CANCELLATION_IN_PROGRESS", "enough")
        canceled = ops.expect("$aws/events/jobExecution/ev-fail/canceled")
        assert canceled["thingArn"] == f"{ACCOUNT}:thing/ev-car-3"
        done = ops.expect("$aws/events/job/ev-fail/canceled")
        assert (done["status"], done["targetSelection"]) == ("CANCELED", "SNAPSHOT")

        iot.delete_job(jobId="ev-done")
        assert ops.expect("$aws/events/job/ev-done/deletion_in_progress")["status"] == (
            "DELETION_IN_PROGRESS"
        )
        deleted_job = ops.expect("$aws/events/job/ev-done/deleted")
        _common(deleted_job, "JOB", "deleted", "ev-done", start)
        assert deleted_job["status"] == "DELETED"

        _barrier(server, ops, "ev-car-1")
        assert ops.topics() == []  # nothing more than the events above
    ids = {
        body["eventId"]
        for body in (succeeded, completed, failed, deleted, starting, canceled, done, deleted_job)
    }
    assert len(ids) == 8


def test_disabled_events_are_not_published(shared: tuple[Mosquitto, Server]) -> None:
    broker, server = shared
    _configure(server, False)
    iot, data = server.client("iot"), server.client("iot-jobs-data")
    with device(broker.port, "ops-2") as ops:
        ops.subscribe("$aws/events/#")
        _job(server, "off-done", "off-car-1")
        data.update_job_execution(jobId="off-done", thingName="off-car-1", status="SUCCEEDED")
        _job(server, "off-cancel", "off-car-2")
        iot.cancel_job(jobId="off-cancel")
        iot.delete_job(jobId="off-done")
        _gone(server, "off-done")
        _barrier(server, ops, "off-car-1")
        assert [t for t in ops.topics() if t.startswith("$aws/events/")] == []
