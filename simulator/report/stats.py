"""Statistics for the report, with numpy: summaries, histogram bins, timeline downsampling.

Percentiles use numpy's ``method="linear"`` (Hyndman & Fan type 7, the default of numpy, R and
Excel's ``PERCENTILE.INC``): for sorted values ``x[0..n-1]`` the ``p``-th percentile is read at
rank ``h = (n - 1) * p / 100`` and interpolated linearly between ``x[floor(h)]`` and
``x[ceil(h)]``. It never extrapolates, so ``p0`` is the minimum and ``p100`` the maximum.

Non-finite values (NaN, ±inf) are dropped before anything is computed: a latency that could not
be measured is not a latency. Empty input gives a :class:`Summary` of ``None`` values and a
zero count, never an exception.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Final

import numpy as np
import numpy.typing as npt

from simulator.report.model import status_order

__all__ = [
    "PERCENTILE_METHOD",
    "Histogram",
    "Summary",
    "downsample_indices",
    "ecdf",
    "histogram",
    "histogram_edges",
    "percent",
    "summarize",
    "summarize_by",
]

#: The ``method`` passed to :func:`numpy.percentile`; see the module docstring.
PERCENTILE_METHOD: Final = "linear"
#: Log-spaced bins once the largest value is this many times the smallest positive one.
LOG_SPREAD: Final = 100.0
#: Histogram bins per decade when log-spaced.
BINS_PER_DECADE: Final = 12


@dataclass(frozen=True, slots=True)
class Summary:
    """Location and spread of a set of values; every float is ``None`` when ``count`` is 0.

    Attributes:
        count: Number of finite values summarised.
        min: Smallest value.
        max: Largest value.
        mean: Arithmetic mean.
        p50: Median (linear interpolation, see module docstring).
        p90: 90th percentile.
        p99: 99th percentile.
    """

    count: int
    min: float | None
    max: float | None
    mean: float | None
    p50: float | None
    p90: float | None
    p99: float | None


def _finite(values: npt.ArrayLike) -> npt.NDArray[np.float64]:
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    return array[np.isfinite(array)]


def summarize(values: npt.ArrayLike) -> Summary:
    """Count, min, max, mean and p50/p90/p99 of the finite values.

    Args:
        values: Any array-like of numbers; non-finite entries are ignored.

    Returns:
        The summary; all ``None`` (count 0) when no finite value is given.
    """
    array = _finite(values)
    if array.size == 0:
        return Summary(count=0, min=None, max=None, mean=None, p50=None, p90=None, p99=None)
    p50, p90, p99 = np.percentile(array, (50.0, 90.0, 99.0), method=PERCENTILE_METHOD)
    return Summary(
        count=int(array.size),
        min=float(array.min()),
        max=float(array.max()),
        mean=float(array.mean()),
        p50=float(p50),
        p90=float(p90),
        p99=float(p99),
    )


def summarize_by(values: npt.ArrayLike, labels: npt.ArrayLike) -> dict[str, Summary]:
    """:func:`summarize` per distinct label, in :func:`~simulator.report.model.status_order`.

    Args:
        values: Numbers, one per label.
        labels: Strings, one per value.

    Returns:
        Label -> summary of its values. A label whose values are all non-finite still appears,
        with a count of 0.

    Raises:
        ValueError: ``values`` and ``labels`` differ in length.
    """
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    names = np.asarray(labels, dtype=np.str_).reshape(-1)
    if array.shape != names.shape:
        raise ValueError(f"{array.size} values but {names.size} labels")
    return {
        label: summarize(array[names == label]) for label in status_order(np.unique(names).tolist())
    }


def percent(part: int, whole: int) -> float | None:
    """``100 * part / whole``, or ``None`` when ``whole`` is 0 (no denominator, no percentage)."""
    return None if whole == 0 else 100.0 * part / whole


@dataclass(frozen=True, slots=True, eq=False)
class Histogram:
    """Counts of values in shared bins, per label.

    Attributes:
        edges: ``len(counts) + 1`` increasing bin edges.
        log: Whether the edges are log-spaced (plot on a log axis).
        counts: Label -> counts per bin, labels in status order; every count array sums to the
            number of finite values carrying that label.
    """

    edges: npt.NDArray[np.float64]
    log: bool
    counts: dict[str, npt.NDArray[np.int64]]


def histogram_edges(
    values: npt.ArrayLike, *, max_bins: int = 60
) -> tuple[npt.NDArray[np.float64], bool]:
    """Bin edges for a latency histogram.

    Log-spaced (:data:`BINS_PER_DECADE` a decade, at most ``max_bins``) from the smallest positive
    value to the largest when the largest is at least :data:`LOG_SPREAD` times the smallest
    positive one and no value is negative; otherwise linear, with numpy's ``"auto"`` bin count
    capped at ``max_bins``.

    Args:
        values: Numbers; non-finite entries are ignored.
        max_bins: Most bins to return.

    Returns:
        ``(edges, log)``. Empty input gives one bin ``[0, 1]``; a single distinct value one bin
        centred on it.
    """
    array = _finite(values)
    if array.size == 0:
        return np.array([0.0, 1.0]), False
    lo, hi = float(array.min()), float(array.max())
    if lo == hi:
        half = abs(lo) * 0.05 or 0.5
        return np.array([lo - half, hi + half]), False
    positive = array[array > 0]
    # Decades as a difference of logs: hi / low overflows for tiny positive values.
    decades = math.log10(hi) - math.log10(float(positive.min())) if positive.size else 0.0
    if lo >= 0 and decades >= math.log10(LOG_SPREAD):
        low = float(positive.min())
        bins = min(max_bins, max(1, math.ceil(decades * BINS_PER_DECADE)))
        return np.geomspace(low, hi, bins + 1), True
    bins = min(max_bins, max(1, np.histogram_bin_edges(array, bins="auto").size - 1))
    return np.linspace(lo, hi, bins + 1), False


def histogram(
    values: npt.ArrayLike, labels: npt.ArrayLike | None = None, *, max_bins: int = 60
) -> Histogram:
    """Histogram of ``values`` in :func:`histogram_edges` bins, split by label.

    Values outside the edges (zeros below a log-spaced first edge) are counted in the nearest
    end bin, so every finite value is counted exactly once.

    Args:
        values: Numbers; non-finite entries are ignored.
        labels: One string per value; ``None`` counts everything under the label ``"all"``.
        max_bins: Most bins.

    Returns:
        The histogram.

    Raises:
        ValueError: ``values`` and ``labels`` differ in length.
    """
    array = np.asarray(values, dtype=np.float64).reshape(-1)
    names = (
        np.full(array.shape, "all")
        if labels is None
        else np.asarray(labels, dtype=np.str_).reshape(-1)
    )
    if array.shape != names.shape:
        raise ValueError(f"{array.size} values but {names.size} labels")
    keep = np.isfinite(array)
    array, names = array[keep], names[keep]
    edges, log = histogram_edges(array, max_bins=max_bins)
    clipped = np.clip(array, edges[0], edges[-1])
    counts: dict[str, npt.NDArray[np.int64]] = {}
    for label in status_order(np.unique(names).tolist()):
        hist, _ = np.histogram(clipped[names == label], bins=edges)
        counts[label] = hist.astype(np.int64)
    return Histogram(edges=edges, log=log, counts=counts)


def ecdf(
    values: npt.ArrayLike, *, points: int = 200
) -> tuple[npt.NDArray[np.float64], npt.NDArray[np.float64]]:
    """The empirical distribution function, sampled at ``points`` evenly spaced fractions.

    Args:
        values: Numbers; non-finite entries are ignored.
        points: Number of points on the curve (at least 2).

    Returns:
        ``(x, fraction)``: the value below which ``fraction`` of the values lie (linear
        percentiles from 0 to 1). Both are empty for empty input.
    """
    array = _finite(values)
    if array.size == 0:
        return np.empty(0), np.empty(0)
    fractions = np.linspace(0.0, 1.0, max(2, points))
    return np.quantile(array, fractions, method=PERCENTILE_METHOD), fractions


def downsample_indices(
    n: int, max_points: int, weight: Sequence[float] | npt.NDArray[np.generic] | None = None
) -> npt.NDArray[np.intp]:
    """Indices of at most ``max_points`` of ``n`` samples, for plotting a long timeline.

    The first and last samples are always kept. Without ``weight`` the rest are evenly spaced;
    with it, the samples are cut into equal buckets and each bucket keeps its sample of largest
    weight, so a short spike (of inconsistent shadows, say) survives the downsampling.

    Args:
        n: Number of samples.
        max_points: Most indices to return (at least 2).
        weight: Optional per-sample weight, length ``n``.

    Returns:
        Increasing, distinct indices into the samples.

    Raises:
        ValueError: ``weight`` is not of length ``n``.
    """
    if weight is not None and len(weight) != n:
        raise ValueError(f"weight has {len(weight)} entries for {n} samples")
    max_points = max(2, max_points)
    if n <= max_points:
        return np.arange(n, dtype=np.intp)
    if weight is None:
        return np.unique(np.rint(np.linspace(0, n - 1, max_points)).astype(np.intp))
    w = np.asarray(weight, dtype=np.float64)
    bounds = np.linspace(1, n - 1, max_points - 1).astype(np.intp)
    picks = [0]
    for start, stop in itertools.pairwise(bounds):
        if stop > start:
            picks.append(int(start + np.argmax(w[start:stop])))
    picks.append(n - 1)
    return np.unique(np.asarray(picks, dtype=np.intp))
