"""Locust load tests for real: Mosquitto, ``fleetsim serve --mqtt`` and Locust in subprocesses.

Each test runs ``scenarios/locust/fleet.py`` headless with ``--stop-when-done`` (the test ends
when the scenario's job is over) and checks Locust's CSV and fleetsim's ``report.json``.
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.api.conftest import Server, finish
from tests.broker.conftest import serve_mqtt
from tests.locust.support import FAST, ROOT, locust_command, run_locust, scenario_with
from tests.mqtt_broker import Mosquitto, free_port
from tests.staging import staging

pytestmark = pytest.mark.slow

MQTT_NAMES = {"start-next", "update IN_PROGRESS", "update SUCCEEDED", "job agent-2 SUCCEEDED"}


@pytest.fixture
def broker(tmp_path: Path) -> Iterator[Mosquitto]:
    with Mosquitto(tmp_path / "broker") as started:
        yield started


def _serve(broker: Mosquitto, *args: str) -> Server:
    # Faster than AWS's 1,000 executions a minute, so that a test's rollout takes seconds.
    return serve_mqtt("--mqtt", broker.uri, "--rollout-rate", "60000", *args)


def _common(broker: Mosquitto, server: Server | None, scenario: Path = FAST) -> list[str]:
    plane = "embedded" if server is None else server.url
    faster = ["--rollout-rate", "60000"] if server is None else []
    return [
        *faster,
        "--scenario",
        str(scenario),
        "--broker",
        broker.uri,
        "--control-plane",
        plane,
        "--stop-when-done",
        "-t",
        "120s",
    ]


def test_devices_and_operator_against_serve(tmp_path: Path, broker: Mosquitto) -> None:
    server = _serve(broker)
    try:
        run = run_locust(tmp_path / "out", "-u", "500", "-r", "500", *_common(broker, server))
    finally:
        finish(server)
    assert run.returncode == 0, run.output[-4000:]
    report = run.report()
    assert report["devices"] == 500
    assert report["executions"] == {"SUCCEEDED": 500}, report["notes"]
    assert report["completion_latency_s"]["count"] == 500
    assert report["shadow"]["checked"] == 500
    assert report["shadow"]["consistent"] == 500
    mqtt = run.rows("MQTT")
    assert mqtt.keys() >= MQTT_NAMES, mqtt.keys()
    assert "shadow update $package" in mqtt  # half the devices report $package themselves
    assert all(row["Failure Count"] == "0" for row in mqtt.values()), mqtt
    assert int(mqtt["update SUCCEEDED"]["Request Count"]) == 500
    assert int(mqtt["job agent-2 SUCCEEDED"]["Request Count"]) == 500
    http = run.rows("HTTP")
    assert {"CreateJob", "DescribeJob", "CreateThing", "ListJobExecutionsForJob"} <= http.keys()
    assert http["CreateJob"]["Request Count"] == "1"


def test_two_processes_share_the_fleet_and_show_manual_overwrites(
    tmp_path: Path, broker: Mosquitto
) -> None:
    scenario = scenario_with(
        tmp_path / "writers.toml",
        at_s="4",
        duration='"uniform(3, 5)"',
        append=(
            '\n[[writers]]\nname = "cmdb-sync"\nrate_per_s = 40.0\n'
            'delay = "uniform(1, 4)"\nuse_version = false\npackages = ["agent"]\n'
        ),
    )
    server = _serve(broker)
    try:
        run = run_locust(
            tmp_path / "out",
            "-u",
            "300",
            "-r",
            "300",
            "--processes",
            "2",
            *_common(broker, server, scenario),
        )
    finally:
        finish(server)
    assert run.returncode == 0, run.output[-4000:]
    report = run.report()
    workers = report["extra"]["workers"]
    assert len(workers) == 2
    assert sum(w["devices"] for w in workers) == 300 == report["devices"]
    # One client id per thing: a duplicate would make the broker drop the older connection.
    assert all(w["drops"] == 0 and w["reconnects"] == 0 for w in workers), workers
    assert sum(w["connects"] for w in workers) == 300
    assert sum(report["executions"].values()) == 300
    assert report["shadow"]["by_cause"].get("manual_overwrite", 0) > 0, report["shadow"]
    assert report["writers"][0]["writes"] > 0
    assert run.rows("HTTP")["UpdateThingShadow"]["Failure Count"] == "0"
    # The same scenario in process shows the same kind of inconsistency.
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "simulator.cli",
            "run",
            str(scenario),
            "--out",
            str(tmp_path / "in"),
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert "manual_overwrite" in (tmp_path / "in" / "report.json").read_text()


def test_master_and_workers_through_throttling(tmp_path: Path, broker: Mosquitto) -> None:
    server = _serve(broker, "--throttle", "20")
    port = free_port()
    out = tmp_path / "out"
    out.mkdir()
    workers = [
        subprocess.Popen(
            locust_command(out / f"w{i}", "--worker", "--master-port", str(port)),
            cwd=ROOT,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for i in range(2)
    ]
    try:
        run = run_locust(
            out,
            "--master",
            "--master-bind-port",
            str(port),
            "--expect-workers",
            "2",
            "--exit-code-on-error",
            "0",  # throttled calls are failures; the test is about the run going on
            "-u",
            "60",
            "-r",
            "60",
            *_common(broker, server),
        )
    finally:
        for worker in workers:
            try:
                worker.wait(timeout=30)
            except subprocess.TimeoutExpired:
                worker.kill()
        finish(server)
    assert run.returncode == 0, run.output[-4000:]
    report = run.report()
    assert [w["worker"] for w in report["extra"]["workers"]] == [0, 1]
    assert report["devices"] == 60
    assert report["executions"] == {"SUCCEEDED": 60}, report["notes"]
    failures = (out / "stats_failures.csv").read_text()
    assert "ThrottlingException" in failures, failures
    http = run.rows("HTTP")
    assert sum(int(r["Failure Count"]) for r in http.values()) > 0
    assert all(r["Failure Count"] == "0" for r in run.rows("MQTT").values())


def test_embedded_control_plane(tmp_path: Path, broker: Mosquitto) -> None:
    run = run_locust(tmp_path / "out", "-u", "100", "-r", "100", *_common(broker, None))
    assert run.returncode == 0, run.output[-4000:]
    report = run.report()
    assert report["devices"] == 100
    assert report["executions"] == {"SUCCEEDED": 100}, report["notes"]
    assert report["shadow"]["checked"] == 100


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--processes", "2", "--control-plane", "embedded"], "runs in one process"),
        (["--control-plane", "ftp://x"], "--control-plane 'ftp://x'"),
        (["--shard", "0/2"], "--shard is for fleetsim run"),
    ],
)
def test_bad_options_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    run = run_locust(
        tmp_path / "out",
        "-u",
        "1",
        "-t",
        "5s",
        "--scenario",
        str(FAST),
        "--broker",
        "mqtt://127.0.0.1:1",
        *args,
        timeout=60,
    )
    assert run.returncode == 2, run.output[-3000:]
    errors = [line for line in run.output.splitlines() if "fleetsim: error:" in line]
    assert len(errors) == 1 and message in errors[0], run.output[-3000:]
    assert "Traceback" not in run.output


def test_staging_path_with_mutual_tls_and_per_thing_acls(tmp_path: Path) -> None:
    """The staging-shaped path: devices provisioned by `fleetsim provision` (a certificate each,
    signed by the broker's CA), a broker that admits only them and only to their own topics
    (`broker-config --acl-from`), 2,000 device users over mutual TLS."""
    certs = tmp_path / "certs"
    with staging(tmp_path, "--rollout-rate", "60000") as staged:
        provisioned = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "provision", "--target", staged.server.url,
             "--scenario", str(FAST), "--devices", "2000", "--cert-dir", str(certs), "--quiet"],
            cwd=ROOT, capture_output=True, text=True, check=False, timeout=300,
        )  # fmt: skip
        assert provisioned.returncode == 0, provisioned.stderr
        assert "2000 certificates" in staged.reload_acl().replace(",", "")
        run = run_locust(
            tmp_path / "out",
            "-u", "2000", "-r", "1000",
            "--scenario", str(FAST),
            "--broker", f"mqtts://127.0.0.1:{staged.port}",
            "--cert-dir", str(certs),
            "--control-plane", staged.server.url,
            "--stop-when-done", "-t", "240s",
            timeout=300,
        )  # fmt: skip
    assert run.returncode == 0, run.output[-4000:]
    report = run.report()
    assert report["devices"] == 2000
    assert report["executions"] == {"SUCCEEDED": 2000}, report["notes"]
    assert report["shadow"]["checked"] == 2000
    assert report["shadow"]["consistent"] == 2000, report["shadow"]
    [worker] = report["extra"]["workers"]
    assert worker["connects"] == 2000 and worker["connect_failures"] == 0, worker
    mqtt = run.rows("MQTT")
    assert mqtt.keys() >= MQTT_NAMES, mqtt.keys()
    assert all(row["Failure Count"] == "0" for row in mqtt.values()), mqtt
    assert int(mqtt["update SUCCEEDED"]["Request Count"]) == 2000
