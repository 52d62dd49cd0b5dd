"""``report.html``: one self-contained page a person reads without the JSON.

The page holds a header (scenario, devices, clock, seed, run and wall time), headline numbers
(p50/p90/p99/max completion latency, % of executions succeeded, % of ``$package`` shadows
consistent), three charts as inline SVG (rollout by status over time, completion-latency
distribution with p50/p90/p99 marked, ``$package`` inconsistencies by cause over time; and, when
the run sampled it, each deployed package's reported versions over time) and
tables of jobs, shadow writers, inconsistency causes, notes and engine numbers.

Every number on the page comes from :func:`~simulator.report.json_report.report_dict`, so the
page and ``report.json`` cannot disagree. Nothing is fetched when the page is viewed: no scripts,
fonts or stylesheets from elsewhere. The same :class:`~simulator.report.model.RunResult` renders
the same bytes. Jinja2 autoescapes everything but the SVG the report draws itself.
"""

from __future__ import annotations

import importlib.resources
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Final

import orjson

from simulator.report import _format
from simulator.report._files import atomic_write
from simulator.report.json_report import report_dict
from simulator.report.model import RunResult, status_order
from simulator.report.stats import percent

__all__ = ["render_html", "write_html"]

_TEMPLATE: Final = "report.html.j2"


def _cards(r: Mapping[str, Any]) -> list[dict[str, str]]:
    latency = r["completion_latency_s"]
    total = r["executions_total"]
    return [
        *(
            {"label": f"{p} completion latency", "value": _format.duration(latency[p])}
            for p in ("p50", "p90", "p99", "max")
        ),
        {
            "label": f"executions succeeded (of {_format.count(total)})",
            "value": _format.pct(r["succeeded_pct"]),
        },
        {
            "label": f"$package shadows consistent (of {_format.count(r['shadow']['checked'])})",
            "value": _format.pct(r["shadow"]["consistent_pct"]),
        },
    ]


def _context(r: Mapping[str, Any]) -> dict[str, Any]:
    """Rows for the tables, already formatted; ``r`` is the report dict."""
    total = r["executions_total"]
    shadow = r["shadow"]
    latency = r["completion_latency_s"]
    by_cause = shadow["by_cause"]
    return {
        "cards": _cards(r),
        "executions": [
            {
                "status": status,
                "count": _format.count(r["executions"][status]),
                "share": _format.pct(percent(r["executions"][status], total)),
            }
            for status in status_order(r["executions"])
        ],
        "latency": [
            {"name": "all terminal", "s": latency},
            *({"name": k, "s": v} for k, v in latency["by_status"].items()),
        ],
        "causes": [
            {
                "cause": cause,
                "count": _format.count(n),
                "of_checked": _format.pct(percent(n, shadow["checked"])),
                "of_inconsistent": _format.pct(percent(n, shadow["inconsistent"])),
                "examples": ", ".join((shadow.get("examples") or {}).get(cause, ())),
            }
            for cause, n in sorted(by_cause.items(), key=lambda item: (-item[1], item[0]))
        ],
        "writers": [
            {
                "name": w["name"],
                "writes": _format.count(w["writes"]),
                "conflicts": _format.count(w["conflicts"]),
                "rate": _format.pct(percent(w["conflicts"], w["writes"])),
                "skipped": _format.count(w["skipped"]),
            }
            for w in r["writers"]
        ],
        "workers": [
            {
                **{key: _format.count(int(w.get(key) or 0)) for key in _WORKER_COUNTS},
                "worker": w.get("worker"),
                "causes": ", ".join(
                    f"{c} {n}" for c, n in sorted((w.get("by_cause") or {}).items())
                ),
                "error": w.get("error") or "",
            }
            for w in r["extra"].get("workers") or ()
            if isinstance(w, dict)
        ],
        "extra": [
            (key, orjson.dumps(value).decode())
            for key, value in sorted(r["extra"].items())
            if key != "workers"
        ],
    }


#: The per-worker counts of a multi-process run (``extra.workers``, a Locust test), in order.
_WORKER_COUNTS = (
    "devices",
    "online",
    "connects",
    "reconnects",
    "connect_failures",
    "drops",
    "requests",
    "timeouts",
    "rejected",
    "terminal_answers",
    "checked",
    "consistent",
    "inconsistent",
)


def render_html(result: RunResult, /) -> str:
    """The report page as text (see the module docstring for what it shows).

    Args:
        result: What the run measured.

    Returns:
        A complete HTML5 document.
    """
    import jinja2  # noqa: PLC0415 - lazy: the CLI imports this package at start-up
    from markupsafe import Markup  # noqa: PLC0415

    from simulator.report._charts import render_charts  # noqa: PLC0415 - pulls in matplotlib

    r = report_dict(result)
    charts = render_charts(result, r["completion_latency_s"])
    env = jinja2.Environment(
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    source = importlib.resources.files(__package__).joinpath(_TEMPLATE).read_text("utf-8")
    template = env.from_string(source)
    return template.render(
        r=r,
        f=_format,
        charts={
            # Our own SVG from matplotlib (which escapes its text); everything else is escaped.
            "rollout": Markup(charts.rollout),
            "latency": Markup(charts.latency),
            "shadow": Markup(charts.shadow),
            "versions": Markup(charts.versions),
        },
        **_context(r),
    )


def write_html(result: RunResult, path: str | os.PathLike[str], /) -> Path:
    """Write ``report.html`` (atomically: readers see the old file or the whole new one).

    Args:
        result: What the run measured.
        path: Destination file; its directory must exist.

    Returns:
        The path written.
    """
    return atomic_write(path, render_html(result).encode("utf-8"))
