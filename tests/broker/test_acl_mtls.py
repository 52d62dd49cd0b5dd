"""Mutual TLS and the per-thing ACL of ``fleetsim broker-config --tls``, against Mosquitto.

The broker takes each client's identity from its certificate (CN = thing name), so a device can
only use ``$aws/things/<its own name>/...``; the emulator's identity may use all of ``$aws/#``.
Devices speak MQTT 5 so that the broker's refusal is visible: PUBACK/SUBACK reason code 0x87
("Not authorized").
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from paho.mqtt.reasoncodes import ReasonCode

from tests.api.conftest import Server, finish
from tests.broker.conftest import (
    ConfiguredBroker,
    broker_config,
    connect_device,
    device,
    launch_serve,
    serve_mqtt,
)
from tests.mqtt_broker import free_port

pytestmark = pytest.mark.slow  # end to end: Mosquitto, fleetsim serve --mqtt, devices

NOT_AUTHORIZED = 0x87


@dataclass
class Site:
    pki: Path
    port: int
    emulator: Server

    def tls(self, name: str) -> tuple[Path, Path, Path]:
        return (
            self.pki / "ca.pem",
            self.pki / "clients" / f"{name}.pem",
            self.pki / "clients" / f"{name}.key",
        )

    def emulator_args(self, identity: str = "fleetsim-emulator") -> list[str]:
        ca, cert, key = self.tls(identity)
        return [
            "--mqtt",
            f"mqtts://127.0.0.1:{self.port}",
            "--mqtt-ca",
            str(ca),
            "--mqtt-cert",
            str(cert),
            "--mqtt-key",
            str(key),
        ]


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Site]:
    """One broker and emulator for the module: no test changes what another one reads."""
    port = free_port()
    pki = tmp_path_factory.mktemp("acl") / "pki"
    written = broker_config(
        "--out",
        str(pki),
        "--tls",
        "--port",
        str(port),
        "--devices",
        "2",
        "--name-format",
        "thing-{index}",
    )
    assert written.returncode == 0, written.stderr
    with ConfiguredBroker(pki / "mosquitto.conf", port):
        site = Site(pki, port, None)  # type: ignore[arg-type]
        site.emulator = serve_mqtt(*site.emulator_args())
        iot = site.emulator.client("iot")
        for name in ("thing-0", "thing-1"):
            iot.create_thing(thingName=name)
        yield site
        finish(site.emulator)


def _code(ack: ReasonCode | int) -> int:
    return ack.value if isinstance(ack, ReasonCode) else int(ack)


def test_a_device_cannot_use_another_things_topics(site: Site) -> None:
    with (
        device(site.port, "thing-0", tls=site.tls("thing-0")) as a,
        device(site.port, "thing-1", tls=site.tls("thing-1")) as b,
    ):
        b.subscribe("$aws/things/thing-1/jobs/#")
        a.subscribe("$aws/things/thing-0/jobs/#")

        # A publishes a request on B's topic: the broker refuses it.
        refused = a.publish("$aws/things/thing-1/jobs/start-next", {"clientToken": "steal"})
        assert _code(refused) == NOT_AUTHORIZED, refused
        # B's own request, sent after the refusal came back, is a barrier: had the broker passed
        # A's request on, the emulator would have answered it first (one connection, in order).
        b.publish("$aws/things/thing-1/jobs/get", {"clientToken": "b"})
        assert b.expect("$aws/things/thing-1/jobs/get/accepted")["clientToken"] == "b"
        assert b.topics() == ["$aws/things/thing-1/jobs/get"], b.topics()  # its own, echoed
        assert site.emulator.alive()

        # Mosquitto 2.0 grants A a subscription to B's topics but delivers none of them.
        a.subscribe("$aws/things/thing-1/jobs/#")
        b.publish("$aws/things/thing-1/jobs/get", {"clientToken": "b2"})
        assert b.expect("$aws/things/thing-1/jobs/get/accepted")["clientToken"] == "b2"

        # A's own topics work, through the emulator. The round trip is also a barrier for A:
        # B's request and its answer went to every subscriber before A's request reached the
        # broker, so any of them leaked to A would be in before A's answer.
        assert _code(a.publish("$aws/things/thing-0/jobs/start-next", {"clientToken": "own"})) == 0
        reply = a.expect("$aws/things/thing-0/jobs/start-next/accepted")
        assert reply["clientToken"] == "own"
        assert [t for t in a.topics() if "thing-1" in t] == [], a.topics()


def test_the_emulator_identity_may_use_every_thing(site: Site) -> None:
    with device(site.port, "observer", tls=site.tls("fleetsim-emulator")) as emulator_like:
        emulator_like.subscribe("$aws/things/+/jobs/notify-next")
        assert _code(emulator_like.publish("$aws/things/thing-1/jobs/get", {})) == 0
        assert _code(emulator_like.publish("$aws/things/anything/shadow/get", {})) == 0


def test_clients_without_a_certificate_are_refused(site: Site) -> None:
    with pytest.raises((AssertionError, OSError)):
        client = connect_device(site.port, "no-cert")  # plain TCP to a TLS listener
        client.client.loop_stop()
    ca, _, _ = site.tls("thing-0")
    with pytest.raises((AssertionError, OSError)):
        import paho.mqtt.client as mqtt  # noqa: PLC0415

        bare = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="anon", protocol=mqtt.MQTTv5)
        bare.tls_set(str(ca))
        bare.connect("127.0.0.1", site.port, keepalive=10)
        for _ in range(50):
            bare.loop(0.1)
        assert bare.is_connected(), "refused"


def _refused(args: list[str]) -> str:
    server = launch_serve(*args)  # the HTTP line comes first
    code = server.process.wait(timeout=60)
    log = server.stderr()
    server.stderr_path.unlink(missing_ok=True)
    assert code == 2, log
    assert "Traceback" not in log, log
    return log.strip().splitlines()[-1]


def test_serve_without_a_client_certificate_is_refused_in_one_line(site: Site) -> None:
    args = site.emulator_args()
    line = _refused(args[: args.index("--mqtt-cert")])
    assert line.startswith("fleetsim serve: error: mqtt: TLS handshake failed"), line


def test_serve_not_trusting_the_broker_is_refused_in_one_line(site: Site) -> None:
    args = site.emulator_args()
    del args[args.index("--mqtt-ca") : args.index("--mqtt-ca") + 2]  # system CAs only
    line = _refused(args)
    assert "the broker's certificate was rejected" in line, line
