"""Script scenarios and ``fleetsim replay``: the format, the in-process oracle, the embedded
emulator over SigV4 HTTP with boto3, the command's exit statuses and its bad input."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from simulator.core.errors import UsageError
from simulator.lab.replay import Answer, Outcome, open_target, play, play_on
from simulator.lab.replay_remote import parse_target
from simulator.lab.script import (
    Install,
    Script,
    Update,
    Write,
    dump_script,
    load_script,
    parse_script,
)
from tests.fleetsim_cli import ROOT, fleetsim

SCRIPTS = ROOT / "scenarios" / "races" / "scripts"
LOST_UPDATE = SCRIPTS / "lost-update.toml"
USE_VERSION = SCRIPTS / "lost-update-use-version.toml"

#: Every action once: a device that rolls back mid-job and reports it, then says SUCCEEDED,
#: so Jobs writes the version it no longer runs (phantom_version).
ROLLBACK = """
name = "rollback-report"
expect = "phantom_version"
writers = ["cmdb-sync"]

[thing]
name = "device-7"
inventory = { agent = "1.0.0", tools = "0.1.0" }
package_shadow = { agent = "1.0.0", tools = "0.1.0" }

[catalog.configuration]
version_update_by_jobs = true

[[catalog.packages]]
name = "agent"
versions = [{ name = "1.0.0" }, { name = "1.2.0" }]

[[catalog.packages]]
name = "tools"
versions = [{ name = "0.1.0" }]

[[script]]
at = 0
actor = "cmdb-sync"
action = "read"

[[script]]
at = 1
actor = "jobs"
action = "create"
args = { job_id = "agent-1-2-0", destination = "agent@1.2.0" }

[[script]]
at = 2
actor = "device"
action = "update"
args = { job_id = "agent-1-2-0", status = "IN_PROGRESS" }

[[script]]
at = 3
actor = "device"
action = "install"
args = { package = "agent", version = "1.2.0" }

[[script]]
at = 4
actor = "device"
action = "install"
args = { package = "agent", version = "1.0.0" }

[[script]]
at = 4.5
actor = "device"
action = "install"
args = { package = "tools", version = "$null" }

[[script]]
at = 5
actor = "device"
action = "report"
args = { packages = { agent = "1.0.0", tools = "$null" } }

[[script]]
at = 6
actor = "device"
action = "update"
args = { job_id = "agent-1-2-0", status = "SUCCEEDED" }

[[script]]
at = 7
actor = "cmdb-sync"
action = "write"
args = { packages = { tools = "$null" }, use_version = true }
"""


def _rollback() -> Script:
    return parse_script(ROLLBACK.encode(), source="rollback.toml")


def _answers(outcome: Outcome) -> list[tuple[str, str, Answer]]:
    return [(r.step.actor, r.step.action, r.answer) for r in outcome.steps]


# -- the format ------------------------------------------------------------------------------


def test_the_shipped_scripts_are_small_typed_and_round_trip() -> None:
    for path in (LOST_UPDATE, USE_VERSION):
        script = load_script(path)
        assert 3 <= len(script.steps) <= 6
        assert script.expect == "manual_overwrite"
        assert script.writers == ("cmdb-sync",)
        assert parse_script(dump_script(script).encode()) == script
    lost = load_script(LOST_UPDATE)
    write = lost.steps[-1].op
    assert isinstance(write, Write) and write.packages == {"agent": "1.0.0"}
    assert not write.use_version
    write = load_script(USE_VERSION).steps[-1].op
    assert isinstance(write, Write) and write.use_version


def test_null_versions_and_play_order() -> None:
    script = parse_script(ROLLBACK.encode())
    assert [s.at for s in script.steps] == sorted(s.at for s in script.steps)
    uninstall = script.steps[5].op
    assert isinstance(uninstall, Install) and uninstall.version is None
    assert isinstance(script.steps[2].op, Update)
    assert parse_script(dump_script(script).encode()) == script
    assert '"$null"' in dump_script(script)


# -- the in-process oracle -------------------------------------------------------------------


def test_the_oracle_reproduces_the_lost_update() -> None:
    outcome = play(load_script(LOST_UPDATE))
    assert outcome.reproduced
    assert outcome.cause == "manual_overwrite"
    assert outcome.inventory == {"agent": "1.2.0"}
    assert outcome.package == {"agent": "1.0.0"}
    # read v1; Jobs' SUCCEEDED write made v2; the stale write v3
    assert [r.version for r in outcome.steps] == [1, 1, 1, 2, 3]
    assert all(r.answer is Answer.ACCEPTED for r in outcome.steps)


def test_the_oracle_with_the_version_precondition_gets_a_409_and_no_anomaly() -> None:
    outcome = play(load_script(USE_VERSION))
    assert not outcome.reproduced
    assert outcome.cause == ""
    assert outcome.package == {"agent": "1.2.0"} == outcome.inventory
    last = outcome.steps[-1]
    assert last.answer is Answer.CONFLICT
    assert last.detail.startswith("ConflictException")


def test_every_action_in_process_a_rollback_race_is_a_phantom_version() -> None:
    outcome = play(_rollback())
    assert outcome.cause == "phantom_version" and outcome.reproduced
    assert outcome.inventory == {"agent": "1.0.0"}
    assert outcome.package == {"agent": "1.2.0"}
    # the writer's precondition is stale after the report and Jobs' write: 409
    assert _answers(outcome)[-1] == ("cmdb-sync", "write", Answer.CONFLICT)
    assert outcome.steps[2].detail == "agent-1-2-0"  # StartNextPendingJobExecution started it


def test_steps_a_shrinker_leaves_dangling_are_refusals_not_errors() -> None:
    script = load_script(LOST_UPDATE)
    without_create = script.with_steps(tuple(s for s in script.steps if s.actor != "jobs"))
    outcome = play(without_create)
    update = next(r for r in outcome.steps if r.step.action == "update")
    assert update.answer is Answer.REJECTED
    assert outcome.cause == "not_reported"  # the device runs 1.2.0, nobody wrote it


def test_the_oracle_is_fast_enough_for_delta_debugging() -> None:
    script = load_script(LOST_UPDATE)
    outcomes = {play(script).cause for _ in range(300)}
    assert outcomes == {"manual_overwrite"}


# -- the embedded emulator over HTTP -----------------------------------------------------------


def test_the_oracle_agrees_with_boto3_against_the_embedded_emulator() -> None:
    scripts = [load_script(LOST_UPDATE), load_script(USE_VERSION), _rollback()]
    with open_target("embedded") as (plane, device):
        assert device is None
        for script in scripts:
            over_http = play_on(script, plane)
            in_process = play(script)
            assert over_http.target == "embedded"
            assert over_http.cause == in_process.cause
            assert over_http.package == in_process.package
            assert _answers(over_http) == _answers(in_process)
            assert [r.version for r in over_http.steps] == [r.version for r in in_process.steps]


def test_replay_reproduces_against_the_embedded_emulator() -> None:
    done = fleetsim("replay", LOST_UPDATE)
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert lines[0] == (
        "reproduced: manual_overwrite: $package says agent 1.0.0; the device runs agent 1.2.0"
    )
    assert lines[-1] == (
        "fleetsim replay: lost-update: manual_overwrite reproduced 1/1 against embedded"
    )


def test_replay_with_the_version_precondition_does_not_reproduce() -> None:
    done = fleetsim("replay", USE_VERSION, "--target", "embedded")
    assert done.returncode == 1, done.stderr
    assert done.stdout.splitlines()[0].startswith("not reproduced: consistent:")
    assert "reproduced 0/1 against embedded" in done.stdout


def test_repeat_counts_every_play() -> None:
    done = fleetsim("replay", LOST_UPDATE, "--repeat", "3")
    assert done.returncode == 0, done.stderr
    plays = [line for line in done.stdout.splitlines() if line.startswith("play ")]
    assert [p.split(":")[0] for p in plays] == ["play 1/3", "play 2/3", "play 3/3"]
    assert "manual_overwrite reproduced 3/3 against embedded" in done.stdout
    done = fleetsim("replay", USE_VERSION, "--repeat", "3", "--target", "inprocess")
    assert done.returncode == 1
    assert "reproduced 0/3 against inprocess" in done.stdout


def test_speed_keeps_the_gaps_scaled() -> None:
    script = load_script(LOST_UPDATE)  # 33 s from the first step to the last
    with open_target("embedded", speed=100.0) as (plane, _):
        started = time.monotonic()
        outcome = play_on(script, plane)
        elapsed = time.monotonic() - started
    assert outcome.reproduced
    assert elapsed >= 0.33


# -- bad input ---------------------------------------------------------------------------------


def _bad(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "bad.toml"
    old, new = text.split(" -> ")
    path.write_text(LOST_UPDATE.read_text().replace(old, new, 1))
    return path


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        ('action = "read" -> action = "delete"', "cmdb-sync cannot 'delete'"),
        ('actor = "cmdb-sync" -> actor = "cmbd-sync"', "unknown actor 'cmbd-sync'"),
        ('status = "SUCCEEDED" -> status = "DONE"', "$.script[3].args"),
        ('destination = "agent@1.2.0" -> destination = "agent"', "expected PACKAGE@VERSION"),
        ('package = "agent" -> package = "agnet"', "package 'agnet' is not in the catalog"),
        ('expect = "manual_overwrite" -> expect = "lost"', "unknown cause 'lost'"),
        ("at = 30.0 -> at = -1.0", "$.script[2].at"),
        ("[[script]] -> [[scrpt]]", "bad.toml"),
    ],
)
def test_a_bad_script_is_one_line_and_exit_2(tmp_path: Path, edit: str, message: str) -> None:
    done = fleetsim("replay", _bad(tmp_path, edit), "--target", "inprocess")
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith("fleetsim replay: error: ")
    assert message in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("missing.toml",), "cannot read script missing.toml"),
        ((LOST_UPDATE, "--target", "ftp://x:1"), "--target 'ftp://x:1': expected embedded"),
        ((LOST_UPDATE, "--target", "http://127.0.0.1"), "expected embedded, aws"),
        ((LOST_UPDATE, "--target", "prod"), "expected embedded, aws"),
        ((LOST_UPDATE, "--broker", "http://x:1"), "broker URI"),
        ((LOST_UPDATE, "--target", "inprocess", "--broker", "mqtt://h:1"), "needs a real"),
        ((LOST_UPDATE, "--repeat", "0"), "must be >= 1"),
        ((LOST_UPDATE, "--speed", "-2"), "positive factor"),
    ],
)
def test_bad_arguments_are_one_line_and_exit_2(args: tuple[str, ...], message: str) -> None:
    done = fleetsim("replay", *args)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert message in done.stderr
    assert "Traceback" not in done.stderr


def test_an_unreachable_target_is_one_line_and_exit_2() -> None:
    from tests.mqtt_broker import free_port  # noqa: PLC0415

    url = f"http://127.0.0.1:{free_port()}"
    done = fleetsim("replay", LOST_UPDATE, "--target", url)
    assert done.returncode == 2
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert f"--target {url}: set-up failed" in done.stderr


def test_a_broker_nobody_listens_on_is_one_line_and_exit_2() -> None:
    from tests.mqtt_broker import free_port  # noqa: PLC0415

    broker = f"mqtt://127.0.0.1:{free_port()}"
    done = fleetsim("replay", LOST_UPDATE, "--broker", broker)
    assert done.returncode == 2
    assert done.stderr == f"fleetsim replay: error: --broker {broker}: cannot connect: " + (
        "Connection refused\n"
    )


def test_parse_target() -> None:
    assert parse_target("http://127.0.0.1:8000/") == "http://127.0.0.1:8000"
    assert parse_target("aws") == "aws"
    with pytest.raises(UsageError):
        parse_target("http://127.0.0.1:8000/path")
