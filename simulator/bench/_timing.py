"""Timing harness shared by the benchmarks: calibrated, interleaved rounds; machine description.

Each cell (one implementation on one input) is warmed up, then calibrated so that one round lasts
at least ``round_s``. All cells' rounds are interleaved, the cell order rotated each round, so
that noise on a shared machine spreads over every row instead of hitting one; a benchmark
reports the median per-call time of the rounds.
"""

from __future__ import annotations

import gc
import math
import os
import platform
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any, Final

__all__ = ["CLOCKS", "Cell", "machine", "measure"]


@dataclass(slots=True)
class Cell:
    """One implementation on one input, and the per-call time of each of its rounds."""

    document: str
    implementation: str
    call: Callable[[], object]
    iterations: int = 1
    samples_ns: list[float] = field(default_factory=list)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.samples_ns)


#: ``wall`` is the reported measure; ``thread`` (CPU time of this thread) is a cross-check that
#: leaves out the time the process spends descheduled on a busy shared machine.
CLOCKS: Final[dict[str, Callable[[], int]]] = {
    "wall": time.perf_counter_ns,
    "thread": time.thread_time_ns,
}


def _time_ns(clock: Callable[[], int], call: Callable[[], object], iterations: int) -> int:
    start = clock()
    for _ in repeat(None, iterations):
        call()
    return clock() - start


def _calibrate(
    clock: Callable[[], int], call: Callable[[], object], warmup_s: float, round_s: float
) -> int:
    """Warm ``call`` up for ``warmup_s``; iterations per round so that one lasts ``round_s``."""
    done, spent, batch = 0, 0, 1
    while done < 3 or spent < warmup_s * 1e9:
        spent += _time_ns(clock, call, batch)
        done += batch
        batch *= 2
    return max(1, math.ceil(round_s * 1e9 * done / max(spent, 1)))


def measure(
    cells: Sequence[Cell], *, rounds: int, warmup_s: float, round_s: float, timer: str = "wall"
) -> None:
    """Interleaved rounds: every round times every cell once, starting one cell later."""
    clock = CLOCKS[timer]
    cells = list(cells)
    for cell in cells:
        cell.iterations = _calibrate(clock, cell.call, warmup_s, round_s)
    for index in range(rounds):
        shift = index % len(cells)
        for cell in cells[shift:] + cells[:shift]:
            gc.collect()
            elapsed = _time_ns(clock, cell.call, cell.iterations)
            cell.samples_ns.append(elapsed / cell.iterations)


def machine() -> dict[str, Any]:
    """Platform, CPU model (from ``/proc/cpuinfo`` where there is one), CPU count, Python."""
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }
