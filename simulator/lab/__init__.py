"""The ``$package`` race lab: run a scenario's variants over many seeds and compare them.

:func:`prepare` checks a matrix (a scenario, its ``--vary`` variants, the seeds), :func:`run_sweep`
runs it over worker processes, :func:`sweep_dict` summarises it per variant (mean and 95 %
interval of each measure, see :mod:`simulator.lab.stats`) and :func:`write_sweep` writes
``sweep.json`` and ``sweep.html``. Only the command line imports this package.
"""

from __future__ import annotations

from simulator.lab.page import render_sweep_html, write_sweep
from simulator.lab.stats import CI_METHOD, Measure, measure
from simulator.lab.sweep import (
    RunNumbers,
    Sweep,
    default_jobs,
    parse_seeds,
    prepare,
    run_sweep,
    sweep_dict,
)
from simulator.lab.vary import Variant, Vary, apply_overrides, parse_vary, variants

__all__ = [
    "CI_METHOD",
    "Measure",
    "RunNumbers",
    "Sweep",
    "Variant",
    "Vary",
    "apply_overrides",
    "default_jobs",
    "measure",
    "parse_seeds",
    "parse_vary",
    "prepare",
    "render_sweep_html",
    "run_sweep",
    "sweep_dict",
    "variants",
    "write_sweep",
]
