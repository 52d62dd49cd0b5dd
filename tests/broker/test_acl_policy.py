"""``fleetsim broker-config --acl-from``: the IoT policies in the emulator are what Mosquitto
enforces, end to end.

``broker-config --tls`` -> ``serve --ca-dir`` -> ``fleetsim provision`` (least-privilege policy
on each certificate) and, by boto3, a device whose policy uses ``$aws/things/*`` -> ``broker-
config --acl-from`` (reports the broad policy) -> SIGHUP -> paho devices over mutual TLS.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import orjson
import pytest
from paho.mqtt.reasoncodes import ReasonCode

from simulator.commands.broker_acl import Certificate, Fleet, plan
from simulator.commands.provision import device_policy
from simulator.core.policy import parse_policy
from tests.api.conftest import ROOT
from tests.broker.conftest import broker_config, device
from tests.fleetsim_cli import fleetsim
from tests.staging import staging

NOT_AUTHORIZED = 0x87
ARN = "arn:aws:iot:us-east-1:123456789012"


def _code(ack: ReasonCode | int) -> int:
    return ack.value if isinstance(ack, ReasonCode) else int(ack)


def _policy(*statements: dict[str, str]) -> str:
    return orjson.dumps({"Version": "2012-10-17", "Statement": list(statements)}).decode()


def _wide_device(iot: Any, clients: Path) -> None:
    """Thing wide-1 with a certificate whose policy uses ``$aws/things/*`` (too broad), and
    iot:Receive from a policy on a parent group of a group the thing is in."""
    iot.create_thing(thingName="wide-1")
    cert = iot.create_keys_and_certificate(setAsActive=True)
    (clients / "wide-1.pem").write_text(cert["certificatePem"])
    (clients / "wide-1.key").write_text(cert["keyPair"]["PrivateKey"])
    iot.create_policy(policyName="too-broad", policyDocument=_policy(
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{ARN}:client/${{iot:ClientId}}"},
        {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"{ARN}:topic/$aws/things/*"},
        {"Effect": "Allow", "Action": "iot:Subscribe", "Resource": f"{ARN}:topicfilter/*"},
    ))  # fmt: skip
    iot.attach_policy(policyName="too-broad", target=cert["certificateArn"])
    iot.attach_thing_principal(thingName="wide-1", principal=cert["certificateArn"])
    iot.create_thing_group(thingGroupName="receivers")
    iot.create_thing_group(thingGroupName="inner", parentGroupName="receivers")
    iot.add_thing_to_thing_group(thingGroupName="inner", thingName="wide-1")
    own = f"{ARN}:topic/$aws/things/${{iot:Connection.Thing.ThingName}}/*"
    iot.create_policy(
        policyName="group-receive",
        policyDocument=_policy({"Effect": "Allow", "Action": "iot:Receive", "Resource": own}),
    )
    group_arn = iot.describe_thing_group(thingGroupName="receivers")["thingGroupArn"]
    iot.attach_policy(policyName="group-receive", target=group_arn)


@pytest.mark.slow
def test_policies_become_the_broker_acl_and_a_broad_policy_is_reported(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    with staging(tmp_path) as staged:
        done = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "provision", "--target", staged.server.url,
             "--devices", "2", "--prefix", "car-", "--cert-dir", str(certs), "--quiet"],
            cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert done.returncode == 0, done.stderr
        _wide_device(staged.server.client("iot"), certs / "clients")

        args = ("--out", str(staged.pki), "--tls", "--port", str(staged.port),
                "--acl-from", staged.server.url)  # fmt: skip
        strict = fleetsim("broker-config", *args, "--strict")  # in process: faster
        assert strict.returncode == 1, strict.stderr
        written = broker_config(*args)
        assert written.returncode == 0, written.stderr
        assert "3 certificates" in written.stdout and "IoT policies" in written.stdout
        warnings = [line for line in written.stderr.splitlines() if "warning" in line]
        assert len(warnings) == 1, written.stderr
        assert "policy too-broad lets 1 device(s) use another thing's topics" in warnings[0]
        assert "thing wide-1 may publish to $aws/things/car-00000" in warnings[0]
        acl = (staged.pki / "acl").read_text()
        assert "topic readwrite $aws/things/car-000000/+/#" in acl
        assert "topic write $aws/things/+/#" in acl  # the broad device, and through its group:
        assert "topic read $aws/things/wide-1/+/#" in acl
        assert staged.broker.process is not None
        staged.broker.process.send_signal(signal.SIGHUP)

        def tls(name: str) -> tuple[Path, Path, Path]:
            clients = certs / "clients"
            return certs / "ca.pem", clients / f"{name}.pem", clients / f"{name}.key"

        # Mosquitto rereads its ACL on SIGHUP in its event loop: car-000000's own publish is
        # refused until then, so it is retried (a poll, not a wait for something to not happen).
        with (
            device(staged.port, "car-000000", tls=tls("car-000000")) as car,
            device(staged.port, "wide-1", tls=tls("wide-1")) as wide,
        ):
            car.subscribe("$aws/things/car-000000/#")
            car.subscribe("$aws/things/car-000001/#")  # granted by Mosquitto, delivers nothing
            deadline = time.monotonic() + 10
            while _code(car.publish("$aws/things/car-000000/jobs/get", {"clientToken": "own"})):
                assert time.monotonic() < deadline, "the new ACL was not loaded"
            assert car.expect("$aws/things/car-000000/jobs/get/accepted")["clientToken"] == "own"
            other = car.publish("$aws/things/car-000001/jobs/get", {"clientToken": "x"})
            assert _code(other) == NOT_AUTHORIZED

            # The broad policy lets wide-1 publish to any thing's topics: the broker agrees.
            probe = wide.publish("$aws/things/car-000001/custom/probe", {"probe": 1})
            assert _code(probe) == 0
            marker = wide.publish("$aws/things/car-000000/custom/marker", {"marker": 1})
            assert _code(marker) == 0
            # Same publisher, same broker: had the probe been delivered, it came first.
            car.expect("$aws/things/car-000000/custom/marker")
            assert [t for t in car.topics() if "car-000001" in t] == []
            # wide-1 receives its own replies through the group's policy.
            wide.subscribe("$aws/things/wide-1/jobs/#")
            assert _code(wide.publish("$aws/things/wide-1/jobs/get", {"clientToken": "w"})) == 0
            assert wide.expect("$aws/things/wide-1/jobs/get/accepted")["clientToken"] == "w"


def test_plan_combines_certificate_and_group_policies_per_thing() -> None:
    cert = "arn:aws:iot:us-east-1:123456789012:cert/"
    group = "arn:aws:iot:us-east-1:123456789012:thinggroup/g"
    me = "${iot:Connection.Thing.ThingName}"
    policies = {
        "dev": parse_policy("dev", device_policy("us-east-1", "123456789012")),
        "extra": parse_policy(
            "extra",
            _policy(
                {"Effect": "Allow", "Action": "iot:Publish", "Resource": f"{ARN}:topic/x/{me}"}
            ),
        ),
        "mute": parse_policy(
            "mute",
            _policy({"Effect": "Allow", "Action": "iot:Publish", "Resource": f"{ARN}:topic/*"}),
        ),
    }
    fleet = Fleet(
        certificates=(
            Certificate(cert + "1", "id-1", ("t1",)),
            Certificate(cert + "2", "id-2", ("t2", "t3")),  # two things: the union
            Certificate(cert + "3", "id-3", ("t4",)),  # no policy at all
            Certificate(cert + "4", "id-4", ("t5",)),  # a policy without iot:Connect
        ),
        policies=policies,
        targets={
            cert + "1": ("dev",),
            cert + "2": ("dev",),
            group: ("extra",),
            cert + "4": ("mute",),
        },
        groups={"t1": (group,)},
    )
    result = plan(fleet)
    users = {u.identity: u for u in result.users}
    assert users["id-1"].write == ("$aws/things/t1/+/#", "x/t1")
    assert users["id-1"].read == ("$aws/things/t1/+/#",)
    assert users["id-2"].write == ("$aws/things/t2/+/#", "$aws/things/t3/+/#")
    assert users["id-3"].write == users["id-4"].write == ()
    assert users["id-1"].comment == "things t1; policies dev extra"
    assert (result.without_policy, result.without_connect, result.reaches) == (1, 1, ())
    assert any("several things" in note for note in result.notes)
    fixed = plan(fleet, "things")
    assert fixed.users[1].write == ("$aws/things/t2/#", "$aws/things/t3/#")
