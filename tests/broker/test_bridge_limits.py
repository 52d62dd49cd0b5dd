"""Issue 12's small limits over a real Mosquitto and ``fleetsim serve --mqtt``: a Jobs
``clientToken`` over 64 bytes and a NUL inside a shadow key get an AWS-shaped ``/rejected``."""

from __future__ import annotations

import pytest

from tests.api.conftest import Server
from tests.broker.conftest import device
from tests.mqtt_broker import Mosquitto

pytestmark = pytest.mark.slow  # end to end: Mosquitto, fleetsim serve --mqtt, devices


def test_jobs_client_token_over_64_bytes_is_rejected(broker: Mosquitto, emulator: Server) -> None:
    iot = emulator.client("iot")
    arn = iot.create_thing(thingName="car-9")["thingArn"]
    iot.create_job(jobId="job-9", targets=[arn], document='{"op":"x"}')
    prefix = "$aws/things/car-9/jobs"
    with device(broker.port, "car-9") as car:
        car.subscribe(f"{prefix}/+/rejected")
        car.subscribe(f"{prefix}/+/accepted")
        car.subscribe(f"{prefix}/+/+/rejected")
        for topic, token in (
            (f"{prefix}/get", "t" * 1_000_000),
            (f"{prefix}/start-next", "é" * 33),
            (f"{prefix}/job-9/update", "x" * 65),
        ):
            car.publish(topic, {"clientToken": token, "status": "IN_PROGRESS"})
            rejected = car.expect(f"{topic}/rejected")
            assert rejected.pop("timestamp") > 0
            assert rejected == {
                "code": "InvalidRequest",
                "message": "clientToken must be at most 64 bytes",
            }
        # Nothing was served: the execution is still QUEUED, and 64 bytes are echoed.
        car.publish(f"{prefix}/get", {"clientToken": "k" * 64})
        pending = car.expect(f"{prefix}/get/accepted")
        assert pending["clientToken"] == "k" * 64
        assert [j["jobId"] for j in pending["queuedJobs"]] == ["job-9"]


def test_shadow_key_with_nul_is_rejected(broker: Mosquitto, emulator: Server) -> None:
    emulator.client("iot").create_thing(thingName="car-8")
    prefix = "$aws/things/car-8/shadow"
    with device(broker.port, "car-8") as car:
        car.subscribe(f"{prefix}/update/rejected")
        car.subscribe(f"{prefix}/get/rejected")
        car.publish(
            f"{prefix}/update", b'{"state": {"reported": {"a\\u0000": 1}}, "clientToken": "n1"}'
        )
        rejected = car.expect(f"{prefix}/update/rejected")
        assert rejected.pop("timestamp") > 0
        assert rejected == {
            "code": 400,
            "message": "State contains an invalid node",
            "clientToken": "n1",
        }
        car.publish(f"{prefix}/get", {"clientToken": "n2"})
        assert car.expect(f"{prefix}/get/rejected")["code"] == 404  # nothing was stored
