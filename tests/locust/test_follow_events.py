"""``--follow-events``: the Locust operator follows its rollout through Jobs event messages.

Real Mosquitto, ``fleetsim serve --mqtt`` and Locust in subprocesses, on the staging-shaped set-up
(mutual TLS, a certificate per device from ``fleetsim provision``, a per-certificate ACL): the
operator's connection takes the emulator's identity from ``--cert-dir``. The run enables JOB and
JOB_EXECUTION events, ends on the job's ``completed`` event (DescribeJob, the fallback, would
come only 30 s after its first round), shows one ``EVENT`` row per terminal status with as many
events as executions, and puts the event configuration back as it found it.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.locust.support import FAST, ROOT, run_locust
from tests.staging import staging

DEVICES = 100


@pytest.mark.slow
def test_run_ends_on_the_completed_event_with_every_execution_event(tmp_path: Path) -> None:
    certs = tmp_path / "certs"
    with staging(tmp_path, "--rollout-rate", "60000") as staged:
        provisioned = subprocess.run(
            [sys.executable, "-m", "simulator.cli", "provision", "--target", staged.server.url,
             "--scenario", str(FAST), "--devices", str(DEVICES), "--cert-dir", str(certs),
             "--quiet"],
            cwd=ROOT, capture_output=True, text=True, check=False, timeout=120,
        )  # fmt: skip
        assert provisioned.returncode == 0, provisioned.stderr
        staged.reload_acl()
        for suffix in (".pem", ".key"):  # no fleetsim-operator identity: the emulator's serves
            name = f"fleetsim-emulator{suffix}"
            shutil.copy(staged.pki / "clients" / name, certs / "clients" / name)
        iot = staged.server.client("iot")
        iot.update_event_configurations(eventConfigurations={"JOB": {"Enabled": True}})
        run = run_locust(
            tmp_path / "out",
            "-u", str(DEVICES), "-r", str(DEVICES),
            "--scenario", str(FAST),
            "--broker", f"mqtts://127.0.0.1:{staged.port}",
            "--cert-dir", str(certs),
            "--control-plane", staged.server.url,
            "--poll-interval", "3",
            "--follow-events", "--stop-when-done", "-t", "60s",
        )  # fmt: skip
        after = iot.describe_event_configurations()["eventConfigurations"]
    assert run.returncode == 0, run.output[-4000:]
    # Only what the operator turned on is turned off again.
    assert after["JOB"] == {"Enabled": True}
    assert after["JOB_EXECUTION"] == {"Enabled": False}
    report = run.report()
    assert report["executions"] == {"SUCCEEDED": DEVICES}, report["notes"]
    events = report["extra"]["events"]
    assert events["complete"] is True, events
    assert events["received"] == DEVICES + 1 and events["duplicates"] == 0, events
    job = events["jobs"]["agent-2"]
    assert job["execution_events"] == {"SUCCEEDED": DEVICES} == job["terminal_executions"]
    assert set(job["job_events"]) == {"completed"}
    assert events["connection"]["connects"] == 1
    note = f"events: agent-2: {DEVICES} execution events for {DEVICES} terminal executions"
    assert any(line.startswith(note) for line in report["notes"]), report["notes"]
    rows = run.rows("EVENT")
    assert set(rows) == {"jobExecution agent-2 SUCCEEDED", "job agent-2 completed"}, rows
    assert int(rows["jobExecution agent-2 SUCCEEDED"]["Request Count"]) == DEVICES
    assert rows["job agent-2 completed"]["Request Count"] == "1"
    assert "every job finished" in run.output
    # Ended on the event: one poll round right after set-up (the job may exist by then), the
    # next due 30 s later (3 s x 10), and one for the report; waiting for a poll makes it 3.
    http = run.rows("HTTP")
    assert int(http["DescribeJob"]["Request Count"]) <= 2, http["DescribeJob"]
    assert {"DescribeEventConfigurations", "UpdateEventConfigurations"} <= http.keys()
    assert http["UpdateEventConfigurations"]["Request Count"] == "2"  # on, then back


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "--broker URI is required"),
        (
            ["--broker", "mqtts://127.0.0.1:1", "--cert-dir", "{empty}"],
            "--follow-events: the operator's MQTT connection needs a certificate",
        ),
    ],
)
def test_bad_follow_events_options_are_one_line(
    tmp_path: Path, args: list[str], message: str
) -> None:
    empty = tmp_path / "certs"
    empty.mkdir()
    run = run_locust(
        tmp_path / "out",
        "-u", "1", "-t", "5s",
        "--scenario", str(FAST),
        "--control-plane", "http://127.0.0.1:1",
        "--follow-events",
        *(a.replace("{empty}", str(empty)) for a in args),
        timeout=60,
        csv=False,
    )  # fmt: skip
    assert run.returncode == 2, run.output[-3000:]
    errors = [line for line in run.output.splitlines() if "fleetsim: error:" in line]
    assert len(errors) == 1 and message in errors[0], run.output[-3000:]
    assert "Traceback" not in run.output
