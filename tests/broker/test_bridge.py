"""``fleetsim serve --mqtt`` against a real Mosquitto: MQTT and HTTP see one state, malformed
requests are rejected without harm, the bridge never answers itself, several connections share
the request topics, and a broker killed with SIGKILL is reconnected to."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from tests.api.conftest import Server, finish
from tests.broker.conftest import (
    CONNECTED,
    Device,
    device,
    launch_serve,
    read_line,
    serve_mqtt,
)
from tests.mqtt_broker import Mosquitto, free_port

pytestmark = pytest.mark.slow  # end to end: Mosquitto, fleetsim serve --mqtt, devices


@pytest.fixture(scope="module")
def shared(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Mosquitto, Server]]:
    """A broker and ``fleetsim serve --mqtt`` for the tests that leave both as they found them
    (each uses its own things); stopped and checked (exit 0) at the end."""
    with Mosquitto(tmp_path_factory.mktemp("broker")) as broker:
        server = serve_mqtt("--mqtt", broker.uri)
        yield broker, server
        finish(server)


def _barrier(car: Device, prefix: str, token: str) -> None:
    """A jobs/get round trip through the emulator, instead of waiting to see that nothing came.

    Whatever the broker delivered to the emulator before this request, and whatever the emulator
    published because of it, reaches ``car`` before the answer (one connection each way, MQTT
    keeps the order): once the answer is in, a stray message would be too. ``car`` subscribes
    to ``prefix/#``, so its request comes back to it as well; both are taken off its record.
    """
    car.publish(f"{prefix}/jobs/get", {"clientToken": token})
    car.expect(f"{prefix}/jobs/get")
    assert car.expect(f"{prefix}/jobs/get/accepted")["clientToken"] == token


def _job_for(server: Server, thing: str, job_id: str, document: str = '{"op":"x"}') -> None:
    iot = server.client("iot")
    arn = iot.create_thing(thingName=thing)["thingArn"]
    iot.create_job(jobId=job_id, targets=[arn], document=document)


def test_jobs_over_mqtt_share_state_with_http(shared: tuple[Mosquitto, Server]) -> None:
    broker, emulator = shared
    with device(broker.port, "car-1") as car:
        car.subscribe("$aws/things/car-1/jobs/#")
        _job_for(emulator, "car-1", "job-1", '{"operation":"install","n":1}')
        note = car.expect("$aws/things/car-1/jobs/notify-next")
        assert note["execution"]["jobId"] == "job-1"
        assert note["execution"]["jobDocument"] == {"operation": "install", "n": 1}  # an object

        car.publish("$aws/things/car-1/jobs/start-next", {"clientToken": "tok-1"})
        started = car.expect("$aws/things/car-1/jobs/start-next/accepted")
        assert started["clientToken"] == "tok-1"
        assert started["execution"]["status"] == "IN_PROGRESS"

        car.publish(
            "$aws/things/car-1/jobs/job-1/update",
            {"status": "SUCCEEDED", "clientToken": "tok-2", "includeJobExecutionState": True},
        )
        updated = car.expect("$aws/things/car-1/jobs/job-1/update/accepted")
        assert updated["clientToken"] == "tok-2"
        assert updated["executionState"]["status"] == "SUCCEEDED"
        emptied = car.expect("$aws/things/car-1/jobs/notify-next")
        assert "execution" not in emptied  # the queue is empty now: just a timestamp
        assert isinstance(emptied["timestamp"], int)

        jobs_data = emulator.client("iot-jobs-data")
        execution = jobs_data.describe_job_execution(jobId="job-1", thingName="car-1")
        assert execution["execution"]["status"] == "SUCCEEDED"

        # A rejected update carries the reference's code and, for a bad transition,
        # executionState.
        car.publish("$aws/things/car-1/jobs/job-1/update", {"status": "IN_PROGRESS"})
        rejected = car.expect("$aws/things/car-1/jobs/job-1/update/rejected")
        assert rejected["code"] == "InvalidStateTransition"
        assert rejected["executionState"]["status"] == "SUCCEEDED"


def test_shadow_changes_over_http_reach_mqtt_subscribers(shared: tuple[Mosquitto, Server]) -> None:
    broker, emulator = shared
    iot_data = emulator.client("iot-data")
    emulator.client("iot").create_thing(thingName="car-2")
    with device(broker.port, "car-2") as car:
        car.subscribe("$aws/things/car-2/shadow/name/$package/#")
        iot_data.update_thing_shadow(
            thingName="car-2",
            shadowName="$package",
            payload=b'{"state":{"desired":{"app":{"version":"2.0"}}}}',
        )
        accepted = car.expect("$aws/things/car-2/shadow/name/$package/update/accepted")
        assert accepted["state"]["desired"] == {"app": {"version": "2.0"}}
        delta = car.expect("$aws/things/car-2/shadow/name/$package/update/delta")
        assert delta["state"] == {"app": {"version": "2.0"}}
        documents = car.expect("$aws/things/car-2/shadow/name/$package/update/documents")
        assert documents["current"]["version"] == 1

        car.publish("$aws/things/car-2/shadow/name/$package/get", {"clientToken": "g"})
        got = car.expect("$aws/things/car-2/shadow/name/$package/get/accepted")
        assert got["clientToken"] == "g"
        assert got["version"] == 1

        car.publish("$aws/things/car-2/shadow/name/$package/delete", b"")
        car.expect("$aws/things/car-2/shadow/name/$package/delete/accepted")
        car.publish("$aws/things/car-2/shadow/name/$package/get", {"clientToken": "h"})
        missing = car.expect("$aws/things/car-2/shadow/name/$package/get/rejected")
        assert missing["code"] == 404
        assert missing["clientToken"] == "h"


MALFORMED: list[tuple[str, bytes, str]] = [
    ("jobs/start-next", b"{not json", "InvalidJson"),
    ("jobs/start-next", b"\xff\xfe\x00", "InvalidJson"),
    ("jobs/start-next", b"[1, 2]", "InvalidRequest"),
    ("jobs/get", b'"just a string"', "InvalidRequest"),
    ("jobs/job-x/update", b"", "InvalidRequest"),
    ("jobs/job-x/update", b'{"status": 5}', "InvalidRequest"),
    ("jobs/job-x/update", b'{"status": "SUCCEEDED", "expectedVersion": "one"}', "InvalidRequest"),
    ("shadow/update", b"{not json", "400"),
    ("shadow/update", b'{"state": 3}', "400"),
    ("shadow/name/$package/update", b"\xc3\x28", "415"),
    ("shadow/name/$package/update", b"{}" + b" " * 20000, "400"),
]


def test_malformed_payloads_are_rejected_and_the_bridge_keeps_serving(
    shared: tuple[Mosquitto, Server],
) -> None:
    broker, emulator = shared
    emulator.client("iot").create_thing(thingName="car-3")
    with device(broker.port, "car-3") as car:
        car.subscribe("$aws/things/car-3/#")
        for suffix, payload, code in MALFORMED:
            car.publish(f"$aws/things/car-3/{suffix}", payload)
            rejected = car.expect(f"$aws/things/car-3/{suffix}/rejected")
            assert str(rejected["code"]) == code, (suffix, payload, rejected)
            assert rejected["message"]
        # Still serving, and with the right answers.
        car.publish("$aws/things/car-3/jobs/get", {"clientToken": "after"})
        answer = car.expect("$aws/things/car-3/jobs/get/accepted")
        assert answer["clientToken"] == "after"
        assert answer["queuedJobs"] == [] and answer["inProgressJobs"] == []
    assert "Traceback" not in emulator.stderr(), emulator.stderr()


def test_the_bridge_never_answers_its_own_publications(shared: tuple[Mosquitto, Server]) -> None:
    broker, emulator = shared
    prefix = "$aws/things/car-4"
    # Reply and broadcast topics, whoever publishes them, are not requests.
    not_requests = [
        "jobs/get/accepted",
        "jobs/start-next/rejected",
        "jobs/notify-next",
        "jobs/job-1/update/accepted",
        "shadow/update/accepted",
        "shadow/update/delta",
        "shadow/name/$package/update/documents",
    ]
    emulator.client("iot").create_thing(thingName="car-4")
    with device(broker.port, "car-4") as car:
        car.subscribe(f"{prefix}/#")
        for topic in not_requests:
            car.publish(f"{prefix}/{topic}", {"clientToken": "echo?"})
            car.expect(f"{prefix}/{topic}")  # the device's own publication, back through #
        _barrier(car, prefix, "after the echoes")
        assert car.topics() == []  # and nothing from the emulator
        # A real request: its reply and broadcast, once each, and no loop.
        car.publish(f"{prefix}/shadow/update", {"state": {"reported": {"on": True}}})
        for topic in ("shadow/update", "shadow/update/accepted", "shadow/update/documents"):
            car.expect(f"{prefix}/{topic}")
        # The emulator heard its own reply and broadcast (if at all) before this request.
        _barrier(car, prefix, "after the update")
        assert car.topics() == []


def test_several_connections_share_the_request_topics(broker: Mosquitto) -> None:
    server = serve_mqtt("--mqtt", broker.uri, "--mqtt-connections", "3", "--auth", "none")
    try:
        _job_for(server, "car-5", "job-5")
        with device(broker.port, "car-5") as car:
            car.subscribe("$aws/things/car-5/#")
            for topic, body in (
                ("jobs/start-next", {"clientToken": "a"}),
                ("jobs/job-5/get", {"clientToken": "b"}),
                ("jobs/get", {"clientToken": "c"}),
                ("jobs/job-5/update", {"status": "SUCCEEDED", "clientToken": "d"}),
                ("shadow/update", {"state": {"reported": {"x": 1}}, "clientToken": "e"}),
                ("shadow/get", {"clientToken": "f"}),
                ("shadow/name/s1/update", {"state": {"reported": {"x": 1}}, "clientToken": "g"}),
                ("shadow/name/s1/get", {"clientToken": "h"}),
                ("shadow/name/s1/delete", {"clientToken": "i"}),
                ("shadow/delete", {"clientToken": "j"}),
            ):
                car.publish(f"$aws/things/car-5/{topic}", body)
                reply = car.expect(f"$aws/things/car-5/{topic}/accepted")
                assert reply["clientToken"] == body["clientToken"], topic
            # A second connection serving a request again would answer it about when the first
            # did: by the end of another round trip the repeats would be in.
            _barrier(car, "$aws/things/car-5", "barrier")
            # Each request was answered once: no second connection served it again.
            assert not [t for t in car.topics() if t.endswith("/accepted")], car.topics()
    finally:
        finish(server)


def _answered(port: int, thing: str, timeout: float) -> bool:
    """Whether a jobs/get request on ``thing`` is answered (retrying) within ``timeout``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with device(port, thing, version=4) as car:
                car.subscribe(f"$aws/things/{thing}/jobs/get/accepted")
                car.publish(f"$aws/things/{thing}/jobs/get", {"clientToken": "r"})
                car.expect(f"$aws/things/{thing}/jobs/get/accepted", timeout=2)
                return True
        except (AssertionError, OSError):
            time.sleep(0.5)
    return False


def _logged(server: Server, text: str, timeout: float = 30.0) -> None:
    """Wait until ``server`` has written ``text`` on stderr."""
    deadline = time.monotonic() + timeout
    while text not in server.stderr():
        assert server.alive(), server.stderr()
        assert time.monotonic() < deadline, f"never logged {text!r}: {server.stderr()}"
        time.sleep(0.05)


def test_broker_killed_and_restarted_on_the_same_port(broker: Mosquitto, emulator: Server) -> None:
    iot = emulator.client("iot")
    assert _answered(broker.port, "car-6", 10)
    broker.kill()  # SIGKILL: no DISCONNECT, every session lost
    iot.create_thing(thingName="made-while-the-broker-is-down")  # HTTP keeps serving
    _logged(emulator, "lost the broker connection")  # restarted once the emulator noticed
    broker.restart()
    assert _answered(broker.port, "car-6", 30), emulator.stderr()
    names = {thing["thingName"] for thing in iot.list_things()["things"]}
    assert "made-while-the-broker-is-down" in names
    assert emulator.alive()


def test_http_serves_while_the_broker_is_not_up_yet(tmp_path: Any) -> None:
    port = free_port()
    server = launch_serve("--mqtt", f"mqtt://127.0.0.1:{port}")  # first line: HTTP is up
    try:
        server.client("iot").create_thing(thingName="early")
        _logged(server, "cannot reach")  # it tried, and keeps trying
        with pytest.raises(TimeoutError):
            read_line(server.process, 0.1)  # not connected: no second line yet
        with Mosquitto(tmp_path / "late", port=port) as late:
            line = read_line(server.process, 30)
            assert line.strip() == f"{CONNECTED}{late.uri}"
            assert _answered(port, "early", 10)
    finally:
        finish(server)


def test_clean_exit_on_sigterm_while_connecting() -> None:
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]
    server = launch_serve("--mqtt", f"mqtt://127.0.0.1:{port}")
    _logged(server, "cannot reach")  # connecting (and retrying) when the signal comes
    finish(server)  # SIGTERM, exit 0
