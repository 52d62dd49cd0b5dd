"""(d) Mutual TLS with a certificate per device, as ``fleetsim broker-config --tls --devices N``
writes them: the broker takes each device's identity from its certificate (CN = thing name) and
its ACL lets a device use only its own thing's topics; the embedded emulator connects as
``fleetsim-emulator``."""

from __future__ import annotations

import shutil
from pathlib import Path

import orjson
import pytest

from tests.broker.conftest import ConfiguredBroker, broker_config
from tests.fleet_mqtt.support import fleetsim, quick_scenario
from tests.mqtt_broker import TlsFiles, free_port

pytestmark = pytest.mark.slow  # end to end: brokers and fleetsim processes

DEVICES = 40


def test_mutual_tls_with_a_certificate_per_device(tmp_path: Path) -> None:
    port = free_port()
    pki = tmp_path / "pki"
    written = broker_config(
        "--out", str(pki), "--tls", "--port", str(port), "--devices", str(DEVICES)
    )
    assert written.returncode == 0, written.stderr
    scenario = quick_scenario(tmp_path / "scenario", devices=DEVICES)
    uri = f"mqtts://127.0.0.1:{port}"
    with ConfiguredBroker(pki / "mosquitto.conf", port):
        out = tmp_path / "out"
        ran = fleetsim("run", scenario, "--broker", uri, "--cert-dir", pki, "--quiet", "--out", out)
        assert ran.returncode == 0, ran.stderr
        report = orjson.loads((out / "report.json").read_bytes())
        assert report["executions"] == {"SUCCEEDED": DEVICES}
        assert report["shadow"]["consistent"] == DEVICES
        assert report["extra"]["connects"] == DEVICES
        assert report["extra"]["subscribe_failures"] == 0  # the ACL allowed every filter
        # A fleet bigger than the certificates: refused before anything connects.
        bigger = fleetsim(
            "run", scenario, "--broker", uri, "--cert-dir", pki, "--devices", str(DEVICES + 1),
            "--quiet", "--out", tmp_path / "out2",
        )  # fmt: skip
        assert bigger.returncode == 2
        lines = bigger.stderr.strip().splitlines()
        assert len(lines) == 1 and f"device-{DEVICES:06d}" in lines[0], bigger.stderr


def test_devices_the_broker_refuses_fail_the_run(tmp_path: Path) -> None:
    """Device certificates from another CA: every device's handshake fails, the run says so in
    one line (exit 2) instead of retrying until max_duration_s."""
    port = free_port()
    pki = tmp_path / "pki"
    written = broker_config("--out", str(pki), "--tls", "--port", str(port), "--devices", "0")
    assert written.returncode == 0, written.stderr
    foreign = TlsFiles.generate(tmp_path / "foreign")
    for i in range(3):
        cert, key = foreign.issue_client(f"device-{i:06d}")
        shutil.copy(cert, pki / "clients" / cert.name)
        shutil.copy(key, pki / "clients" / key.name)
    scenario = quick_scenario(tmp_path / "scenario", devices=3)
    with ConfiguredBroker(pki / "mosquitto.conf", port):
        ran = fleetsim(
            "run", scenario, "--broker", f"mqtts://127.0.0.1:{port}", "--cert-dir", pki,
            "--quiet", "--out", tmp_path / "out",
        )  # fmt: skip
    assert ran.returncode == 2, ran.stderr
    lines = ran.stderr.strip().splitlines()
    assert "no device could connect" in lines[-1], ran.stderr
