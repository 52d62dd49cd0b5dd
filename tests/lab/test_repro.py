"""``fleetsim repro``: a real run's inconsistent device becomes a script of at most 6 operations
that the player reproduces; no operation can be removed without losing it, and the writer's
version precondition removes it."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import msgspec
import orjson
import pytest

from simulator.lab.replay import play
from simulator.lab.script import Read, Script, Write, load_script
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
