"""The report of one ``fleetsim run``: ``report.json`` for machines, ``report.html`` for people.

The engine fills a :class:`RunResult` (with :class:`Sample`, :class:`VersionSample`,
:class:`JobSummary` and :class:`WriterSummary`) and calls :func:`write_report`. Field meanings of
the JSON are listed in :mod:`simulator.report.json_report`. matplotlib and Jinja2 are imported
only when HTML is rendered, so importing this package stays cheap.
"""

from __future__ import annotations

import os
from pathlib import Path

from simulator.report.html import write_html
from simulator.report.json_report import report_dict, write_json
from simulator.report.model import JobSummary, RunResult, Sample, VersionSample, WriterSummary

__all__ = [
    "JobSummary",
    "RunResult",
    "Sample",
    "VersionSample",
    "WriterSummary",
    "report_dict",
    "write_html",
    "write_json",
    "write_report",
]


def write_report(result: RunResult, out_dir: str | os.PathLike[str], /) -> tuple[Path, Path]:
    """Write ``report.json`` and ``report.html`` into ``out_dir`` (created if missing).

    The JSON is written first: it is cheap and holds every number, so a failure while drawing
    charts still leaves the run's results on disk.

    Args:
        result: What the run measured.
        out_dir: Directory for the two files.

    Returns:
        ``(json_path, html_path)``.
    """
    directory = Path(out_dir)
    directory.mkdir(parents=True, exist_ok=True)
    json_path = write_json(result, directory / "report.json")
    html_path = write_html(result, directory / "report.html")
    return json_path, html_path
