"""``fleetsim run`` as a user runs it: a subprocess, its exit code, its files, its one error line,
and Ctrl-C. The table of bad input runs in this process (:mod:`tests.fleetsim_cli`), one case of
it as the console process too."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import orjson
import pytest

from tests.engine.support import BASE, SCENARIOS, edited, events, write_scenario
from tests.fleetsim_cli import fleetsim as fleetsim_in_process

ROOT = Path(__file__).parents[1]
FIELDS = {
    "devices",
    "seed",
    "clock",
    "executions",
    "completion_latency_s",
    "shadow",
    "wall_s",
    "peak_rss_mb",
    "interrupted",
}


def fleetsim(
    *args: str | Path, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", "run", *map(str, args)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, **(env or {})},
    )


def read(out: Path) -> dict[str, object]:
    data: dict[str, object] = orjson.loads((out / "report.json").read_bytes())
    return data


@pytest.mark.slow  # end to end
def test_a_run_writes_both_reports_and_the_event_log(tmp_path: Path) -> None:
    out = tmp_path / "out"
    done = fleetsim(SCENARIOS / "quickstart.toml", "--devices", "40", "--quiet", "--out", out)
    assert (done.returncode, done.stdout, done.stderr) == (0, "", "")
    data = read(out)
    assert data.keys() >= FIELDS
    assert (data["devices"], data["seed"], data["clock"]) == (40, 42, "simulated")
    latency = data["completion_latency_s"]
    assert isinstance(latency, dict)
    assert {"p50", "p90", "p99", "max"} <= latency.keys()
    shadow = data["shadow"]
    assert isinstance(shadow, dict)
    assert {"checked", "consistent", "inconsistent", "by_cause"} <= shadow.keys()
    html = (out / "report.html").read_text()
    assert html.lower().startswith("<!doctype html>")
    assert "quickstart" in html
    assert events(out / "events.jsonl.gz")


@pytest.mark.slow  # end to end
def test_progress_goes_to_stderr_unless_quiet(tmp_path: Path) -> None:
    path = write_scenario(tmp_path)
    done = fleetsim(path, "--out", tmp_path / "out", "--no-event-log")
    assert done.returncode == 0
    assert done.stdout == ""
    assert "small 20 devices" in done.stderr
    assert done.stderr.splitlines()[-1].startswith("report: ")
    assert not (tmp_path / "out" / "events.jsonl.gz").exists()


@pytest.mark.slow  # end to end
def test_the_same_seed_replays_the_same_run_in_another_process(tmp_path: Path) -> None:
    outs = [tmp_path / "a", tmp_path / "b"]
    for out, hash_seed in zip(outs, ("1", "2"), strict=True):
        done = fleetsim(
            SCENARIOS / "quickstart.toml",
            *("--devices", "60", "--seed", "5", "--quiet", "--out", out),
            env={"PYTHONHASHSEED": hash_seed},
        )
        assert done.returncode == 0, done.stderr
    first, second = (read(out) for out in outs)
    for varying in ("wall_s", "peak_rss_mb"):
        del first[varying], second[varying]
    for data in (first, second):  # time spent substituting: real time, varies
        del data["substitution"]["prepare_s"], data["substitution"]["render_s"]
    assert first == second
    assert first["seed"] == 5
    assert events(outs[0] / "events.jsonl.gz") == events(outs[1] / "events.jsonl.gz")


BAD_FIELD = edited(("devices = 20", 'devices = "twenty"'))
BAD_DOCUMENT = edited(
    ('document = "jobs/install-package.json"', 'document = "jobs/install-default.json"')
)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ["{bad}"],
            "fleetsim run: error: scenario.toml: Expected `int`, got `str` - at `$.fleet.devices`",
        ),
        (["{mismatch}"], "fleetsim run: error: $.jobs[0]: InvalidRequestException: Package agent"),
        (["{good}", "--devices", "0"], "fleetsim run: error: --devices must be at least 1"),
        (["{good}", "--seed", "-1"], "fleetsim run: error: --seed must be non-negative"),
        (["{good}", "--devices", "ten"], "fleetsim run: error: argument --devices: invalid int"),
        (["{good}", "--frobnicate"], "fleetsim: error: unrecognized arguments: --frobnicate"),
        (["{missing}"], "fleetsim run: error: cannot read scenario"),
        ([], "fleetsim run: error: the following arguments are required: SCENARIO"),
        (["{good}", "--out", "{file}"], "fleetsim run: error: cannot create --out"),
    ],
)
def test_bad_input_is_one_line_on_stderr_and_exit_status_2(
    tmp_path: Path, args: list[str], message: str
) -> None:
    (tmp_path / "file").write_text("in the way")
    paths = {
        "good": write_scenario(tmp_path, BASE, name="good.toml"),
        "bad": write_scenario(tmp_path, BAD_FIELD, name="scenario.toml"),
        "mismatch": write_scenario(tmp_path, BAD_DOCUMENT, name="mismatch.toml"),
        "missing": tmp_path / "missing.toml",
        "file": tmp_path / "file" / "out",
    }
    # In this process; not quiet: no progress either.
    done = fleetsim_in_process("run", *(a.format(**paths) for a in args))
    assert done.returncode == 2
    assert done.stdout == ""
    assert len(done.stderr.splitlines()) == 1, done.stderr
    assert done.stderr.startswith(message), done.stderr
    assert "Traceback" not in done.stderr


@pytest.mark.slow  # end to end: the console process
def test_bad_input_exits_2_from_the_console_process(tmp_path: Path) -> None:
    done = fleetsim(write_scenario(tmp_path, BAD_FIELD))
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.splitlines() == [
        "fleetsim run: error: scenario.toml: Expected `int`, got `str` - at `$.fleet.devices`"
    ]


ENDLESS_SIMULATED = """\
name = "endless"
[run]
max_duration_s = 1e9
[fleet]
devices = 200
[[fleet.inventory]]
package = "agent"
versions = { "1.0.0" = 1.0 }
[[catalog.packages]]
name = "agent"
[[catalog.packages.versions]]
name = "1.0.0"
[[writers]]
name = "busy"
rate_per_s = 200
"""
ENDLESS_REAL = edited(("seed = 1", 'seed = 1\nclock = "real"'))


@pytest.mark.slow  # end to end
@pytest.mark.parametrize("text", [ENDLESS_SIMULATED, ENDLESS_REAL], ids=["simulated", "real"])
def test_ctrl_c_stops_the_run_and_still_writes_its_report(tmp_path: Path, text: str) -> None:
    path = write_scenario(tmp_path, text)
    out = tmp_path / "out"
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "run", str(path), "--quiet", "--out", str(out)],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not (out / "events.jsonl.gz").exists():  # created as the run starts
            assert process.poll() is None, process.communicate()
            assert time.monotonic() < deadline
            time.sleep(0.05)
        time.sleep(1.5)
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    data = read(out)
    assert data["interrupted"] is True
    assert data["stop_reason"] == "interrupted"
    assert isinstance(data["duration_s"], float)
    assert data["duration_s"] > 0
    assert (out / "report.html").exists()
