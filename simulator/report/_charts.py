"""The report's three charts as inline SVG, drawn with matplotlib.

matplotlib is imported inside :func:`render_charts` only: the CLI imports this package at start-up
and must not pay matplotlib's import time unless it writes a report. No pyplot: figures are made
with :class:`matplotlib.figure.Figure` and saved through the SVG backend, so no global backend
is chosen and nothing is left open. Output is deterministic: a fixed ``svg.hashsalt`` per chart,
no date in the metadata (the metadata block is dropped entirely), and ids prefixed per chart so
three SVGs can share one HTML document without id clashes.
"""

from __future__ import annotations

import html
import io
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import numpy.typing as npt

from simulator.report import _format
from simulator.report.model import EXECUTION_STATUSES, RunResult, Sample, status_order
from simulator.report.stats import downsample_indices, ecdf, histogram

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure
    from matplotlib.typing import RcKeyType

__all__ = ["MAX_POINTS", "STATUS_COLORS", "Charts", "render_charts"]

#: Most timeline points drawn per chart; the JSON keeps every sample.
MAX_POINTS: Final = 500
STATUS_COLORS: Final[Mapping[str, str]] = {
    "QUEUED": "#b8bec9",
    "IN_PROGRESS": "#4c8bf5",
    "SUCCEEDED": "#2e9e57",
    "FAILED": "#d64541",
    "TIMED_OUT": "#f39c34",
    "REJECTED": "#8e5bb5",
    "REMOVED": "#8c6d4f",
    "CANCELED": "#e377c2",
}
#: Colours for inconsistency causes and statuses the report does not know.
PALETTE: Final = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
#: Stacking order of the rollout chart: finished executions at the bottom, queued on top.
_STACK_ORDER: Final = (*EXECUTION_STATUSES[2:], "IN_PROGRESS", "QUEUED")
_RATE_COLOR: Final = "#2b6cd4"
_RC: Final[Mapping[RcKeyType, Any]] = {
    "svg.fonttype": "path",  # glyphs as paths: the chart looks the same without DejaVu installed
    "font.size": 9.0,
    "axes.titlesize": 10.5,
    "axes.titleweight": "bold",
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "axes.axisbelow": True,  # grid under the stacked areas, not striped across them
    "grid.color": "#e3e3e3",
    "grid.linewidth": 0.6,
    "legend.fontsize": 8.0,
    "legend.frameon": False,
    "path.simplify": True,
}


@dataclass(frozen=True, slots=True)
class Charts:
    """The charts, each an ``<svg>`` element as text."""

    rollout: str
    latency: str
    shadow: str
    #: The version distribution (empty when the run sampled none).
    versions: str = ""


def _label(text: str) -> str:
    """Text shown literally: ``$`` would start mathtext, a leading ``_`` hide a legend entry."""
    text = text.replace("$", r"\$")
    return " " + text if text.startswith("_") else text


def _color(name: str, position: int) -> str:
    return STATUS_COLORS.get(name, PALETTE[position % len(PALETTE)])


def _inline(svg: str, name: str, label: str) -> str:
    """matplotlib's SVG file as an element to inline: no prolog, no metadata, prefixed ids."""
    svg = svg[svg.index("<svg") :]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    ids = set(re.findall(r'\bid="([^"]+)"', svg))
    svg = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{name}-{m[1]}"', svg)
    svg = re.sub(
        r'(href="#|url\(#)([^")]+)',
        lambda m: m[1] + (f"{name}-{m[2]}" if m[2] in ids else m[2]),
        svg,
    )
    attrs = f'<svg class="chart" role="img" aria-label="{html.escape(label)}" '
    return svg.replace("<svg ", attrs, 1)


def _save(fig: Figure, name: str, label: str) -> str:
    import matplotlib as mpl  # noqa: PLC0415 - lazy on purpose, see module docstring

    buffer = io.BytesIO()
    with mpl.rc_context({"svg.hashsalt": f"fleetsim-{name}"}):
        fig.savefig(buffer, format="svg", metadata={"Date": None})
    return _inline(buffer.getvalue().decode("utf-8"), name, label)


def _no_data(ax: Axes, message: str) -> None:
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes, color="#666666")
    ax.set_xticks([])
    ax.set_yticks([])


def _plain_ticks(ax: Axes, *, x: bool = False, y: bool = False, counts: bool = False) -> None:
    """Tick labels as plain numbers (``0.1``, ``10``, ``10,000``), not ``10^-1`` mathtext.

    ``counts`` puts the y ticks on whole numbers: there is no such thing as 0.5 devices.
    """
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter  # noqa: PLC0415

    for axis in [a for a, on in ((ax.xaxis, x), (ax.yaxis, y or counts)) if on]:
        axis.set_major_formatter(FuncFormatter(lambda value, _pos: f"{value:,.10g}"))
        if axis.get_scale() == "log":
            axis.set_minor_formatter(NullFormatter())
    if counts:
        ax.yaxis.set_major_locator(
            MaxNLocator(nbins="auto", steps=[1, 2, 2.5, 5, 10], integer=True)
        )


def _legend(ax: Axes, reverse: bool = False) -> None:
    handles, labels = ax.get_legend_handles_labels()
    if reverse:
        handles, labels = handles[::-1], labels[::-1]
    if handles:
        ax.legend(handles, labels, loc="upper left", bbox_to_anchor=(1.01, 1.0))


def _series(samples: Sequence[Sample], key: Callable[[Sample], float]) -> npt.NDArray[np.float64]:
    return np.fromiter((key(s) for s in samples), dtype=np.float64, count=len(samples))


def _rollout(fig: Figure, result: RunResult) -> None:
    top, bottom = fig.subplots(2, 1, sharex=True, height_ratios=(3.0, 1.2))
    top.set_title("Rollout: job executions by status")
    samples = result.timeline
    if not samples:
        _no_data(top, "no timeline samples")
        _no_data(bottom, "")
        return
    picked = [samples[i] for i in downsample_indices(len(samples), MAX_POINTS)]
    span = samples[-1].t - samples[0].t
    divisor, unit = _format.time_unit(span)
    seconds = _series(picked, lambda s: s.t)
    t = seconds / divisor
    present = {status for s in samples for status in s.executions}
    known = [s for s in _STACK_ORDER if s in present]
    statuses = known + [s for s in status_order(present) if s not in known]
    layers = [[s.executions.get(status, 0) for s in picked] for status in statuses]
    if statuses:
        top.stackplot(
            t,
            layers,
            labels=[_label(s) for s in statuses],
            colors=[_color(s, i) for i, s in enumerate(statuses)],
            linewidth=0.0,
        )
    else:
        _no_data(top, "no job executions")
    top.set_ylabel("executions")
    _plain_ticks(top, counts=True)
    top.set_ylim(bottom=0)
    _legend(top, reverse=True)
    online = _series(picked, lambda s: s.devices_online)
    bottom.plot(t, online, color="#333333", linewidth=1.2)
    bottom.set_ylabel("devices online")
    _plain_ticks(bottom, x=True, counts=True)
    bottom.set_ylim(bottom=0)
    bottom.set_xlabel(f"time since start ({unit}, {result.clock} clock)")
    if len(picked) > 1:
        messages = _series(picked, lambda s: s.messages)
        dt = np.diff(seconds)
        rate = np.divide(np.diff(messages), dt, out=np.zeros_like(dt), where=dt > 0)
        twin = bottom.twinx()
        twin.step(t[1:], rate, where="pre", color=_RATE_COLOR, linewidth=0.9)
        twin.set_ylabel("messages/s")
        _plain_ticks(twin, y=True)
        twin.set_ylim(bottom=0)
        twin.grid(False)
        twin.spines["right"].set_visible(True)
        # Coloured axes instead of a legend: a legend beside a twin axis collides with its label.
        twin.yaxis.label.set_color(_RATE_COLOR)
        twin.tick_params(axis="y", colors=_RATE_COLOR)


def _latency(fig: Figure, result: RunResult, summary: Mapping[str, Any]) -> None:
    left, right = fig.subplots(1, 2, width_ratios=(1.5, 1.0))
    left.set_title("Completion latency: job creation → terminal state")
    right.set_title("Cumulative distribution")
    latencies = result.latencies_s
    finite = np.isfinite(latencies)
    if not finite.any():
        _no_data(left, "no terminal executions")
        _no_data(right, "")
        return
    divisor, unit = _format.time_unit(float(np.max(latencies[finite])))
    hist = histogram(latencies, result.latency_status)
    edges = hist.edges / divisor
    base = np.zeros(edges.size - 1)
    for i, (status, counts) in enumerate(hist.counts.items()):
        left.stairs(
            base + counts,
            edges,
            baseline=base.copy(),
            fill=True,
            color=_color(status, i),
            label=f"{_label(status)} ({int(counts.sum()):,})",
        )
        base = base + counts
    marks = [(p, summary[p]) for p in ("p50", "p90", "p99") if summary.get(p) is not None]
    styles = {"p50": "-", "p90": "--", "p99": ":"}
    for name, value in marks:
        left.axvline(
            value / divisor,
            color="#111111",
            linestyle=styles[name],
            linewidth=1.1,
            label=f"{name} {value / divisor:.3g} {unit}",
        )
    left.set_xlabel(f"latency ({unit}, {result.clock} clock)")
    left.set_ylabel("executions per bin")
    right.set_xlabel(f"latency ({unit})")
    right.set_ylabel("% of terminal executions done")
    x, fraction = ecdf(latencies, points=400)
    if hist.log:
        left.set_xscale("log")
        right.set_xscale("log")
        keep = x > 0
        x, fraction = x[keep], fraction[keep]
    _plain_ticks(left, x=True, counts=True)
    _plain_ticks(right, x=True)
    right.plot(x / divisor, fraction * 100.0, color="#111111", linewidth=1.4)
    for name, value in marks:
        level = float(name[1:])
        right.plot([value / divisor], [level], marker="o", markersize=3.5, color="#111111")
        right.annotate(f" {name}", (value / divisor, level), fontsize=7.5, va="top")
    right.set_xlim(edges[0], edges[-1])
    right.set_ylim(0, 101)
    _legend(left)


def _shadow(fig: Figure, result: RunResult) -> None:
    ax = fig.subplots()
    ax.set_title(_label("$package shadow: devices whose shadow disagrees with what they run"))
    samples = result.timeline
    if not samples:
        _no_data(ax, "no timeline samples")
        return
    # Keep each bucket's worst sample: a brief burst of inconsistencies must stay visible.
    weight = [s.inconsistent for s in samples]
    picked = [samples[i] for i in downsample_indices(len(samples), MAX_POINTS, weight)]
    divisor, unit = _format.time_unit(samples[-1].t - samples[0].t)
    t = _series(picked, lambda s: s.t) / divisor
    totals: dict[str, int] = {}
    for s in samples:
        for cause, n in s.by_cause.items():
            totals[cause] = totals.get(cause, 0) + n
    causes = sorted(totals, key=lambda c: (-totals[c], c))
    layers = [
        np.array([s.by_cause.get(cause, 0) for s in picked], dtype=np.float64) for cause in causes
    ]
    unattributed = _series(picked, lambda s: s.inconsistent - sum(s.by_cause.values()))
    if np.any(unattributed > 0):
        causes.append("unattributed")
        layers.append(np.maximum(unattributed, 0.0))
    if causes and max(float(layer.max()) for layer in layers) > 0:
        ax.stackplot(
            t,
            layers,
            labels=[_label(c) for c in causes],
            colors=[PALETTE[(i + 3) % len(PALETTE)] for i in range(len(causes))],
            linewidth=0.0,
        )
        _legend(ax, reverse=True)
    else:
        ax.plot(t, np.zeros_like(t), color=STATUS_COLORS["SUCCEEDED"], linewidth=1.5)
        ax.set_ylim(0, 1)
        ax.text(
            0.5,
            0.5,
            _label("no $package inconsistencies observed"),
            ha="center",
            va="center",
            transform=ax.transAxes,
            color="#2e7d4f",
        )
    ax.set_ylim(bottom=0)  # keeps the (0, 1) of an all-zero chart
    ax.set_ylabel("inconsistent devices")
    _plain_ticks(ax, x=True, counts=True)
    ax.set_xlabel(f"time since start ({unit}, {result.clock} clock)")


def render_charts(result: RunResult, latency_summary: Mapping[str, Any]) -> Charts:
    """Draw the rollout, latency and ``$package`` charts, and the version distribution (when
    the run sampled it, :mod:`._versions_chart`).

    Args:
        result: What the run measured.
        latency_summary: ``report_dict(result)["completion_latency_s"]``, so the marked
            percentiles are exactly the numbers the report prints.

    Returns:
        The charts as inline ``<svg>`` text.
    """
    import matplotlib as mpl  # noqa: PLC0415 - lazy on purpose, see module docstring
    from matplotlib.figure import Figure  # noqa: PLC0415

    with mpl.rc_context(dict(_RC)):
        rollout = Figure(figsize=(9.5, 4.8), layout="constrained")
        _rollout(rollout, result)
        latency = Figure(figsize=(9.5, 3.6), layout="constrained")
        _latency(latency, result, latency_summary)
        shadow = Figure(figsize=(9.5, 3.2), layout="constrained")
        _shadow(shadow, result)
        versions = ""
        if result.versions:
            from simulator.report._versions_chart import draw_versions  # noqa: PLC0415

            packages = len({v.package for v in result.versions})
            figure = Figure(figsize=(9.5, 0.6 + 2.6 * packages), layout="constrained")
            draw_versions(figure, result)
            versions = _save(figure, "versions", "Reported package versions over time")
        return Charts(
            rollout=_save(rollout, "rollout", "Job executions by status over time"),
            latency=_save(latency, "latency", "Distribution of completion latency"),
            shadow=_save(shadow, "shadow", "$package shadow inconsistencies over time"),
            versions=versions,
        )
