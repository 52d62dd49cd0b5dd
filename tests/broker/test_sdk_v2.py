"""The AWS IoT Device SDK v2 (``awsiotsdk``) against ``fleetsim serve --mqtt`` and Mosquitto.

The SDK's request-response clients (``IotJobsClientV2``, ``IotShadowClientV2``) send a fresh
``clientToken`` with every request and complete a request only with the reply that echoes it, so
these tests also check the emulator's correlation. The device connects with
``awscrt.mqtt.Client(bootstrap, None)`` (plain TCP, MQTT 3.1.1), no metrics in the user name.
Jobs are created and checked with boto3 over HTTP against the same server.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import Any

import orjson
import pytest
from awscrt import io, mqtt, mqtt_request_response
from awsiot import ServiceStreamOptions, iotjobs, iotshadow

from tests.api.conftest import Server
from tests.mqtt_broker import Mosquitto

pytestmark = pytest.mark.slow  # end to end: Mosquitto, fleetsim serve --mqtt, devices

TIMEOUT = 15.0


@pytest.fixture
def sdk_connection(broker: Mosquitto) -> Iterator[Any]:
    def connect(thing: str) -> mqtt.Connection:
        group = io.EventLoopGroup(1)
        bootstrap = io.ClientBootstrap(group, io.DefaultHostResolver(group))
        connection = mqtt.Connection(
            client=mqtt.Client(bootstrap, None),  # None: no TLS
            host_name=broker.host,
            port=broker.port,
            client_id=thing,
            clean_session=True,
            keep_alive_secs=30,
            use_websockets=False,
        )
        connection.connect().result(TIMEOUT)
        opened.append(connection)
        return connection

    opened: list[mqtt.Connection] = []
    yield connect
    for connection in opened:
        connection.disconnect().result(TIMEOUT)


def _rr_options() -> mqtt_request_response.ClientOptions:
    return mqtt_request_response.ClientOptions(
        max_request_response_subscriptions=4,
        max_streaming_subscriptions=2,
        operation_timeout_in_seconds=int(TIMEOUT),
    )


def test_sdk_jobs_client_runs_a_job_end_to_end(sdk_connection: Any, emulator: Server) -> None:
    thing = "sdk-device-1"
    iot = emulator.client("iot")
    arn = iot.create_thing(thingName=thing)["thingArn"]
    jobs = iotjobs.IotJobsClientV2(sdk_connection(thing), _rr_options())

    events: queue.Queue[iotjobs.NextJobExecutionChangedEvent] = queue.Queue()
    subscribed = threading.Event()

    def on_status(event: mqtt_request_response.SubscriptionStatusEvent) -> None:
        if event.type == mqtt_request_response.SubscriptionStatusEventType.SUBSCRIPTION_ESTABLISHED:
            subscribed.set()

    stream = jobs.create_next_job_execution_changed_stream(
        iotjobs.NextJobExecutionChangedSubscriptionRequest(thing_name=thing),
        ServiceStreamOptions(
            incoming_event_listener=events.put, subscription_status_listener=on_status
        ),
    )
    stream.open()
    assert subscribed.wait(TIMEOUT), "notify-next subscription not established"

    document = {"operation": "install", "files": [{"url": "https://example.invalid/a"}]}
    iot.create_job(jobId="sdk-job-1", targets=[arn], document=orjson.dumps(document).decode())

    # notify-next: the new job, with its document as a JSON object.
    event = events.get(timeout=TIMEOUT)
    assert event.execution is not None
    assert event.execution.job_id == "sdk-job-1"
    assert event.execution.job_document == document

    started = jobs.start_next_pending_job_execution(
        iotjobs.StartNextPendingJobExecutionRequest(
            thing_name=thing, status_details={"phase": "downloading"}
        )
    ).result(TIMEOUT)
    assert started.execution is not None
    assert started.execution.job_id == "sdk-job-1"
    assert started.execution.status == iotjobs.JobStatus.IN_PROGRESS
    assert started.execution.status_details == {"phase": "downloading"}
    assert started.execution.job_document == document

    described = jobs.describe_job_execution(
        iotjobs.DescribeJobExecutionRequest(thing_name=thing, job_id="$next")
    ).result(TIMEOUT)
    assert described.execution is not None and described.execution.job_id == "sdk-job-1"

    updated = jobs.update_job_execution(
        iotjobs.UpdateJobExecutionRequest(
            thing_name=thing,
            job_id="sdk-job-1",
            status=iotjobs.JobStatus.SUCCEEDED,
            status_details={"phase": "done"},
            include_job_execution_state=True,
        )
    ).result(TIMEOUT)
    assert updated.execution_state is not None
    assert updated.execution_state.status == iotjobs.JobStatus.SUCCEEDED

    # The queue is empty now: notify-next without an execution.
    emptied = events.get(timeout=TIMEOUT)
    assert emptied.execution is None

    # A request the service refuses completes the SDK's future with the rejected error.
    with pytest.raises(Exception) as refused:
        jobs.update_job_execution(
            iotjobs.UpdateJobExecutionRequest(
                thing_name=thing, job_id="sdk-job-1", status=iotjobs.JobStatus.IN_PROGRESS
            )
        ).result(TIMEOUT)
    modeled = getattr(refused.value, "modeled_error", None)
    assert modeled is not None and modeled.code == "InvalidStateTransition", refused.value

    pending = jobs.get_pending_job_executions(
        iotjobs.GetPendingJobExecutionsRequest(thing_name=thing)
    ).result(TIMEOUT)
    assert pending.in_progress_jobs == [] and pending.queued_jobs == []

    execution = emulator.client("iot-jobs-data").describe_job_execution(
        jobId="sdk-job-1", thingName=thing
    )["execution"]
    assert execution["status"] == "SUCCEEDED"
    assert execution["statusDetails"] == {"phase": "done"}


def test_sdk_shadow_client_updates_and_reads_package_shadow(
    sdk_connection: Any, emulator: Server
) -> None:
    thing = "sdk-device-2"
    emulator.client("iot").create_thing(thingName=thing)
    shadows = iotshadow.IotShadowClientV2(sdk_connection(thing), _rr_options())
    reported = {"firmware": {"version": "1.2.0"}, "agent": {"version": "0.9"}}

    updated = shadows.update_named_shadow(
        iotshadow.UpdateNamedShadowRequest(
            thing_name=thing,
            shadow_name="$package",
            state=iotshadow.ShadowState(reported=reported),
        )
    ).result(TIMEOUT)
    assert updated.state is not None and updated.state.reported == reported
    assert updated.version == 1

    got = shadows.get_named_shadow(
        iotshadow.GetNamedShadowRequest(thing_name=thing, shadow_name="$package")
    ).result(TIMEOUT)
    assert got.state is not None and got.state.reported == reported
    assert got.version == 1

    # boto3 over HTTP sees the same shadow.
    payload = emulator.client("iot-data").get_thing_shadow(thingName=thing, shadowName="$package")
    document = orjson.loads(payload["payload"].read())
    assert document["state"]["reported"] == reported
    assert document["version"] == 1

    # A missing shadow completes the future with the rejected error document.
    with pytest.raises(Exception) as missing:
        shadows.get_named_shadow(
            iotshadow.GetNamedShadowRequest(thing_name=thing, shadow_name="other")
        ).result(TIMEOUT)
    modeled = getattr(missing.value, "modeled_error", None)
    assert modeled is not None and modeled.code == 404, missing.value
