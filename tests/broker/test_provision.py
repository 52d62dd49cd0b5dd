"""``fleetsim provision`` / ``deprovision`` against a real ``fleetsim serve``, and the whole chain.

The end-to-end test runs the staging path locally with mutual TLS per device:
``broker-config --tls`` -> ``serve --ca-dir`` -> ``provision`` -> ``broker-config --acl-from``
-> Mosquitto -> a device connects with its own provisioned certificate and may use only its own
thing's topics.
"""

from __future__ import annotations

import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from cryptography import x509
from paho.mqtt.reasoncodes import ReasonCode

from simulator.cli import main
from simulator.commands.provision import device_policy
from tests.api.conftest import ROOT, Server, finish
from tests.broker.conftest import (
    device,
    launch_serve,
)
from tests.mqtt_broker import free_port
from tests.staging import staging

NOT_AUTHORIZED = 0x87
MANIFEST = "fleetsim-provision.json"


def fleetsim(*args: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


@pytest.fixture
def emulator() -> Iterator[Server]:
    server = launch_serve()
    yield server
    finish(server)


def _inventory(iot: Any) -> dict[str, Any]:
    certs = iot.list_certificates(pageSize=250)["certificates"]
    return {
        "things": sorted(t["thingName"] for t in iot.list_things(maxResults=250)["things"]),
        "certificates": sorted(c["certificateId"] for c in certs),
        "policies": sorted(p["policyName"] for p in iot.list_policies()["policies"]),
        "groups": sorted(g["groupName"] for g in iot.list_thing_groups()["thingGroups"]),
    }


@pytest.mark.slow
def test_provision_then_deprovision(emulator: Server, tmp_path: Path) -> None:
    iot = emulator.client("iot")
    certs = tmp_path / "certs"
    done = fleetsim(
        "provision", "--target", emulator.url, "--devices", "4", "--prefix", "dev-",
        "--first-index", "10", "--cert-dir", str(certs),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    names = [f"dev-{i:06d}" for i in range(10, 14)]
    assert "provisioned 4 of 4 devices in group dev-fleet" in done.stdout

    inventory = _inventory(iot)
    assert inventory["things"] == names
    assert len(inventory["certificates"]) == 4
    assert inventory["policies"] == ["fleetsim-device-policy"]
    assert inventory["groups"] == ["dev-fleet"]
    members = iot.list_things_in_thing_group(thingGroupName="dev-fleet")["things"]
    assert sorted(members) == names
    document = iot.get_policy(policyName="fleetsim-device-policy")["policyDocument"]
    assert orjson.loads(document) == orjson.loads(device_policy("us-east-1", "123456789012"))
    group_arn = iot.describe_thing_group(thingGroupName="dev-fleet")["thingGroupArn"]
    tags = iot.list_tags_for_resource(resourceArn=group_arn)["tags"]
    assert [t["Key"] for t in tags] == ["fleetsim:provision"]

    manifest = orjson.loads((certs / MANIFEST).read_bytes())
    assert manifest["complete"] is True
    assert sorted(t["name"] for t in manifest["things"]) == names
    assert sorted(c["id"] for c in manifest["certificates"]) == inventory["certificates"]
    for cert in manifest["certificates"]:
        thing = cert["thing"]
        assert iot.list_thing_principals(thingName=thing)["principals"] == [cert["arn"]]
        policies = iot.list_attached_policies(target=cert["arn"])["policies"]
        assert [p["policyName"] for p in policies] == ["fleetsim-device-policy"]
        status = iot.describe_certificate(certificateId=cert["id"])["certificateDescription"]
        pem = (certs / "clients" / f"{thing}.pem").read_text()
        assert status["status"] == "ACTIVE" and status["certificatePem"] == pem
        key = certs / "clients" / f"{thing}.key"
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
    ca = x509.load_pem_x509_certificate((certs / "ca.pem").read_bytes())
    leaf = x509.load_pem_x509_certificate((certs / "clients" / f"{names[0]}.pem").read_bytes())
    leaf.verify_directly_issued_by(ca)

    again = fleetsim("provision", "--target", emulator.url, "--devices", "1", "--prefix", "x-",
                     "--cert-dir", str(certs))  # fmt: skip
    assert again.returncode == 2 and "run `fleetsim deprovision" in again.stderr

    undone = fleetsim("deprovision", "--target", emulator.url, "--cert-dir", str(certs))
    assert undone.returncode == 0, undone.stderr
    assert _inventory(iot) == {"things": [], "certificates": [], "policies": [], "groups": []}
    assert sorted(p.name for p in certs.rglob("*") if p.is_file()) == []
    gone = fleetsim("deprovision", "--target", emulator.url, "--cert-dir", str(certs))
    assert gone.returncode == 2 and "no provision manifest" in gone.stderr


@pytest.mark.slow
def test_existing_resources_are_used_not_removed(emulator: Server, tmp_path: Path) -> None:
    iot = emulator.client("iot")
    iot.create_thing(thingName="device-000001")
    iot.create_thing_group(thingGroupName="fleet")
    done = fleetsim(
        "provision", "--target", emulator.url, "--scenario", "scenarios/quickstart.toml",
        "--devices", "3", "--cert-dir", str(tmp_path / "c"),
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert _inventory(iot)["things"] == ["device-000000", "device-000001", "device-000002"]
    undone = fleetsim("deprovision", "--target", emulator.url, "--cert-dir", str(tmp_path / "c"))
    assert undone.returncode == 0, undone.stderr
    left = _inventory(iot)
    assert left == {"things": ["device-000001"], "certificates": [], "policies": [],
                    "groups": ["fleet"]}  # fmt: skip
    assert iot.list_things_in_thing_group(thingGroupName="fleet")["things"] == []


@pytest.mark.slow
def test_an_interrupted_provision_is_cleaned_up(emulator: Server, tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "provision", "--target", emulator.url,
         "--devices", "300", "--prefix", "cut-", "--cert-dir", str(certs),
         "--rate", "CreateKeysAndCertificate=20"],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    journal = certs / "fleetsim-provision.jsonl"
    deadline = time.monotonic() + 60
    while not (journal.exists() and journal.read_bytes().count(b'"thing-principal"') >= 5):
        assert time.monotonic() < deadline and process.poll() is None, process.communicate()
        time.sleep(0.05)
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, (out, err)
    assert "fleetsim deprovision" in out

    iot = emulator.client("iot")
    manifest = orjson.loads((certs / MANIFEST).read_bytes())
    assert manifest["complete"] is False
    things = _inventory(iot)["things"]
    assert 5 <= len(things) < 300
    assert sorted(t["name"] for t in manifest["things"]) == things  # exactly what exists
    undone = fleetsim("deprovision", "--target", emulator.url, "--cert-dir", str(certs))
    assert undone.returncode == 0, undone.stderr
    assert _inventory(iot) == {"things": [], "certificates": [], "policies": [], "groups": []}


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--target", "http://127.0.0.1:9", "--devices", "2"], "one of the arguments"),
        (["--target", "ftp://x", "--devices", "2", "--prefix", "d-"], "--target 'ftp://x'"),
        (["--target", "embedded", "--devices", "2", "--prefix", "d-"], "--target 'embedded'"),
        (["--target", "http://127.0.0.1:9", "--devices", "0", "--prefix", "d-"], "--devices"),
        (["--target", "http://127.0.0.1:9", "--prefix", "d-"], "--prefix needs --devices"),
        (["--target", "http://127.0.0.1:9", "--devices", "1", "--prefix", "a b"], "'a b000000'"),
        (
            ["--target", "http://127.0.0.1:9", "--devices", "1", "--prefix", "d-", "--rate", "x"],
            "--throttle: rate 'x'",
        ),
        (
            ["--target", "http://127.0.0.1:9", "--devices", "1", "--scenario", "/nonexistent"],
            "cannot read scenario",
        ),
    ],
)
def test_bad_input_is_one_line_and_exit_2(
    args: list[str], fragment: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # In process: every refusal comes before a signal handler, a client or a file.
    try:
        code = main(["provision", "--cert-dir", str(tmp_path / "c"), *args])
    except SystemExit as exit_:  # argparse
        code = int(exit_.code or 0)
    err = capsys.readouterr().err
    assert code == 2, err
    assert err.count("\n") == 1 and fragment in err, err
    assert not (tmp_path / "c").exists()


@pytest.mark.slow
def test_an_unreachable_target_is_one_line_and_leaves_no_manifest(tmp_path: Path) -> None:
    done = fleetsim("provision", "--target", f"http://127.0.0.1:{free_port()}", "--devices",
                    "2", "--prefix", "d-", "--cert-dir", str(tmp_path))  # fmt: skip
    assert done.returncode == 2, done
    assert done.stderr.count("\n") == 1 and "Connection refused" in done.stderr, done.stderr
    assert not (tmp_path / MANIFEST).exists()


@pytest.mark.slow
def test_deprovision_refuses_another_target(emulator: Server, tmp_path: Path) -> None:
    done = fleetsim("provision", "--target", emulator.url, "--devices", "1", "--prefix", "t-",
                    "--cert-dir", str(tmp_path))  # fmt: skip
    assert done.returncode == 0, done.stderr
    other = fleetsim("deprovision", "--target", "http://127.0.0.1:9", "--cert-dir", str(tmp_path))
    assert other.returncode == 2 and "lists resources of --target" in other.stderr
    assert (
        fleetsim("deprovision", "--target", emulator.url, "--cert-dir", str(tmp_path)).returncode
        == 0
    )


# -- end to end: mutual TLS with provisioned certificates ------------------------------------


def _code(ack: ReasonCode | int) -> int:
    return ack.value if isinstance(ack, ReasonCode) else int(ack)


def _tls(certs: Path, name: str) -> tuple[Path, Path, Path]:
    return (certs / "ca.pem", certs / "clients" / f"{name}.pem", certs / "clients" / f"{name}.key")


@pytest.mark.slow
def test_staging_path_with_mutual_tls_per_device(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    with staging(tmp_path) as staged:
        server, port, pki = staged.server, staged.port, staged.pki
        iot = server.client("iot")
        endpoint = iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"]
        assert endpoint == "127.0.0.1"
        done = fleetsim("provision", "--target", server.url, "--devices", "3", "--prefix",
                        "car-", "--cert-dir", str(certs))  # fmt: skip
        assert done.returncode == 0, done.stderr
        assert (certs / "ca.pem").read_bytes() == (pki / "ca.pem").read_bytes()
        assert "3 certificates" in staged.reload_acl()
        assert "topic readwrite $aws/things/car-000000/+/#" in (pki / "acl").read_text()

        with (
            device(port, "car-000000", tls=_tls(certs, "car-000000")) as a,
            device(port, "car-000001", tls=_tls(certs, "car-000001")) as b,
        ):
            a.subscribe("$aws/things/car-000000/jobs/#")
            b.subscribe("$aws/things/car-000001/jobs/#")
            own = a.publish("$aws/things/car-000000/jobs/start-next", {"clientToken": "own"})
            assert _code(own) == 0
            reply = a.expect("$aws/things/car-000000/jobs/start-next/accepted")
            assert reply["clientToken"] == "own"

            refused = a.publish("$aws/things/car-000001/jobs/start-next", {"clientToken": "x"})
            assert _code(refused) == NOT_AUTHORIZED
            a.subscribe("$aws/things/car-000001/jobs/#")  # granted, but nothing delivered
            b.publish("$aws/things/car-000001/jobs/get", {"clientToken": "b"})
            assert b.expect("$aws/things/car-000001/jobs/get/accepted")["clientToken"] == "b"
            time.sleep(0.5)
            assert [t for t in a.topics() if "car-000001" in t] == []

        # Deactivate car-000002's certificate and reload the ACL: its topics are gone.
        manifest = orjson.loads((certs / MANIFEST).read_bytes())
        third = next(c for c in manifest["certificates"] if c["thing"] == "car-000002")
        iot.update_certificate(certificateId=third["id"], newStatus="INACTIVE")
        assert "2 certificates" in staged.reload_acl()
        with device(port, "car-000002", tls=_tls(certs, "car-000002")) as c:
            ack = c.publish("$aws/things/car-000002/jobs/get", {"clientToken": "c"})
            assert _code(ack) == NOT_AUTHORIZED
        undone = fleetsim("deprovision", "--target", server.url, "--cert-dir", str(certs))
        assert undone.returncode == 0, undone.stderr
