"""``fleetsim repro``: a real run's inconsistent device becomes a script of at most 6 operations
that the player reproduces; no operation can be removed, and no two merged, without losing it,
and the writer's version precondition removes it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from simulator.engine.scenario import load_scenario
from simulator.lab.explain import explain
from simulator.lab.history import device_history, events_path
from simulator.lab.replay import play
from simulator.lab.repro import merge, reproduce, shrink
from simulator.lab.script import Read, Report, Script, Write, load_script, parse_script
from tests.fleetsim_cli import ROOT, fleetsim

RACES = ROOT / "scenarios" / "races"


def _run(out: Path, scenario: str) -> dict[str, Any]:
    done = fleetsim("run", RACES / scenario, "--devices", "300", "--out", out, "--quiet")
    assert done.returncode == 0, done.stderr
    report: dict[str, Any] = orjson.loads((out / "report.json").read_bytes())
    return report


def _repro(run: Path, device: str, out: Path) -> Script:
    done = fleetsim("repro", run, "--device", device, "-o", out)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{out}: ")
    return load_script(out)


@pytest.fixture(scope="module")
def lost_update(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("lost-update")
    _run(out, "lost-update.toml")
    return out


def test_a_lost_update_shrinks_to_a_minimal_script(lost_update: Path, tmp_path: Path) -> None:
    report = orjson.loads((lost_update / "report.json").read_bytes())
    device = report["shadow"]["examples"]["manual_overwrite"][0]
    script = _repro(lost_update, device, tmp_path / "repro.toml")
    assert script.expect == "manual_overwrite" and script.thing.name == device
    assert len(script.steps) <= 6
    assert [s.action for s in script.steps].count("write") == 1
    assert play(script).reproduced
    # No step but the writer's read (kept: it is what makes the write stale) can go.
    for i, step in enumerate(script.steps):
        if isinstance(step.op, Read):
            continue
        fewer = script.with_steps(script.steps[:i] + script.steps[i + 1 :])
        assert not play(fewer).reproduced, step
    # The mitigation: the same writer sending the version it read is refused with 409.
    careful = script.with_steps(
        tuple(
            dataclasses.replace(s, op=msgspec.structs.replace(s.op, use_version=True))
            if isinstance(s.op, Write)
            else s
            for s in script.steps
        )
    )
    outcome = play(careful)
    assert not outcome.reproduced and outcome.cause == ""
    assert "conflict" in [r.answer.value for r in outcome.steps]
    # fleetsim replay (in process) agrees.
    assert fleetsim("replay", tmp_path / "repro.toml").returncode == 0


@pytest.mark.parametrize(
    ("scenario", "cause", "actions"),
    [
        ("null-uninstall-readd.toml", "manual_overwrite", {"read", "install", "write"}),
        ("jobs-update-disabled.toml", "not_reported", {"install"}),
    ],
)
def test_each_race_reproduces_in_a_few_operations(
    tmp_path: Path, scenario: str, cause: str, actions: set[str]
) -> None:
    report = _run(tmp_path, scenario)
    device = report["shadow"]["examples"][cause][0]
    script = _repro(tmp_path, device, tmp_path / "repro.toml")
    assert script.expect == cause and len(script.steps) <= 6
    assert actions <= {s.action for s in script.steps}
    assert play(script).reproduced


def test_bad_input_is_one_line_and_exit_2(lost_update: Path, tmp_path: Path) -> None:
    named = {
        n
        for names in orjson.loads((lost_update / "report.json").read_bytes())["shadow"][
            "examples"
        ].values()
        for n in names
    }
    consistent = next(f"device-{i:05d}" for i in range(300) if f"device-{i:05d}" not in named)
    for args, message in [
        ((lost_update,), "the following arguments are required: --device"),
        ((tmp_path / "missing", "--device", "x"), "no such run directory"),
        ((lost_update, "--device", "no-such-thing"), "no device no-such-thing"),
        ((lost_update, "--device", consistent), None),
        ((lost_update, "--device", consistent, "--scenario", tmp_path / "x.toml"), "x.toml"),
    ]:
        done = fleetsim("repro", *args, "-o", tmp_path / "repro.toml")
        assert done.returncode == 2, (args, done)
        assert done.stdout == "" and done.stderr.count("\n") == 1, (args, done.stderr)
        assert message is None or message in done.stderr, (args, done.stderr)
    assert not (tmp_path / "repro.toml").exists()


# -- merging two steps into one ------------------------------------------------------------------

_TWO_REPORTS = b"""
name = "two-reports"
expect = "phantom_version"
writers = ["sync"]
[thing]
name = "device-00001"
inventory = { agent = "1.2.0", legacy = "0.9" }
[[catalog.packages]]
name = "agent"
versions = [{ name = "1.0.0" }, { name = "1.1.0" }, { name = "1.2.0" }]
[[catalog.packages]]
name = "legacy"
versions = [{ name = "0.8" }, { name = "0.9" }]
[[script]]
at = 1.0
actor = "device"
action = "report"
args = { packages = { agent = "1.0.0" } }
[[script]]
at = 2.0
actor = "sync"
action = "write"
args = { packages = { agent = "1.1.0" } }
[[script]]
at = 3.0
actor = "device"
action = "report"
args = { packages = { legacy = "0.8" } }
[[script]]
at = 4.0
actor = "sync"
action = "write"
args = { packages = { agent = "1.1.0" }, use_version = true }
"""


def _reported(script: Script) -> set[str]:
    return {p for s in script.steps if isinstance(s.op, Report) for p in s.op.packages}


def test_two_reports_that_are_both_needed_merge_into_one() -> None:
    script = parse_script(_TWO_REPORTS)

    def oracle(candidate: Script) -> bool:  # the anomaly needs both entries reported
        return _reported(candidate) >= {"agent", "legacy"}

    shrunk, _ = shrink(script, oracle)
    assert [s.action for s in shrunk.steps] == ["report", "report"]  # neither can go alone
    merged, plays = merge(shrunk, oracle)
    (step,) = merged.steps
    assert isinstance(step.op, Report) and step.op.packages == {"agent": "1.0.0", "legacy": "0.8"}
    assert step.at == 3.0 and step.actor == "device" and plays == 1  # at the later step's time


def test_only_one_request_kind_of_one_actor_merges_and_kept_steps_never() -> None:
    script = parse_script(_TWO_REPORTS)
    assert merge(script, lambda candidate: True)[0].steps != script.steps  # reports merge
    # A write without a precondition and one with it are different requests: not merged.
    writes = script.with_steps(tuple(s for s in script.steps if s.actor == "sync"))
    assert merge(writes, lambda candidate: True)[0].steps == writes.steps
    reports = script.with_steps(tuple(s for s in script.steps if s.actor == "device"))
    assert merge(reports, lambda candidate: True, keep=reports.steps[:1])[0] == reports


def test_repro_ends_with_nothing_removable_and_nothing_mergeable(lost_update: Path) -> None:
    report = orjson.loads((lost_update / "report.json").read_bytes())
    device = report["shadow"]["examples"]["manual_overwrite"][0]
    history = device_history(events_path(lost_update), device)
    scenario = load_scenario(RACES / "lost-update.toml").with_devices(300)
    repro = reproduce(history, explain(history), scenario)
    assert repro.outcome.reproduced
    merged, _ = merge(repro.script, lambda candidate: play(candidate).reproduced)
    assert merged.steps == repro.script.steps
