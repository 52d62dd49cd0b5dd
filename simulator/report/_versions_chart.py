"""The report's version-distribution chart: each deployed package's reported versions over time.

One stacked-area panel per package, from :attr:`RunResult.versions` (GetBucketsAggregation over
``shadow.name.$package.reported.<package>.version`` during the run), versions in natural order
(``1.9.0`` before ``1.10.0``), and on top the things whose ``$package`` names no version of it.
Drawn with the helpers of :mod:`._charts` (same style, same deterministic SVG).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING, Final

import numpy as np

from simulator.report import _format
from simulator.report._charts import PALETTE, _label, _legend, _no_data, _plain_ticks
from simulator.report.model import RunResult, VersionSample

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["draw_versions", "natural_key"]

_NONE_COLOR: Final = "#d9dce1"
_DIGITS: Final = re.compile(r"(\d+)")


def natural_key(version: str) -> tuple[tuple[int, int | str], ...]:
    """Order versions as people read them: digit runs by value, the rest as text."""
    return tuple(
        (0, int(part)) if part.isdigit() else (1, part) for part in _DIGITS.split(version) if part
    )


def _panel(ax: Axes, package: str, samples: Sequence[VersionSample], divisor: float) -> None:
    ax.set_title(_label(f"{package}: reported version in $package (fleet indexing)"))
    t = np.array([s.t for s in samples], dtype=np.float64) / divisor
    versions = sorted({v for s in samples for v in s.buckets}, key=natural_key)
    layers = [np.array([s.buckets.get(v, 0) for s in samples], np.float64) for v in versions]
    labels = [_label(v) for v in versions]
    colors = [PALETTE[i % len(PALETTE)] for i in range(len(versions))]
    missing = np.array([s.things - sum(s.buckets.values()) for s in samples], np.float64)
    if np.any(missing > 0):
        layers.append(np.maximum(missing, 0.0))
        labels.append("no version reported")
        colors.append(_NONE_COLOR)
    if layers:
        ax.stackplot(t, layers, labels=labels, colors=colors, linewidth=0.0)
        _legend(ax, reverse=True)
    else:
        _no_data(ax, "no things indexed")
    ax.set_ylabel("things")
    _plain_ticks(ax, x=True, counts=True)
    ax.set_ylim(bottom=0)


def draw_versions(fig: Figure, result: RunResult) -> None:
    """Draw one panel per package of ``result.versions`` on ``fig``."""
    samples = result.versions
    packages = list(dict.fromkeys(s.package for s in samples))
    if not packages:
        _no_data(fig.subplots(), "no version samples")
        return
    axes = fig.subplots(len(packages), 1, sharex=True, squeeze=False)[:, 0]
    divisor, unit = _format.time_unit(max(s.t for s in samples) - min(s.t for s in samples))
    for ax, package in zip(axes, packages, strict=True):
        _panel(ax, package, [s for s in samples if s.package == package], divisor)
    axes[-1].set_xlabel(f"time since start ({unit}, {result.clock} clock)")
