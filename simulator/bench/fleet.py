"""``fleetsim bench fleet``: a scenario's rollout at 10k, 50k, 100k and 1M devices, simulated clock.

::

    fleetsim bench fleet [--scenario scenarios/quickstart.toml] [--json] [--quick]
                         [--sizes 10000,50000,100000,1000000] [--repeat 3]

(``uv run python -m benchmarks.fleet`` in a checkout runs the same with the quickstart.)

Each run is a fresh subprocess (so peak RSS is that run's alone) that loads the scenario with
``--devices N`` and calls :func:`simulator.engine.run.run_scenario` without an event log, as
``fleetsim run --no-event-log --quiet`` does; report writing is not timed. The scenario's
``run.max_duration_s`` grows with the fleet as the rollout's length does (quickstart's 4 hours
are for its 10,000 devices; a million at 1,000 a minute need 17 hours), so every size plays the
whole rollout; runs end when every job has finished, so the 10k-100k runs are unchanged by it.
Recorded per run:

* ``wall_s``: :attr:`RunResult.wall_s` (world set-up plus the run, excluding the report);
  ``setup_s`` is the set-up part of it, ``cpu_s`` the process CPU time over the same span;
* ``peak_rss_mb``: the child's ``ru_maxrss``; ``rss_per_device_kb`` counts only what the run
  added to the RSS the child had after its imports;
* ``all_terminal``: every execution of every job is terminal, no target still waits for the
  rollout (the report's ``executions`` counts every status);
* ``package_updated``: every SUCCEEDED execution had its ``$package`` merge-written by Jobs
  (read back right after the write: a manual writer may overwrite it later, which is the
  scenario's point) and no write failed.

Sizes run interleaved (10k, 50k, 100k, 10k, ...) so that noise on a shared machine spreads over
every size; the table shows each size's median run. Targets (the fleet engine issue): 100,000
devices in at most 30 s wall and 1.5 GB peak RSS, 10,000 devices in at most 4 s; and (issue 10)
1,000,000 devices in one process within 3 GB peak RSS and at most 11 times the 100k wall time
of the same benchmark run (cost grows linearly with the fleet).
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import msgspec

from simulator.bench._procs import python_module
from simulator.bench._timing import machine
from simulator.core.errors import UsageError

if TYPE_CHECKING:
    from simulator.engine.scenario import Scenario

__all__ = ["add_arguments", "measure", "run", "table"]

#: The default scenario, relative to the working directory (a checkout, or /src in the image).
SCENARIO: Final = Path("scenarios/quickstart.toml")
SIZES: Final = (10_000, 50_000, 100_000, 1_000_000)
QUICK_SIZES: Final = (200, 1_000)
#: devices -> (wall seconds or None, peak RSS MB or None) the run must stay within.
TARGETS: Final[Mapping[int, tuple[float | None, float | None]]] = {
    10_000: (4.0, None),
    100_000: (30.0, 1536.0),
    1_000_000: (None, 3072.0),
}
#: (small, large, ratio): the large fleet's wall time is at most ``ratio`` times the small one's.
SCALING: Final = (100_000, 1_000_000, 11.0)
_TERMINAL: Final = frozenset(
    {"SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"}
)


# -- one run, in its own process ------------------------------------------------------------


class _Probe:
    """Watches one in-process world: set-up time and every ``$package`` write Jobs makes."""

    def __init__(self) -> None:
        self.world: Any = None
        self.setup_s = 0.0
        self.written: dict[str, bool] = {}  # thing -> the write left the job's versions there

    def attach(self, world: Any, setup_s: float) -> None:
        self.world, self.setup_s = world, setup_s
        shadows = world.emulator.shadows
        merge = shadows.merge_package_versions

        def checked(thing_name: str, versions: Mapping[str, str | None]) -> None:
            merge(thing_name, versions)
            reported = shadows.reported(thing_name, "$package") or {}
            self.written[thing_name] = all(
                (reported.get(package) or {}).get("version") == version
                if version is not None
                else package not in reported
                for package, version in versions.items()
            )

        # Jobs calls the service's method through its instance: shadow it there.
        shadows.merge_package_versions = checked

    def verdicts(self) -> dict[str, Any]:
        jobs = self.world.emulator.jobs
        statuses: dict[str, int] = {}
        all_terminal = True
        package_updated = jobs.package_write_failures == 0
        job_ids = list(self.world.job_created_at)
        for job_id in job_ids:
            state = jobs.job_state(job_id)
            all_terminal &= state.waiting == 0  # nobody left waiting for the rollout
            latest: dict[str, Any] = {}
            for ex in jobs.executions(job_id):
                latest[ex.thing] = ex  # in each thing's history order: the last is current
            for thing, ex in latest.items():
                status = ex.status.value
                statuses[status] = statuses.get(status, 0) + 1
                all_terminal &= status in _TERMINAL
                if status == "SUCCEEDED" and state.destinations:
                    package_updated &= self.written.get(thing, False)
        return {
            "all_terminal": all_terminal and bool(job_ids),
            "package_updated": package_updated,
            "executions": dict(sorted(statuses.items())),
        }


def _child(devices: int, scenario_path: Path) -> dict[str, Any]:
    from simulator.engine import run as run_module  # noqa: PLC0415 - child process only
    from simulator.engine.planes import local  # noqa: PLC0415
    from simulator.engine.scenario import load_scenario  # noqa: PLC0415

    scenario = _scaled(load_scenario(scenario_path), devices)
    probe = _Probe()
    # The in-process plane builds its World by this module's name: time and watch the one built.
    plane_module: Any = local
    base = plane_module.World

    class ProbedWorld(base):  # type: ignore[misc, valid-type]
        def __init__(self, spec: Any) -> None:
            start = time.perf_counter()
            super().__init__(spec)
            probe.attach(self, time.perf_counter() - start)

    plane_module.World = ProbedWorld
    load = os.getloadavg()
    rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    cpu = time.process_time()
    result = run_module.run_scenario(scenario)
    cpu = time.process_time() - cpu
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    events = result.extra["events"]
    assert isinstance(events, int), events
    return {
        "devices": devices,
        "wall_s": round(result.wall_s, 3),
        "cpu_s": round(cpu, 3),
        "setup_s": round(probe.setup_s, 3),
        "devices_per_s": round(devices / result.wall_s, 1),
        "events": events,
        "events_per_s": round(events / result.wall_s, 1),
        "peak_rss_mb": round(peak, 1),
        "rss_per_device_kb": round((peak - rss_before) * 1024 / devices, 2),
        "simulated_s": round(result.duration_s, 1),
        "stop_reason": result.stop_reason,
        "load_average_at_start": [round(x, 2) for x in load],
        **probe.verdicts(),
    }


def _scaled(scenario: Scenario, devices: int) -> Scenario:
    """``scenario`` with ``devices`` devices and its time limit grown in proportion (never
    shrunk): at a fixed rollout rate the rollout's length grows with the fleet."""
    from simulator.engine.scenario import Scenario  # noqa: PLC0415 - child process only

    run = scenario.spec.run
    factor = max(1.0, devices / scenario.fleet.devices)
    limit = msgspec.structs.replace(run, max_duration_s=run.max_duration_s * factor)
    spec = msgspec.structs.replace(scenario.spec, run=limit)
    return Scenario(spec, scenario.path).with_devices(devices)


def _run_child(devices: int, scenario: Path) -> dict[str, Any]:
    proc = subprocess.run(
        python_module(__name__, "--child", str(devices), str(scenario)),
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{devices} devices: child failed\n{proc.stderr}")
    row: dict[str, Any] = json.loads(proc.stdout)
    return row


# -- the benchmark ---------------------------------------------------------------------------


def _median_run(runs: list[dict[str, Any]]) -> dict[str, Any]:
    ordered = sorted(runs, key=lambda r: r["wall_s"])
    row = dict(ordered[(len(ordered) - 1) // 2])
    row["wall_s_runs"] = [r["wall_s"] for r in runs]
    row["cpu_s_runs"] = [r["cpu_s"] for r in runs]
    row["cpu_s_median"] = round(statistics.median(r["cpu_s"] for r in runs), 3)
    row["peak_rss_mb"] = max(r["peak_rss_mb"] for r in runs)
    row["all_terminal"] = all(r["all_terminal"] for r in runs)
    row["package_updated"] = all(r["package_updated"] for r in runs)
    return row


def _targets(results: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for row in results:
        target = TARGETS.get(row["devices"])
        if target is None:
            continue
        wall, rss = target
        ok = row["all_terminal"] and row["package_updated"]
        parts = []
        if wall is not None:
            ok = ok and row["wall_s"] <= wall
            parts.append(f"wall <= {wall:g} s")
        if rss is not None:
            ok = ok and row["peak_rss_mb"] <= rss
            parts.append(f"peak RSS <= {rss:g} MB")
        text = f"{row['devices']:,} devices: {', '.join(parts)}"
        out.append({"devices": row["devices"], "target": text, "pass": ok})
    small, large, ratio = SCALING
    by_size = {row["devices"]: row for row in results}
    if small in by_size and large in by_size:
        # Medians of the same benchmark run: both sizes saw the same machine.
        measured = by_size[large]["wall_s"] / by_size[small]["wall_s"]
        text = (
            f"{large:,} devices: wall <= {ratio:g} x the {small:,}-device wall "
            f"(measured {measured:.2f} x)"
        )
        out.append({"devices": large, "target": text, "pass": measured <= ratio})
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Every size ``repeat`` times, interleaved, each in a fresh process: the JSON object."""
    if args.repeat is not None and args.repeat < 1:
        raise UsageError("--repeat must be at least 1")
    sizes = QUICK_SIZES if args.quick and args.sizes is None else _sizes(args.sizes)
    repeat = args.repeat if args.repeat is not None else (1 if args.quick else 3)
    scenario = _checked_scenario(Path(args.scenario))
    here = Path.cwd()
    start_load = [round(x, 2) for x in os.getloadavg()]
    runs: dict[int, list[dict[str, Any]]] = {n: [] for n in sizes}
    for _ in range(repeat):
        for devices in sizes:
            runs[devices].append(_run_child(devices, scenario))
    results = [_median_run(runs[n]) for n in sizes]
    return {
        "benchmark": "fleet",
        "scenario": str(scenario.relative_to(here) if scenario.is_relative_to(here) else scenario),
        "repeat": repeat,
        "machine": {**machine(), "load_average_at_start": start_load},
        "results": results,
        "targets": _targets(results),
    }


def _checked_scenario(path: Path) -> Path:
    """``path`` resolved, once loaded here so that a bad scenario is one line (exit 2)."""
    from simulator.engine.scenario import load_scenario  # noqa: PLC0415 - the engine is heavy

    load_scenario(path)
    return path.resolve()


def _sizes(text: str | None) -> tuple[int, ...]:
    if text is None:
        return SIZES
    try:
        sizes = tuple(int(part.replace("_", "")) for part in text.split(",") if part.strip())
    except ValueError:
        sizes = ()
    if not sizes or min(sizes) < 1:
        raise UsageError(f"--sizes {text!r}: give a comma-separated list of positive device counts")
    return sizes


def table(data: dict[str, Any]) -> str:
    m = data["machine"]
    lines = [
        f"fleet benchmark: {data['scenario']}, median of {data['repeat']} run(s) per size",
        f"machine: {m['platform']}; {m['cpu']} ({m['cpus']} CPUs); {m['python']}; "
        f"load average at start {m['load_average_at_start']}",
        "",
        "| devices | wall s | CPU s | setup s | devices/s | events/s | peak RSS MB | "
        "RSS KB/device | all terminal | $package | load at start |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---|---|---|",
    ]
    for r in data["results"]:
        lines.append(
            f"| {r['devices']:,} | {r['wall_s']:.2f} | {r['cpu_s_median']:.2f} | "
            f"{r['setup_s']:.2f} | {r['devices_per_s']:,.0f} | {r['events_per_s']:,.0f} | "
            f"{r['peak_rss_mb']:,.0f} | {r['rss_per_device_kb']:.2f} | "
            f"{'yes' if r['all_terminal'] else 'NO'} | {'yes' if r['package_updated'] else 'NO'} | "
            f"{r['load_average_at_start'][0]:.2f} |"
        )
    if data["repeat"] > 1:
        lines.append("")
        for r in data["results"]:
            walls = ", ".join(f"{w:.2f}" for w in r["wall_s_runs"])
            cpus = ", ".join(f"{c:.2f}" for c in r["cpu_s_runs"])
            lines.append(f"{r['devices']:,} devices: wall s {walls}; CPU s {cpus}")
    if data["targets"]:
        lines.append("")
        for t in data["targets"]:
            lines.append(f"target {t['target']}: {'PASS' if t['pass'] else 'FAIL'}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help=f"sizes {QUICK_SIZES}, one run each")
    parser.add_argument("--sizes", help="comma-separated device counts (10000,...,1000000)")
    parser.add_argument("--repeat", type=int, help="runs per size, median reported (3)")
    parser.add_argument(
        "--scenario", type=Path, default=SCENARIO, help=f"scenario file (default {SCENARIO})"
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print the table, or one JSON object with ``--json``."""
    data = measure(args)
    print(json.dumps(data) if args.json else table(data))
    return 0


def _child_main(argv: list[str]) -> int:
    """One run in this process (``python -m simulator.bench.fleet --child N SCENARIO``)."""
    print(json.dumps(_child(int(argv[1]), Path(argv[2]))))
    return 0


if __name__ == "__main__":
    sys.exit(_child_main(sys.argv[1:]))
