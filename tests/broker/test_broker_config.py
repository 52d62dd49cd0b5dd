"""``fleetsim broker-config`` output, certificates, and one-line exits on bad input (also for
``fleetsim serve --mqtt``).

The commands run in this process (:mod:`tests.fleetsim_cli`); the ``slow`` tests run each as the
console process too, for its real exit status and output.
"""

from __future__ import annotations

import dataclasses
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from simulator.commands import serve as serve_command
from simulator.core.errors import UsageError
from simulator.transport.broker import (
    REQUEST_FILTERS,
    BrokerLayout,
    partition_filters,
    write_broker_config,
)
from simulator.transport.broker.mosquitto import UserAcl
from simulator.transport.certs import ProjectCA
from tests.api.conftest import ROOT
from tests.broker.conftest import ConfiguredBroker, broker_config, device, free_port
from tests.fleetsim_cli import fleetsim


def _cn(path: Path) -> str:
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_plain_configuration(tmp_path: Path) -> None:
    out = tmp_path / "plain"
    proc = fleetsim("broker-config", "--out", str(out), "--port", "18883")
    assert proc.returncode == 0, proc.stderr
    conf = (out / "mosquitto.conf").read_text().splitlines()
    for line in (
        "listener 18883 127.0.0.1",
        "persistence false",
        "max_connections -1",
        "max_queued_messages 100000",
        "allow_anonymous true",
        f"acl_file {out.resolve() / 'acl'}",
    ):
        assert line in conf, line
    assert not any(line.startswith(("cafile", "require_certificate")) for line in conf)
    acl = (out / "acl").read_text().splitlines()
    assert "pattern readwrite $aws/things/%u/#" in acl
    assert acl[acl.index("user fleetsim-emulator") + 1] == "topic readwrite $aws/#"
    assert not list(out.glob("*.pem")) and not list(out.glob("*.key"))
    assert f"mosquitto -c {out.resolve() / 'mosquitto.conf'}" in proc.stdout
    assert "--mqtt-username fleetsim-emulator" in proc.stdout


def test_tls_configuration_with_device_certificates(tmp_path: Path) -> None:
    out = tmp_path / "tls"
    proc = fleetsim(
        "broker-config",
        "--out",
        str(out),
        "--tls",
        "--devices",
        "3",
        "--emulator-identity",
        "emu-1",
        "--server-name",
        "broker.test",
        "--server-name",
        "10.1.2.3",
    )
    assert proc.returncode == 0, proc.stderr
    conf = (out / "mosquitto.conf").read_text().splitlines()
    for line in (
        "listener 8883 127.0.0.1",
        "require_certificate true",
        "use_identity_as_username true",
        "allow_anonymous false",
        f"cafile {out.resolve() / 'ca.pem'}",
    ):
        assert line in conf, line
    assert "user emu-1" in (out / "acl").read_text().splitlines()
    clients = out / "clients"
    names = sorted(path.stem for path in clients.glob("*.pem"))
    assert names == ["device-000000", "device-000001", "device-000002", "emu-1"]
    for name in names:
        assert _cn(clients / f"{name}.pem") == name
        assert _mode(clients / f"{name}.key") == 0o600
    assert _mode(out / "ca.key") == 0o600 and _mode(out / "server.key") == 0o600
    server = x509.load_pem_x509_certificate((out / "server.pem").read_bytes())
    sans = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sans.get_values_for_type(x509.DNSName) == ["localhost", "broker.test"]
    assert [str(ip) for ip in sans.get_values_for_type(x509.IPAddress)] == [
        "127.0.0.1",
        "10.1.2.3",
    ]
    assert "--mqtt-cert" in proc.stdout and "3 device certificates" in proc.stdout

    # Idempotent: a second run keeps the CA and the still-valid certificates.
    before = {path.name: path.read_bytes() for path in (out / "ca.pem", clients / "emu-1.pem")}
    again = fleetsim(
        "broker-config",
        "--out",
        str(out),
        "--tls",
        "--devices",
        "4",
        "--emulator-identity",
        "emu-1",
    )
    assert again.returncode == 0, again.stderr
    assert before == {p.name: p.read_bytes() for p in (out / "ca.pem", clients / "emu-1.pem")}
    assert (clients / "device-000003.pem").exists()


def test_a_plain_acl_confines_devices_by_user_name(tmp_path: Path) -> None:
    """Without TLS the ACL matches the user name a device claims (here: its thing name)."""
    port = free_port()
    out = tmp_path / "plain"
    assert fleetsim("broker-config", "--out", str(out), "--port", str(port)).returncode == 0
    with ConfiguredBroker(out / "mosquitto.conf", port):
        with device(port, "c1", username="thing-a") as a:
            # 0x10 "no matching subscribers" is a success: no emulator runs here.
            assert a.publish("$aws/things/thing-a/jobs/get", {}).value < 0x80  # type: ignore[union-attr]
            assert a.publish("$aws/things/thing-b/jobs/get", {}).value == 0x87  # type: ignore[union-attr]
        with device(port, "c2") as anonymous:  # no user name: no $aws topic at all
            assert anonymous.publish("$aws/things/c2/jobs/get", {}).value == 0x87  # type: ignore[union-attr]


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "70000"],
        ["--port", "many"],
        ["--devices", "2"],  # device certificates need --tls
        ["--tls", "--devices", "-1"],
        ["--tls", "--devices", "2", "--name-format", "same"],
        ["--tls", "--devices", "1", "--name-format", "{nope}"],
        ["--tls", "--devices", "1", "--name-format", "bad name {index}"],
        ["--emulator-identity", "has/slash"],
        ["--things-pattern", "$aws/things/#"],  # names no client: would open every thing
        ["--things-pattern", "two words/%u"],
        ["--broker-user", "no-such-account-here"],
        ["--max-queued-messages", "-5"],
        ["--acl-from", "http://127.0.0.1:9"],  # certificates as identities need --tls
        ["--tls", "--acl-from", "embedded"],  # not the URL of a `fleetsim serve`
        [],  # --out is required
    ],
)
def test_bad_input_is_one_line_exit_2(tmp_path: Path, args: list[str]) -> None:
    full = args if args == [] else ["--out", str(tmp_path / "x"), *args]
    proc = fleetsim("broker-config", *full)
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.slow  # end to end: the console process
def test_console_process_writes_a_configuration_and_exits_2_on_bad_input(tmp_path: Path) -> None:
    out = tmp_path / "plain"
    proc = broker_config("--out", str(out), "--port", "18883")
    assert proc.returncode == 0, proc.stderr
    assert f"mosquitto -c {out.resolve() / 'mosquitto.conf'}" in proc.stdout
    assert "listener 18883 127.0.0.1" in (out / "mosquitto.conf").read_text().splitlines()
    proc = broker_config("--out", str(tmp_path / "x"), "--port", "70000")
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_policy_acl_lines_are_written_per_certificate_and_bad_filters_refused(
    tmp_path: Path,
) -> None:
    user = UserAcl(
        "c0ffee",
        write=("$aws/things/t/+/#", "out/x"),
        read=("$aws/things/t/+/#", "in/+"),
        deny=("$aws/things/t/shadow/delete",),
        comment="things t; policies p",
    )
    layout = BrokerLayout(out=tmp_path / "acl", tls=True, user_acls=(user,))
    acl = write_broker_config(layout).acl.read_text().splitlines()
    start = acl.index("user c0ffee")
    assert acl[start - 1] == "# things t; policies p"
    assert acl[start + 1 : start + 5] == [
        "topic deny $aws/things/t/shadow/delete",
        "topic readwrite $aws/things/t/+/#",
        "topic write out/x",
        "topic read in/+",
    ]
    for bad in ("a/b#", "a/#/b", "a b", "x+/y", ""):
        wrong = dataclasses.replace(layout, user_acls=(UserAcl("c0ffee", read=(bad,)),))
        with pytest.raises(UsageError, match="not a valid MQTT topic filter"):
            write_broker_config(wrong)
    with pytest.raises(UsageError, match="needs --tls"):
        write_broker_config(dataclasses.replace(layout, tls=False))


def test_unwritable_output_is_one_line_exit_2(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    proc = fleetsim("broker-config", "--out", str(blocker / "sub"))
    assert proc.returncode == 2, proc
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


def test_project_ca_is_reused_and_refuses_foreign_files(tmp_path: Path) -> None:
    ca = ProjectCA.load_or_create(tmp_path)
    first = ca.issue_client("thing-1")
    again = ProjectCA.load_or_create(tmp_path).issue_client("thing-1")
    assert first == again
    assert (tmp_path / "ca.pem").read_bytes() == ProjectCA.load_or_create(
        tmp_path
    ).cert_path.read_bytes()
    # A certificate from another CA under the same name is replaced, not trusted.
    other = ProjectCA.load_or_create(tmp_path / "other").issue_client("thing-1")
    first.cert.write_bytes(other.cert.read_bytes())
    ca.issue_client("thing-1")
    assert first.cert.read_bytes() != other.cert.read_bytes()
    (tmp_path / "ca.key").write_bytes(b"garbage")
    with pytest.raises(UsageError):
        ProjectCA.load_or_create(tmp_path)
    with pytest.raises(UsageError):
        ca.issue_client("no spaces allowed")


def test_request_filters_are_partitioned_without_overlap() -> None:
    for k in range(1, len(REQUEST_FILTERS) + 1):
        groups = partition_filters(k)
        assert len(groups) == k and all(groups)
        assert sorted(f for group in groups for f in group) == sorted(REQUEST_FILTERS)
    assert partition_filters(2)[0][0].endswith("start-next")
    assert partition_filters(2)[1][0].endswith("+/update")


@pytest.fixture
def serve_never_starts(monkeypatch: pytest.MonkeyPatch) -> None:
    """In-process ``fleetsim serve``: fail the test, rather than serve forever, if it gets past
    checking its options."""

    def started(*args: object) -> None:
        raise AssertionError("fleetsim serve got past checking its options")

    monkeypatch.setattr(serve_command, "_run_loop", started)


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
        env=dict(os.environ, PYTHONUNBUFFERED="1"),
    )


@pytest.mark.parametrize(
    "args",
    [
        ["--mqtt", "http://127.0.0.1:1883"],
        ["--mqtt", "mqtt://127.0.0.1:0"],
        ["--mqtt", "mqtt://127.0.0.1:99999"],
        ["--mqtt", "mqtt://"],
        ["--mqtt", "mqtt://user:pw@host:1883"],
        ["--mqtt", "mqtts://127.0.0.1:8883", "--mqtt-ca", "/no/such/ca.pem"],
        ["--mqtt", "mqtts://127.0.0.1:8883", "--mqtt-cert", "/no/such/cert.pem"],
        ["--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-ca", "/etc/hostname"],
        ["--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-connections", "0"],
        ["--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-connections", "11"],
        ["--mqtt", "mqtt://127.0.0.1:1883", "--mqtt-client-id", ""],
        ["--mqtt-username", "emulator"],  # MQTT options need --mqtt
    ],
)
@pytest.mark.usefixtures("serve_never_starts")
def test_serve_bad_mqtt_options_are_one_line_exit_2(args: list[str]) -> None:
    proc = fleetsim("serve", "--port", "0", *args)
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.slow  # end to end: the console process
def test_serve_bad_mqtt_options_exit_2_from_the_console_process() -> None:
    proc = _serve("--mqtt", "mqtt://127.0.0.1:99999")
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.usefixtures("serve_never_starts")
def test_serve_unreadable_tls_files_are_one_line_exit_2(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.pem"
    bogus.write_text("not a certificate")
    proc = fleetsim("serve", "--port", "0", "--mqtt", "mqtts://127.0.0.1:8883", "--mqtt-ca", bogus)
    assert proc.returncode == 2, proc
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr
    assert "TLS" in proc.stderr
