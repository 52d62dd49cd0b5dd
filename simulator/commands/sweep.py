"""``fleetsim sweep``: a scenario's variants times its seeds, compared in ``sweep.json``/``.html``.

Everything is checked before the first run (the scenario, each ``--vary`` through the scenario's
own model, the seeds), so bad input is one line and exit 2 without a worker started.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from simulator.core.errors import UsageError
from simulator.lab import (
    parse_seeds,
    parse_vary,
    prepare,
    run_sweep,
    sweep_dict,
    variants,
    write_sweep,
)

__all__ = ["register", "sweep"]


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "sweep",
        help="run a scenario's variants over many seeds and compare them (mitigation A/B)",
        description=(
            "Run SCENARIO once per seed for every combination of the --vary values (simulated "
            "clock, one run per worker process) and write DIR/sweep.json and DIR/sweep.html: "
            "per variant, $package inconsistencies by cause, completion latency p50/p99 and "
            "writer conflicts, each with its mean and a 95%% interval over the seeds."
        ),
    )
    parser.add_argument("scenario", type=Path, metavar="SCENARIO")
    parser.add_argument(
        "--seeds", default="1-10", metavar="RANGE", help="seeds: 1-50, 1,2,5 or 1-5,9 (1-10)"
    )
    parser.add_argument("--devices", type=int, help="override the fleet size of every run")
    parser.add_argument(
        "--vary",
        action="append",
        default=[],
        metavar="PATH=V1,V2",
        help=(
            "a scenario field and its values, e.g. writers.cmdb-sync.use_version=false,true "
            "(repeat: every combination)"
        ),
    )
    parser.add_argument(
        "--jobs", type=int, metavar="K", help="worker processes (default: one per CPU)"
    )
    parser.add_argument(
        "--out", type=Path, default=Path("out"), metavar="DIR", help="output directory (./out)"
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")
    parser.set_defaults(handler=sweep)


def sweep(args: argparse.Namespace) -> int:
    seeds = parse_seeds(args.seeds)
    matrix = variants([parse_vary(text) for text in args.vary])
    if args.jobs is not None and args.jobs < 1:
        raise UsageError(f"--jobs must be at least 1, got {args.jobs}")
    plan = prepare(args.scenario, matrix, seeds, args.devices)
    try:
        args.out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create --out {args.out}: {exc.strerror}") from None
    total = len(plan.variants) * len(plan.seeds)
    bar = None
    if not args.quiet:
        bar = Progress(
            TextColumn(f"[bold]{plan.name}[/] {len(plan.variants)} variants × {len(seeds)} seeds"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("runs"),
            TimeElapsedColumn(),
            console=Console(file=sys.stderr),
        )
        task = bar.add_task("sweep", total=total)
        bar.start()
    try:
        numbers = run_sweep(
            plan,
            jobs=args.jobs,
            on_done=None if bar is None else (lambda done, _all: bar.update(task, completed=done)),
        )
    finally:
        if bar is not None:
            bar.stop()
    json_path, html_path = write_sweep(sweep_dict(plan, numbers), args.out)
    if not args.quiet:
        print(f"sweep: {json_path} and {html_path}", file=sys.stderr)
    return 0
