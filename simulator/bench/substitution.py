"""``fleetsim bench substitution``: both phases of substitution on your own document and catalog.

::

    fleetsim bench substitution DOC.json --catalog CATALOG
        [--destination-package-versions ARN|PACKAGE@VERSION ...] [--role-arn ARN]
        [--expires-in S] [--devices N] [--rounds R] [--quick] [--json]

The inputs are ``fleetsim substitute``'s (a catalog file, or a scenario whose ``[catalog]`` is
used); bad input gets the same one-line errors, exit 2. Rows, all measured in one run:

* phase 1, CreateJob, per document: ``naive-stdlib`` (:mod:`._naive`), ``orjson-loads`` (parsing
  alone, the reference limit), ``fleetsim-cold`` (``prepare_job_document`` compiling a document
  never seen: validate, compile, resolve), ``fleetsim-warm`` (the same document again: a
  ``Compiler`` has it, phase-one checks and resolution remain), ``fleetsim-render`` (the compiled
  template joined with its resolved values: the plain render). Calibrated, interleaved rounds
  (:mod:`._timing`); the median per document.
* phase 2, device fetch, per rendered document: device ``i`` of round ``r`` fetches at its own
  second, so every presigned URL is signed for every device (nothing is served from a cache):
  ``naive-stdlib``, ``botocore`` (``generate_presigned_url`` for each URL, :mod:`._botocore`),
  ``fleetsim`` (``render_for_device``). Each render is timed: p50 and p99 per render.

Before timing, naive-stdlib's output is compared (as JSON) with fleetsim's; during timing every
botocore render is compared byte for byte with fleetsim's render for the same device and second.
"""

from __future__ import annotations

import argparse
import gc
import hashlib
import json
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

import orjson

from simulator.bench._botocore import BotocorePresigner
from simulator.bench._inputs import Inputs, load_inputs
from simulator.bench._naive import Credentials, NaiveFetch, naive_prepare
from simulator.bench._subst_report import table
from simulator.bench._timing import Cell, machine, measure
from simulator.core.substitution import (
    Compiler,
    Execution,
    Presigner,
    prepare_job_document,
    presign_requests,
    render_for_device,
)

__all__ = ["add_arguments", "run"]

NAIVE: Final = "naive-stdlib"
AKID: Final = "AKIDEXAMPLE"
SECRET: Final = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
#: 2026-01-01T00:00:00Z: device i of round r fetches at START + r * devices + i.
START: Final = 1_767_225_600
JOB: Final = "bench-job"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("document", metavar="DOC.json", type=Path, help="job document (JSON)")
    parser.add_argument(
        "--catalog",
        required=True,
        type=Path,
        help="catalog file (.toml or .json), or a scenario file (its [catalog] is used)",
    )
    parser.add_argument(
        "--destination-package-versions",
        nargs="+",
        default=[],
        metavar="ARN",
        help="package version ARNs, or PACKAGE@VERSION in the catalog's account and region",
    )
    parser.add_argument(
        "--role-arn", help="presignedUrlConfig.roleArn (default: a role in the catalog's account)"
    )
    parser.add_argument("--expires-in", type=int, default=3600, help="presigned URL lifetime (s)")
    parser.add_argument("--devices", type=int, default=1000, help="devices per round (phase 2)")
    parser.add_argument("--rounds", type=int, default=5, help="interleaved rounds (default 5)")
    parser.add_argument("--quick", action="store_true", help="short rounds (a smoke run)")
    parser.add_argument("--json", action="store_true", help="print one JSON object")


# -- phase 1 -----------------------------------------------------------------------------------


def _naive_matches(inputs: Inputs) -> str | None:
    """``None`` when naive-stdlib's phase one gives fleetsim's document, else why not."""
    try:
        naive = json.loads(naive_prepare(inputs.raw, inputs.destinations, inputs.catalog))
    except Exception as exc:  # any failure means "not comparable"; the note says why
        return f"naive-stdlib cannot process this document ({type(exc).__name__}: {exc})"
    if naive != json.loads(inputs.job.after):
        return "naive-stdlib's output differs from fleetsim's"
    return None


def phase_one(inputs: Inputs, rounds: int, quick: bool) -> tuple[list[Cell], str | None]:
    """Time the CreateJob rows; the reason naive-stdlib is left out, if it is."""
    job = inputs.job
    prepare = partial(
        prepare_job_document, inputs.raw, inputs.destinations, inputs.catalog,
        scope=inputs.catalog.scope, presign=inputs.presign,
    )  # fmt: skip
    compiler = Compiler()
    prepare(compiler=compiler)
    problem = _naive_matches(inputs)
    calls: dict[str, Callable[[], object]] = {}
    if problem is None:
        calls[NAIVE] = partial(naive_prepare, inputs.raw, inputs.destinations, inputs.catalog)
    calls["orjson-loads"] = partial(orjson.loads, inputs.raw)
    calls["fleetsim-cold"] = prepare
    calls["fleetsim-warm"] = partial(prepare, compiler=compiler)
    calls["fleetsim-render"] = partial(job.template.render, job.values)
    cells = [Cell("create-job", name, call) for name, call in calls.items()]
    warmup, round_s = (0.005, 0.01) if quick else (0.2, 0.2)
    measure(cells, rounds=rounds, warmup_s=warmup, round_s=round_s)
    return cells, problem


# -- phase 2 -----------------------------------------------------------------------------------

Render = Callable[[int, float], bytes]


def _thing(index: int) -> str:
    return f"bench-device-{index:06d}"


def renderers(inputs: Inputs, peer: BotocorePresigner) -> dict[str, Render]:
    """One phase-two render per implementation: device index and fetch time in, document out."""
    job, expires = inputs.job, inputs.presign.expires_in
    region = inputs.catalog.scope.region
    presigner = Presigner(AKID, SECRET, region=region)
    naive = NaiveFetch(job.after, job.artifacts, Credentials(AKID, SECRET, region), expires)

    def fleetsim(index: int, now: float) -> bytes:
        execution = Execution(_thing(index), JOB, 1)
        return render_for_device(job, execution, presigner, now=now, expires_in=expires)

    def botocore(index: int, now: float) -> bytes:
        peer.at(now)
        execution = Execution(_thing(index), JOB, 1)
        values = [
            orjson.dumps(peer.presign(obj, method, expires))[1:-1]
            for obj, method in presign_requests(job, execution)
        ]
        return job.fetch_template.render(values)

    def naive_stdlib(index: int, now: float) -> bytes:
        return naive(_thing(index), JOB, 1, now)

    return {NAIVE: naive_stdlib, "botocore": botocore, "fleetsim": fleetsim}


@dataclass(slots=True)
class Series:
    """Per-render times of one phase-two implementation, and a digest of each output."""

    implementation: str
    render: Render
    samples_ns: list[int]
    digests: list[bytes]


def phase_two(inputs: Inputs, devices: int, rounds: int) -> tuple[list[Series], str | None]:
    """Time the device-fetch rows (with botocore's clock pinned); naive's problem, if any."""
    peer = BotocorePresigner(AKID, SECRET, region=inputs.catalog.scope.region)
    calls = renderers(inputs, peer)
    problem: str | None = None
    with peer.pinned():
        # Warm up (clients, caches of the interpreter) at times no timed fetch uses, and check
        # naive-stdlib on the way.
        for index in range(3):
            when = START - 10 - index
            mine = calls["fleetsim"](index, when)
            try:
                theirs = json.loads(calls[NAIVE](index, when))
            except Exception as exc:  # any failure means "not comparable"; the note says why
                theirs, problem = None, f"naive-stdlib cannot render this document ({exc})"
            if problem is None and theirs != json.loads(mine):
                problem = "naive-stdlib's render differs from fleetsim's"
            calls["botocore"](index, when)
        if problem is not None:
            del calls[NAIVE]
        series = [Series(name, render, [], []) for name, render in calls.items()]
        clock = time.perf_counter_ns
        for round_ in range(rounds):
            shift = round_ % len(series)
            base = START + round_ * devices
            for one in series[shift:] + series[:shift]:
                render, samples, digests = one.render, one.samples_ns, one.digests
                gc.collect()
                for index in range(devices):
                    started = clock()
                    out = render(index, base + index)
                    samples.append(clock() - started)
                    digests.append(hashlib.blake2b(out, digest_size=16).digest())
    order = {name: i for i, name in enumerate(calls)}
    series.sort(key=lambda s: order[s.implementation])
    return series, problem


# -- results -----------------------------------------------------------------------------------


def _row(
    phase: str, implementation: str, median_ns: float, naive_ns: float | None
) -> dict[str, Any]:
    return {
        "phase": phase,
        "implementation": implementation,
        "us_per_doc": median_ns / 1e3,
        "docs_per_s": 1e9 / median_ns,
        "x_naive": None if naive_ns is None else naive_ns / median_ns,
        "p50_us": None,
        "p99_us": None,
    }


def _p99(samples: Sequence[int]) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))]


def results(
    inputs: Inputs,
    args: argparse.Namespace,
    cells: list[Cell],
    series: list[Series],
    notes: list[str],
) -> dict[str, Any]:
    """The one JSON object of a run (the table is printed from it)."""
    by_name = {c.implementation: c for c in cells}
    naive_1 = by_name[NAIVE].median_ns if NAIVE in by_name else None
    rows = [_row("create-job", c.implementation, c.median_ns, naive_1) for c in cells]
    slots = len(inputs.job.fetch_template.slots)
    medians = {s.implementation: statistics.median(s.samples_ns) for s in series}
    naive_2 = medians.get(NAIVE)
    for one in series:
        row = _row("device-fetch", one.implementation, medians[one.implementation], naive_2)
        row["p50_us"] = row["us_per_doc"]
        row["p99_us"] = _p99(one.samples_ns) / 1e3
        rows.append(row)
    presign: dict[str, Any] = {"urls_per_render": slots, "urls_compared": 0}
    if series and slots:
        peer = next(s for s in series if s.implementation == "botocore")
        mine = next(s for s in series if s.implementation == "fleetsim")
        presign |= {
            "fleetsim_us_per_url": medians["fleetsim"] / slots / 1e3,
            "botocore_us_per_url": medians["botocore"] / slots / 1e3,
            "x_botocore": medians["botocore"] / medians["fleetsim"],
            "identical": peer.digests == mine.digests,
            "urls_compared": len(mine.digests) * slots,
        }
    else:
        presign |= {
            "fleetsim_us_per_url": None,
            "botocore_us_per_url": None,
            "x_botocore": None,
            "identical": None,
        }
    return {
        "benchmark": "substitution",
        "command": " ".join(["fleetsim bench substitution", *getattr(args, "argv", [])]),
        "machine": machine(),
        "document": {
            "path": str(inputs.path),
            "bytes_in": len(inputs.raw),
            "bytes_stored": len(inputs.job.after),
            "placeholders": len(inputs.job.template.slots),
            "presigned_urls": slots,
            "destinations": list(inputs.job.destinations_after),
        },
        "method": {
            "create_job": "calibrated interleaved rounds, median per document",
            "device_fetch": "every render timed, one second per device (every URL signed)",
            "devices": args.devices,
            "rounds": args.rounds,
            "timer": "time.perf_counter_ns",
        },
        "rows": rows,
        "presign": presign,
        "targets": _targets(rows, presign),
        "notes": notes,
    }


def _targets(rows: list[dict[str, Any]], presign: dict[str, Any]) -> list[dict[str, Any]]:
    found = {(r["phase"], r["implementation"]): r for r in rows}
    render = found["create-job", "fleetsim-render"]
    targets: list[dict[str, Any]] = []
    if presign["x_botocore"] is not None:
        targets.append(
            {
                "target": "device fetch: >= 20x botocore per presigned URL, byte-identical",
                "value": presign["x_botocore"],
                "pass": presign["x_botocore"] >= 20.0 and bool(presign["identical"]),
            }
        )
    if render["x_naive"] is not None:
        targets.append(
            {
                "target": "plain render: >= 60x naive-stdlib",
                "value": render["x_naive"],
                "pass": render["x_naive"] >= 60.0,
            }
        )
    loads = found["create-job", "orjson-loads"]["us_per_doc"]
    targets.append(
        {
            "target": "plain render: faster than orjson.loads",
            "value": loads / render["us_per_doc"],
            "pass": render["us_per_doc"] < loads,
        }
    )
    return targets


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print the table, or one JSON object with ``--json``."""
    inputs = load_inputs(args)
    progress = sys.stderr if args.json else sys.stdout
    print(f"phase 1 (CreateJob): {args.rounds} rounds...", file=progress, flush=True)
    cells, problem_1 = phase_one(inputs, args.rounds, args.quick)
    series: list[Series] = []
    problem_2 = None
    if inputs.job.fetch_template.slots:
        print(
            f"phase 2 (device fetch): {args.devices:,} devices x {args.rounds} rounds...",
            file=progress,
            flush=True,
        )
        series, problem_2 = phase_two(inputs, args.devices, args.rounds)
    notes = [p for p in (problem_1, problem_2) if p is not None]
    if not series:
        notes.append("no presigned URLs: devices receive the stored document as it is")
    data = results(inputs, args, cells, series, notes)
    print(json.dumps(data, indent=2) if args.json else table(data))
    return 0
