"""``fleetsim sweep``: every variant of a scenario times every seed, one run per worker process.

Each (variant, seed) is one ordinary in-process run (:func:`simulator.engine.run.run_scenario`,
simulated clock, no event log) in a worker of a ``spawn`` process pool: a run turns the garbage
collector off and owns an event loop, so runs never share a process with each other or with the
command. A worker sends back only the handful of numbers the sweep keeps (:class:`RunNumbers`);
results are placed by their position in the matrix, never by completion order, so the same
sweep gives the same ``sweep.json`` however the runs were scheduled.
"""

from __future__ import annotations

import multiprocessing
import os
import re
import signal
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

from simulator.core.errors import UsageError
from simulator.engine.consistency import CAUSES
from simulator.engine.run import run_scenario
from simulator.engine.scenario import Scenario, load_scenario
from simulator.lab.stats import CI_METHOD, measure
from simulator.lab.vary import Variant, apply_overrides
from simulator.report.stats import summarize

__all__ = [
    "RunNumbers",
    "Sweep",
    "default_jobs",
    "parse_seeds",
    "prepare",
    "run_sweep",
    "sweep_dict",
]

_RANGE: Final = re.compile(r"(\d+)(?:-(\d+))?")
_MAX_SEEDS: Final = 100_000


def parse_seeds(text: str, /) -> tuple[int, ...]:
    """``1-50``, ``3``, ``1,4,9`` or ``1-5,10-12``: the seeds in order, each once.

    Raises:
        UsageError: anything else (a reversed range, a negative or non-numeric seed).
    """
    seeds: list[int] = []
    for part in text.split(","):
        match = _RANGE.fullmatch(part.strip())
        if match is None:
            raise UsageError(f"--seeds {text}: expected FIRST-LAST or a list such as 1,2,5")
        first = int(match[1])
        last = int(match[2]) if match[2] is not None else first
        if last < first:
            raise UsageError(f"--seeds {text}: range {part.strip()} ends before it starts")
        if last - first >= _MAX_SEEDS:
            raise UsageError(f"--seeds {text}: at most {_MAX_SEEDS:,} seeds")
        seeds.extend(s for s in range(first, last + 1) if s not in seeds)
    return tuple(seeds)


@dataclass(frozen=True, slots=True)
class RunNumbers:
    """What one run contributes to the sweep."""

    inconsistent: int
    by_cause: dict[str, int]
    latency_p50_s: float | None
    latency_p99_s: float | None
    writer_conflicts: int
    redundant_executions: int = 0


@dataclass(frozen=True, slots=True)
class Sweep:
    """A checked matrix: the scenario file, the variants, the seeds and the fleet size."""

    path: Path
    name: str
    variants: tuple[Variant, ...]
    seeds: tuple[int, ...]
    devices: int

    def tasks(self) -> list[tuple[str, tuple[tuple[str, Any], ...], int, int]]:
        """One picklable task per (variant, seed), variant-major."""
        return [
            (str(self.path), variant.overrides, self.devices, seed)
            for variant in self.variants
            for seed in self.seeds
        ]


def _scenario(path: str, overrides: Sequence[tuple[str, Any]], devices: int | None) -> Scenario:
    scenario = apply_overrides(load_scenario(Path(path)), overrides)
    if devices is not None:
        scenario = scenario.with_devices(devices)
    return scenario


def prepare(
    path: Path, variants: Sequence[Variant], seeds: Sequence[int], devices: int | None
) -> Sweep:
    """Check everything before any run starts: the file, every variant, the fleet size.

    Raises:
        UsageError: a bad scenario, ``--vary``, ``--devices``, or a variant on the real clock.
    """
    if not seeds:
        raise UsageError("--seeds: give at least one seed")
    base = load_scenario(path)
    size = base.fleet.devices if devices is None else base.with_devices(devices).fleet.devices
    for variant in variants:
        scenario = _scenario(str(path), variant.overrides, devices)
        if scenario.run.clock != "simulated":
            raise UsageError(
                f'{path.name}: a sweep needs run.clock = "simulated" ({variant.label()})'
            )
    return Sweep(path, base.name, tuple(variants), tuple(seeds), size)


def _run_task(task: tuple[str, tuple[tuple[str, Any], ...], int, int]) -> RunNumbers:
    """One run, in a worker process."""
    path, overrides, devices, seed = task
    result = run_scenario(_scenario(path, overrides, devices).with_seed(seed), None)
    latency = summarize(result.latencies_s)
    return RunNumbers(
        inconsistent=result.shadow_inconsistent,
        by_cause=dict(result.shadow_by_cause),
        latency_p50_s=latency.p50,
        latency_p99_s=latency.p99,
        writer_conflicts=sum(w.conflicts for w in result.writers),
        redundant_executions=_count(result.extra.get("redundant_executions")),
    )


def _count(value: object) -> int:
    """A count of the report's ``extra`` (0 when the plane does not report it)."""
    return value if isinstance(value, int) else 0


def default_jobs() -> int:
    """One worker per CPU this process may run on."""
    if hasattr(os, "sched_getaffinity"):
        return len(os.sched_getaffinity(0))
    return os.cpu_count() or 1


def _quiet_worker() -> None:
    # Ctrl-C reaches the whole process group: the command shuts the pool down, workers just stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def run_sweep(
    sweep: Sweep,
    *,
    jobs: int | None = None,
    on_done: Callable[[int, int], None] | None = None,
) -> list[RunNumbers]:
    """Run every task of ``sweep``; returns their numbers in :meth:`Sweep.tasks` order.

    Args:
        sweep: the checked matrix.
        jobs: worker processes (default: one per CPU this process may use).
        on_done: called with (runs done, runs in all) after each run finishes.
    """
    tasks = sweep.tasks()
    workers = jobs if jobs is not None else default_jobs()
    if workers < 1:
        raise UsageError(f"--jobs must be at least 1, got {workers}")
    results: list[RunNumbers | None] = [None] * len(tasks)
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=min(workers, len(tasks)), mp_context=context, initializer=_quiet_worker
    ) as pool:
        pending: dict[Future[RunNumbers], int] = {
            pool.submit(_run_task, task): i for i, task in enumerate(tasks)
        }
        try:
            while pending:
                done, _ = wait(pending, return_when=FIRST_COMPLETED)
                for future in done:
                    results[pending.pop(future)] = future.result()
                if on_done is not None:
                    on_done(len(tasks) - len(pending), len(tasks))
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
    return [r for r in results if r is not None]


def sweep_dict(sweep: Sweep, numbers: Sequence[RunNumbers], /) -> dict[str, Any]:
    """``sweep.json``: per variant, each measure over the seeds (see the README)."""
    per = len(sweep.seeds)
    variants = []
    for v, variant in enumerate(sweep.variants):
        runs = numbers[v * per : (v + 1) * per]
        variants.append(
            {
                "vary": dict(variant.overrides),
                "seeds": list(sweep.seeds),
                "inconsistent": measure([r.inconsistent for r in runs]),
                "by_cause": {
                    cause: measure([r.by_cause.get(cause, 0) for r in runs]) for cause in CAUSES
                },
                "latency_p50_s": measure([r.latency_p50_s for r in runs]),
                "latency_p99_s": measure([r.latency_p99_s for r in runs]),
                "writer_conflicts": measure([r.writer_conflicts for r in runs]),
                "redundant_executions": measure([r.redundant_executions for r in runs]),
            }
        )
    return {
        "scenario": sweep.name,
        "devices": sweep.devices,
        "ci95_method": CI_METHOD,
        "variants": variants,
    }
