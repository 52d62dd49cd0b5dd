"""``fleetsim explain``: real runs of the race catalogue; the report names inconsistent devices,
and explain names the anomaly of one of them from operations that are in its history, in order.
Bad input is one line and exit 2."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from simulator.engine.consistency import CAUSES
from simulator.lab.history import device_history
from tests.fleetsim_cli import ROOT, fleetsim

RACES = ROOT / "scenarios" / "races"


def _run(out: Path, scenario: str) -> dict[str, Any]:
    done = fleetsim("run", RACES / scenario, "--devices", "300", "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = orjson.loads((out / "report.json").read_bytes())
    return report


@pytest.fixture(scope="module")
def lost_update(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lost-update")
    _run(out, "lost-update.toml")
    return out


def _explain(run: Path, *args: str) -> dict[str, Any]:
    done = fleetsim("explain", run, "--json", *args)
    assert done.returncode == 0, done.stderr
    explanation: dict[str, Any] = orjson.loads(done.stdout)
    return explanation


def test_the_report_names_inconsistent_devices(lost_update: Path) -> None:
    shadow = orjson.loads((lost_update / "report.json").read_bytes())["shadow"]
    assert shadow["by_cause"]["manual_overwrite"] > 0
    assert set(shadow["examples"]) == set(shadow["by_cause"])
    for cause, names in shadow["examples"].items():
        assert len(names) == min(10, shadow["by_cause"][cause]) == len(set(names))
    html = (lost_update / "report.html").read_text()
    assert shadow["examples"]["manual_overwrite"][0] in html


def test_explain_names_a_lost_update_from_the_history(lost_update: Path) -> None:
    device = orjson.loads((lost_update / "report.json").read_bytes())["shadow"]["examples"][
        "manual_overwrite"
    ][3]
    got = _explain(lost_update, "--device", device)
    assert (got["device"], got["cause"], got["anomaly"]) == (
        device,
        "manual_overwrite",
        "lost update",
    )
    history = device_history(lost_update / "events.jsonl.gz", device).ops
    assert [op.as_dict() for op in history] == got["timeline"]
    # The operations named exist in the history, in this order, and tell a lost update.
    read, undone, write = (history[seq] for seq in got["involved"])
    assert read.seq < undone.seq < write.seq and got["culprit"] == write.seq
    assert (read.kind, undone.kind, write.kind) == ("read", "write", "write")
    assert read.actor == write.actor == "cmdb-sync" and undone.actor == "jobs"
    assert write.fields["pre"] is None and write.fields["read"] == read.fields["v"]
    assert read.fields["v"] < undone.fields["v"] < write.fields["v"]
    assert write.fields["set"] == read.fields["pkg"] != got["runs"]
    assert undone.fields["pkg"] == got["runs"]  # Jobs had it right; the write-back undid it
    assert got["verdict"] == (
        f"lost update: cmdb-sync read version {read.fields['v']} at {read.t:.1f} s, Jobs wrote "
        f"version {undone.fields['v']} (agent {got['runs']['agent']}) at {undone.t:.1f} s, "
        f"cmdb-sync wrote agent {write.fields['set']['agent']} without a version at "
        f"{write.t:.1f} s (version {write.fields['v']}); the device runs agent "
        f"{got['runs']['agent']}"
    )


def test_cause_explains_the_first_example_and_the_text_shows_the_timeline(
    lost_update: Path,
) -> None:
    first = orjson.loads((lost_update / "report.json").read_bytes())["shadow"]["examples"][
        "manual_overwrite"
    ][0]
    assert _explain(lost_update, "--cause", "manual_overwrite")["device"] == first
    assert _explain(lost_update)["device"] == first
    done = fleetsim("explain", lost_update, "--cause", "manual_overwrite")
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith(f"{first}: $package says agent ")
    assert lines[1] == "cause: manual_overwrite    anomaly: lost update"
    assert sum(line.startswith(">") for line in lines) == 1
    assert lines[-1].startswith("verdict: lost update: cmdb-sync read version ")


@pytest.mark.parametrize(
    ("scenario", "cause", "anomaly"),
    [
        ("null-uninstall-readd.toml", "manual_overwrite", "uninstall re-added"),
        ("jobs-update-disabled.toml", "not_reported", "missed report"),
    ],
)
def test_explain_names_the_anomaly_of_each_race(
    tmp_path: Path, scenario: str, cause: str, anomaly: str
) -> None:
    _run(tmp_path, scenario)
    got = _explain(tmp_path, "--cause", cause)
    assert (got["cause"], got["anomaly"]) == (cause, anomaly)
    assert got["verdict"].startswith(f"{anomaly}: ")
    involved = [got["timeline"][seq] for seq in got["involved"]]
    if anomaly == "missed report":
        change, outcome = involved
        assert (change["k"], change["op"], outcome["to"]) == ("inv", "install", "SUCCEEDED")
        assert not [op for op in got["timeline"][change["seq"] :] if op["k"] == "write"]
    else:
        read, undone, write = involved
        assert read["k"] == "read" and read["v"] < undone["v"] < write["v"]
        assert undone["set"] == {"legacy-agent": None} and undone["by"] == "jobs"
        assert "legacy-agent" in write["set"] and "legacy-agent" not in got["runs"]


def test_explain_names_a_rollback_racing_jobs_delayed_write(tmp_path: Path) -> None:
    _run(tmp_path, "rollback-after-success.toml")
    got = _explain(tmp_path, "--cause", "phantom_version")
    assert (got["cause"], got["anomaly"]) == ("phantom_version", "stale report")
    assert "a rollback racing Jobs' SUCCEEDED write" in got["verdict"]
    succeeded, rollback, write = (got["timeline"][seq] for seq in got["involved"])
    assert (succeeded["to"], rollback["op"], write["by"]) == ("SUCCEEDED", "rollback", "jobs")
    assert succeeded["t"] < rollback["t"] < write["t"]
    assert write["t"] - succeeded["t"] == pytest.approx(45.0, abs=0.01)  # Jobs' write delay
    assert write["set"] == {"agent": "1.2.0"} and got["runs"]["agent"] != "1.2.0"


def test_explain_names_a_report_redelivered_after_the_devices_newer_one(tmp_path: Path) -> None:
    _run(tmp_path, "redelivered-report.toml")
    got = _explain(tmp_path, "--cause", "phantom_version")
    assert (got["cause"], got["anomaly"]) == ("phantom_version", "stale report")
    assert "a report redelivered late, out of order" in got["verdict"]
    *_, rollback, newer, late = (got["timeline"][seq] for seq in got["involved"])
    assert (rollback["op"], newer["by"], late["by"]) == ("rollback", "device", "device")
    assert rollback["t"] < newer["t"] < late["t"] and newer["v"] < late["v"]
    # The late report names the version the device ran before its rollback; the newer one what
    # it runs now.
    assert newer["set"] == {"agent": got["runs"]["agent"]} and late["set"] == {"agent": "1.2.0"}


def test_bad_input_is_one_line_and_exit_2(lost_update: Path, tmp_path: Path) -> None:
    report = orjson.loads((lost_update / "report.json").read_bytes())
    named = {n for names in report["shadow"]["examples"].values() for n in names}
    consistent = next(
        name
        for name in (f"device-{i:05d}" for i in range(300))
        if name not in named and fleetsim("explain", lost_update, "--device", name).returncode == 2
    )
    (tmp_path / "report.json").write_bytes(b"{}")
    absent = next(c for c in CAUSES if c not in report["shadow"]["by_cause"])
    cases = [
        ((tmp_path / "missing",), "no such run directory"),
        ((tmp_path,), "has no events.jsonl.gz"),
        ((lost_update, "--device", consistent), "agrees with what the device runs"),
        ((lost_update, "--device", "no-such-thing"), "no device no-such-thing"),
        ((lost_update, "--cause", "gremlins"), "unknown cause 'gremlins'"),
        ((lost_update, "--cause", absent), f"no device of cause {absent}"),
        ((lost_update, "--device", "a", "--cause", "b"), "not allowed with argument"),
    ]
    for args, message in cases:
        done = fleetsim("explain", *args)
        assert done.returncode == 2, (args, done)
        assert done.stdout == "" and done.stderr.count("\n") == 1, (args, done.stderr)
        assert message in done.stderr, (args, done.stderr)


def test_the_console_command(lost_update: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "explain", str(lost_update), "--json"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    assert orjson.loads(done.stdout)["anomaly"] == "lost update"
