"""``fleetsim sweep`` end to end: identical numbers twice, the JSON's shape, the page, and bad
input as one line with exit 2 (in process, no worker started)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path
from typing import Any

import orjson
import pytest

from simulator.engine.consistency import CAUSES
from tests.fleetsim_cli import ROOT, fleetsim

LOST_UPDATE = ROOT / "scenarios" / "races" / "lost-update.toml"
MEASURES = (
    "inconsistent",
    "latency_p50_s",
    "latency_p99_s",
    "writer_conflicts",
    "redundant_executions",
)


def _sweep(out: Path, *extra: str) -> dict[str, Any]:
    done = fleetsim(
        "sweep", LOST_UPDATE, "--devices", "120", "--seeds", "1-5", "--jobs", "2",
        "--vary", "writers.cmdb-sync.use_version=false,true", "--quiet", "--out", out, *extra,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    data: dict[str, Any] = orjson.loads((out / "sweep.json").read_bytes())
    return data


def _check_measure(m: dict[str, Any], seeds: int) -> None:
    assert set(m) == {"mean", "ci95", "values"}
    assert len(m["values"]) == seeds
    lo, hi = m["ci95"]
    assert lo <= m["mean"] <= hi
    assert min(m["values"]) <= lo and hi <= max(m["values"])


@pytest.mark.slow
def test_a_sweep_run_twice_gives_identical_numbers_in_the_documented_shape(
    tmp_path: Path,
) -> None:
    first = _sweep(tmp_path / "a")
    second = _sweep(tmp_path / "b")
    assert first == second
    same_bytes = {(tmp_path / d / "sweep.json").read_bytes() for d in "ab"}
    assert len(same_bytes) == 1

    variants = first["variants"]
    assert [v["vary"] for v in variants] == [
        {"writers.cmdb-sync.use_version": False},
        {"writers.cmdb-sync.use_version": True},
    ]
    for variant in variants:
        assert set(variant) == {"vary", "seeds", "by_cause", *MEASURES}
        assert variant["seeds"] == [1, 2, 3, 4, 5]
        assert list(variant["by_cause"]) == list(CAUSES)  # every cause, 0 when absent
        for m in [*(variant[k] for k in MEASURES), *variant["by_cause"].values()]:
            _check_measure(m, 5)
        # The causes add up to the inconsistent devices, seed by seed.
        sums = [sum(c["values"][i] for c in variant["by_cause"].values()) for i in range(5)]
        assert sums == variant["inconsistent"]["values"]
    # The A/B the sweep exists for: the precondition turns lost updates into 409s.
    racy, locked = variants
    assert all(v > 0 for v in racy["by_cause"]["manual_overwrite"]["values"])
    assert locked["by_cause"]["manual_overwrite"]["values"] == [0] * 5
    assert racy["writer_conflicts"]["values"] == [0] * 5
    assert all(v > 0 for v in locked["writer_conflicts"]["values"])

    page = (tmp_path / "a" / "sweep.html").read_text()
    assert page.count("<svg") == 4
    assert "writers.cmdb-sync.use_version=true" in page
    assert "manual_overwrite" in page


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["--vary", "writers.cmdb-sync.use_versio=true"],
            "fleetsim sweep: error: --vary writers.cmdb-sync.use_versio=true: "
            "Object contains unknown field `use_versio` - at `$.writers[0]`",
        ),
        (
            ["--vary", "writers.nightly.use_version=true"],
            "fleetsim sweep: error: --vary writers.nightly.use_version: no entry of $.writers "
            "is named 'nightly' (entries: cmdb-sync)",
        ),
        (
            ["--vary", "nosuch.field=1"],
            "fleetsim sweep: error: --vary nosuch.field=1: Object contains unknown field `nosuch`",
        ),
        (
            ["--vary", "writers.cmdb-sync.use_version=false,3"],
            "fleetsim sweep: error: --vary writers.cmdb-sync.use_version=3: "
            "Expected `bool`, got `int` - at `$.writers[0].use_version`",
        ),
        (
            ["--vary", "device.reports_package_shadow=1.5"],
            "fleetsim sweep: error: --vary device.reports_package_shadow=1.5: "
            "$.device.reports_package_shadow: must be a probability between 0 and 1, got 1.5",
        ),
        (
            ["--vary", "run.seed=1,2"],
            "fleetsim sweep: error: --vary run.seed=1,2: run.seed is set by --seeds",
        ),
        (["--vary", "device.x"], "fleetsim sweep: error: --vary device.x: expected PATH=VALUE"),
        (
            ["--seeds", "9-3"],
            "fleetsim sweep: error: --seeds 9-3: range 9-3 ends before it starts",
        ),
        (
            ["--seeds", "one"],
            "fleetsim sweep: error: --seeds one: expected FIRST-LAST or a list such as 1,2,5",
        ),
        (["--jobs", "0"], "fleetsim sweep: error: --jobs must be at least 1, got 0"),
        (["--devices", "0"], "fleetsim sweep: error: --devices must be at least 1"),
    ],
)
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    done = fleetsim("sweep", LOST_UPDATE, "--quiet", *args)
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1
    assert done.stderr.startswith(message), done.stderr


def test_a_missing_scenario_is_one_line_and_exit_2(tmp_path: Path) -> None:
    done = fleetsim("sweep", tmp_path / "nope.toml", "--quiet")
    assert done.returncode == 2
    assert done.stderr == (
        f"fleetsim sweep: error: cannot read scenario {tmp_path / 'nope.toml'}: "
        "No such file or directory\n"
    )


def test_an_unknown_flag_is_one_line_and_exit_2() -> None:
    done = fleetsim("sweep", LOST_UPDATE, "--bogus", "3")
    assert done.returncode == 2
    assert done.stderr.count("\n") == 1


def test_a_real_clock_scenario_is_refused(tmp_path: Path) -> None:
    text = LOST_UPDATE.read_text().replace("[run]\n", '[run]\nclock = "real"\n', 1)
    scenario = tmp_path / "real.toml"
    scenario.write_text(text.replace("../jobs/", f"{ROOT / 'scenarios' / 'jobs'}/"))
    done = fleetsim("sweep", scenario, "--quiet")
    assert done.returncode == 2
    assert done.stderr == (
        'fleetsim sweep: error: real.toml: a sweep needs run.clock = "simulated" '
        "(scenario as written)\n"
    )


def test_the_console_command_reports_bad_input_in_one_line() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "simulator.cli", "sweep", str(LOST_UPDATE), "--vary", "nosuch=1"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 2
    assert done.stderr == (
        "fleetsim sweep: error: --vary nosuch=1: Object contains unknown field `nosuch`\n"
    )
