"""``sweep.html``: the variants of a sweep side by side, drawn from ``sweep.json``'s numbers.

The page is built from :func:`~simulator.lab.sweep.sweep_dict`'s output only, so the page and
the JSON cannot disagree. Charts are matplotlib SVG made with the run report's chart helpers
(its rc settings, deterministic SVG saving and label escaping); variants are ``V1``, ``V2``...
on the axes and spelled out in the table. Nothing is fetched when the page is viewed.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

import numpy as np
import orjson

from simulator.engine.consistency import CAUSES
from simulator.report import _charts

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

__all__ = ["render_sweep_html", "write_sweep"]

_STYLE: Final = """
body{font-family:system-ui,sans-serif;margin:1.5rem;color:#222}
h1{font-size:1.3rem}h2{font-size:1.05rem;margin-top:1.6rem}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(520px,1fr));gap:1rem}
svg.chart{width:100%;height:auto}
table{border-collapse:collapse;font-size:.85rem}
td,th{border-bottom:1px solid #ddd;padding:.25rem .6rem;text-align:right}
td:first-child,th:first-child,td.l{text-align:left}
.muted{color:#666;font-size:.85rem}
"""


def _mean(m: Mapping[str, Any]) -> float:
    return float("nan") if m["mean"] is None else float(m["mean"])


def _err(measures: Sequence[Mapping[str, Any]]) -> np.ndarray:
    """Asymmetric error bars (below, above the mean) of each measure; 0 where there is none."""
    below, above = [], []
    for m in measures:
        lo, hi = m["ci95"]
        mean = m["mean"]
        ok = mean is not None and lo is not None and hi is not None
        below.append(mean - lo if ok else 0.0)
        above.append(hi - mean if ok else 0.0)
    return np.array([below, above], dtype=np.float64)


def _axis(ax: Axes, n: int) -> np.ndarray:
    x = np.arange(n, dtype=np.float64)
    ax.set_xticks(x, [f"V{i + 1}" for i in range(n)])
    ax.set_xlim(-0.6, n - 0.4)
    return x


def _causes(fig: Figure, variants: Sequence[Mapping[str, Any]]) -> None:
    ax = fig.subplots()
    ax.set_title(_charts._label("$package inconsistencies by cause (mean over seeds, 95% CI)"))
    x = _axis(ax, len(variants))
    base = np.zeros(len(variants))
    for i, cause in enumerate(CAUSES):
        means = np.array([_mean(v["by_cause"][cause]) for v in variants])
        if not np.any(means > 0):
            continue
        color = _charts.PALETTE[(i + 3) % len(_charts.PALETTE)]
        ax.bar(x, means, 0.6, bottom=base, color=color, label=_charts._label(cause))
        base = base + means
    totals = [v["inconsistent"] for v in variants]
    ax.errorbar(
        x, [_mean(m) for m in totals], yerr=_err(totals), fmt="none", ecolor="#111", capsize=4
    )
    if not np.any(base > 0):
        ax.text(0.5, 0.5, "no inconsistency in any run", ha="center", transform=ax.transAxes)
    ax.set_ylabel("inconsistent devices")
    ax.set_ylim(bottom=0)
    _charts._plain_ticks(ax, counts=True)
    _charts._legend(ax, reverse=True)


def _per_seed(fig: Figure, variants: Sequence[Mapping[str, Any]]) -> None:
    ax = fig.subplots()
    ax.set_title(_charts._label("$package inconsistencies, each seed"))
    x = _axis(ax, len(variants))
    for i, variant in enumerate(variants):
        values = np.array(variant["inconsistent"]["values"], dtype=np.float64)
        # Spread the seeds across the slot in seed order (no random jitter: same page each time).
        offsets = np.linspace(-0.25, 0.25, values.size) if values.size > 1 else np.zeros(1)
        ax.scatter(x[i] + offsets, values, s=14, color="#4c8bf5", alpha=0.8, linewidths=0)
        ax.hlines(_mean(variant["inconsistent"]), x[i] - 0.3, x[i] + 0.3, color="#111")
    ax.set_ylabel("inconsistent devices")
    ax.set_ylim(bottom=0)
    _charts._plain_ticks(ax, counts=True)


def _latency(fig: Figure, variants: Sequence[Mapping[str, Any]]) -> None:
    ax = fig.subplots()
    ax.set_title("Completion latency (mean over seeds, 95% CI)")
    x = _axis(ax, len(variants))
    for shift, key, color in (
        (-0.12, "latency_p50_s", "#2e9e57"),
        (0.12, "latency_p99_s", "#d64541"),
    ):
        measures = [v[key] for v in variants]
        ax.errorbar(
            x + shift,
            [_mean(m) for m in measures],
            yerr=_err(measures),
            fmt="o",
            color=color,
            capsize=4,
            label=key.removeprefix("latency_").removesuffix("_s"),
        )
    ax.set_ylabel("seconds (simulated clock)")
    ax.set_ylim(bottom=0)
    _charts._plain_ticks(ax, y=True)
    _charts._legend(ax)


def _conflicts(fig: Figure, variants: Sequence[Mapping[str, Any]]) -> None:
    ax = fig.subplots()
    ax.set_title(_charts._label("Manual writers' $package conflicts (409), mean, 95% CI"))
    x = _axis(ax, len(variants))
    measures = [v["writer_conflicts"] for v in variants]
    ax.bar(x, [_mean(m) for m in measures], 0.6, color="#f39c34")
    ax.errorbar(
        x, [_mean(m) for m in measures], yerr=_err(measures), fmt="none", ecolor="#111", capsize=4
    )
    ax.set_ylabel("conflicts per run")
    ax.set_ylim(bottom=0)
    _charts._plain_ticks(ax, counts=True)


def _charts_svg(variants: Sequence[Mapping[str, Any]]) -> list[str]:
    import matplotlib as mpl  # noqa: PLC0415 - lazy: only a sweep that writes its page pays it
    from matplotlib.figure import Figure  # noqa: PLC0415

    drawn = []
    with mpl.rc_context(dict(_charts._RC)):
        for name, draw, label in (
            ("sweep-causes", _causes, "Inconsistencies by cause per variant"),
            ("sweep-seeds", _per_seed, "Inconsistencies per seed and variant"),
            ("sweep-latency", _latency, "Completion latency per variant"),
            ("sweep-conflicts", _conflicts, "Writer conflicts per variant"),
        ):
            fig = Figure(figsize=(6.4, 3.6), layout="constrained")
            draw(fig, variants)
            drawn.append(_charts._save(fig, name, label))
    return drawn


def _cell(m: Mapping[str, Any], digits: int = 1) -> str:
    if m["mean"] is None:
        return "—"
    lo, hi = m["ci95"]
    return f"{m['mean']:,.{digits}f} <span class=muted>[{lo:,.{digits}f}, {hi:,.{digits}f}]</span>"


def _seed_text(seeds: Sequence[int]) -> str:
    if len(seeds) > 2 and list(seeds) == list(range(seeds[0], seeds[-1] + 1)):
        return f"{seeds[0]}–{seeds[-1]}"
    return ", ".join(map(str, seeds))


def render_sweep_html(data: Mapping[str, Any], /) -> str:
    """The page of a sweep; ``data`` is :func:`~simulator.lab.sweep.sweep_dict`'s output."""
    variants = data["variants"]
    causes = [c for c in CAUSES if any(v["by_cause"][c]["mean"] for v in variants)]
    # Shown when some run re-targeted a device that had already updated.
    redundant = any(v.get("redundant_executions", {}).get("mean") for v in variants)
    head = "".join(
        f"<th>{h}</th>"
        for h in (
            "variant",
            "vary",
            "inconsistent",
            *(html.escape(c) for c in causes),
            "p50 latency (s)",
            "p99 latency (s)",
            "writer conflicts",
            *(["redundant executions"] if redundant else []),
        )
    )
    rows = []
    for i, v in enumerate(variants):
        vary = ", ".join(f"{k}={orjson.dumps(val).decode()}" for k, val in v["vary"].items())
        cells = [
            f"V{i + 1}",
            f'<span class="l">{html.escape(vary or "scenario as written")}</span>',
            _cell(v["inconsistent"]),
            *(_cell(v["by_cause"][c]) for c in causes),
            _cell(v["latency_p50_s"]),
            _cell(v["latency_p99_s"]),
            _cell(v["writer_conflicts"]),
            *([_cell(v["redundant_executions"])] if redundant else []),
        ]
        rows.append("<tr>" + "".join(f"<td>{c}</td>" for c in cells) + "</tr>")
    seeds = variants[0]["seeds"] if variants else []
    seed_text = _seed_text(seeds)
    charts = "".join(f"<div>{svg}</div>" for svg in _charts_svg(variants))
    return (
        "<!doctype html><html lang=en><head><meta charset=utf-8>"
        f"<title>fleetsim sweep: {html.escape(str(data['scenario']))}</title>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Sweep: {html.escape(str(data['scenario']))}</h1>"
        f"<p>{len(variants)} variant(s) × {len(seeds)} seed(s) ({html.escape(seed_text)}), "
        f"{data['devices']:,} devices per run, simulated clock. Brackets are 95% intervals: "
        f"{html.escape(str(data['ci95_method']))}.</p>"
        f"<div class=grid>{charts}</div>"
        f"<h2>Variants</h2><table><tr>{head}</tr>{''.join(rows)}</table>"
        "</body></html>\n"
    )


def write_sweep(data: Mapping[str, Any], out_dir: Path, /) -> tuple[Path, Path]:
    """Write ``sweep.json`` (first: it holds every number) and ``sweep.html`` into ``out_dir``."""
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "sweep.json"
    json_path.write_bytes(orjson.dumps(data, option=orjson.OPT_INDENT_2) + b"\n")
    html_path = out_dir / "sweep.html"
    html_path.write_text(render_sweep_html(data), encoding="utf-8")
    return json_path, html_path
