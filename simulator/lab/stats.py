"""One measure over the seeds of a variant: its values, their mean and a 95 % interval.

The interval is a **percentile bootstrap of the mean**: 10,000 resamples (with replacement, of
the same size as the seeds) drawn by numpy's PCG64 from a fixed seed, and the 2.5th and 97.5th
percentiles (numpy's ``linear`` method, as the report's) of their means. scipy is not a
dependency, so a Student t-interval would need its own t quantiles; the bootstrap needs nothing
but numpy and makes no normality assumption about counts that are often skewed or mostly zero.
With few seeds it is narrower than a t-interval (it undercovers below about ten seeds): read it
as a guide, and use more seeds to compare close variants.

A run without a value (no terminal execution, so no latency) is ``None`` in ``values`` and is
left out of the mean and the interval. The fixed bootstrap seed makes a sweep's numbers the same
every time it is run.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final, TypedDict

import numpy as np

__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "CI_METHOD", "Measure", "measure"]

BOOTSTRAP_RESAMPLES: Final = 10_000
BOOTSTRAP_SEED: Final = 20_260_101
CI_METHOD: Final = (
    f"percentile bootstrap of the mean, {BOOTSTRAP_RESAMPLES:,} resamples, "
    f"numpy PCG64 seed {BOOTSTRAP_SEED}"
)
_DIGITS: Final = 6


class Measure(TypedDict):
    """``{"mean", "ci95": [lo, hi], "values": [one per seed]}``; ``None`` when no seed has one."""

    mean: float | None
    ci95: list[float | None]
    values: list[float | None]


def measure(values: Sequence[float | None], /) -> Measure:
    """Mean and 95 % bootstrap interval of ``values`` (one per seed, ``None`` for no value)."""
    present = np.array([v for v in values if v is not None], dtype=np.float64)
    out_values = [None if v is None else _round(v) for v in values]
    if present.size == 0:
        return {"mean": None, "ci95": [None, None], "values": out_values}
    mean = float(present.mean())
    if present.size == 1 or np.all(present == present[0]):
        lo = hi = mean
    else:
        rng = np.random.default_rng(BOOTSTRAP_SEED)
        picks = rng.integers(0, present.size, size=(BOOTSTRAP_RESAMPLES, present.size))
        means = present[picks].mean(axis=1)
        lo, hi = (float(q) for q in np.percentile(means, [2.5, 97.5], method="linear"))
    return {"mean": _round(mean), "ci95": [_round(lo), _round(hi)], "values": out_values}


def _round(value: float) -> float:
    if isinstance(value, int):
        return value  # counts stay whole numbers in the JSON
    return round(float(value), _DIGITS)
