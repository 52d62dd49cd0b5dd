"""Job-document substitution: fleetsim's compile-once/render-many core against naive JSON walks.

Usage::

    uv run python -m benchmarks.substitution [--json] [--quick] [--rounds N] [--timer wall|thread]

Every implementation turns the same generated job document (:mod:`benchmarks._jobdocs`) into the
same JSON value; that is checked once per run against ``naive-stdlib`` before anything is timed.
Each (document, implementation) cell is warmed up and calibrated so that one round lasts at least
0.2 s; the rounds of all cells are interleaved (:mod:`benchmarks._timing`) so that noise on a
shared machine spreads over every row, and the median per-document time is reported.

Rows:

* ``naive-stdlib``: ``json.loads``, recursive walk of keys and values, ``re.sub`` with a callback on
  every string (a whole-string all-attributes placeholder becomes a dict), ``json.dumps``.
* ``orjson-walk``: the same walk between ``orjson.loads`` and ``orjson.dumps``.
* ``orjson-loads``: ``orjson.loads`` alone, the reference limit (produces no output).
* ``fleetsim-compile-render``: first use of a document: ``compile_document`` (uncached), resolve
  the values from the catalog, render. The placeholder memo is warm, as in a fleet.
* ``fleetsim-compile-render-cold``: the same with a fresh (empty) placeholder memo.
* ``fleetsim-render``: ``Template.render`` of a compiled document with values resolved once.
* ``fleetsim-prepare``: ``prepare_job_document`` (a ``Compiler`` that has seen the document, full
  destination validation and phase one), i.e. what CreateJob pays per job.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Callable, Sequence
from functools import partial
from typing import Any, Final

import orjson

from benchmarks._jobdocs import SCOPE, Attributes, Case, make_cases, make_catalog
from simulator.bench._timing import CLOCKS, Cell, machine, measure
from simulator.core.catalog import Catalog
from simulator.core.substitution import Compiler, PlaceholderMemo, prepare_job_document
from simulator.core.substitution.placeholders import AllAttributes, Attribute
from simulator.core.substitution.template import Template, compile_document

__all__ = ["main"]

NAIVE: Final = "naive-stdlib"
IMPLEMENTATIONS: Final = (
    NAIVE,
    "orjson-walk",
    "orjson-loads",
    "fleetsim-compile-render",
    "fleetsim-compile-render-cold",
    "fleetsim-render",
    "fleetsim-prepare",
)
#: (implementation, document, baseline, required speedup); 1.0 means "strictly faster than".
TARGETS: Final = (
    ("fleetsim-render", "small", NAIVE, 60.0),
    ("fleetsim-render", "large", NAIVE, 50.0),
    ("fleetsim-render", "small", "orjson-loads", 1.0),
    ("fleetsim-render", "large", "orjson-loads", 1.0),
    ("fleetsim-compile-render", "small", NAIVE, 5.0),
    ("fleetsim-compile-render", "large", NAIVE, 5.0),
)

# -- implementations ------------------------------------------------------------------------

_PLACEHOLDER: Final = re.compile(
    r"\$\{aws:iot:package:([^:}]*):version:([^:}]*):attributes(?::([^}]*))?\}"
)


def _replace(attributes: Attributes, match: re.Match[str]) -> str:
    if match[3] is None:
        raise ValueError("an all-attributes placeholder must be a whole JSON string")
    return attributes[match[1], match[2]][match[3]]


def _walk(node: Any, attributes: Attributes, replace: Callable[[re.Match[str]], str]) -> Any:
    if isinstance(node, str):
        whole = _PLACEHOLDER.fullmatch(node)
        if whole is not None and whole[3] is None:
            return dict(attributes[whole[1], whole[2]])
        return _PLACEHOLDER.sub(replace, node)
    if isinstance(node, dict):
        return {
            _PLACEHOLDER.sub(replace, key): _walk(value, attributes, replace)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_walk(item, attributes, replace) for item in node]
    return node


def naive_stdlib(document: bytes, attributes: Attributes) -> bytes:
    tree = json.loads(document)
    return json.dumps(_walk(tree, attributes, partial(_replace, attributes))).encode()


def orjson_walk(document: bytes, attributes: Attributes) -> bytes:
    tree = orjson.loads(document)
    return orjson.dumps(_walk(tree, attributes, partial(_replace, attributes)))


def resolve_values(template: Template, catalog: Catalog) -> list[bytes]:
    """The pre-encoded value of every slot of a document naming explicit package versions."""
    values: list[bytes] = []
    find = catalog.find_version
    encoded: bytes | None
    for slot in template.slots:
        # `type(...) is` rather than isinstance(): this loop runs once per slot of every compile.
        if type(slot) is Attribute:
            version = find(slot.ref.package, slot.ref.version)
            encoded = None if version is None else version.encoded_attribute(slot.key)
        elif type(slot) is AllAttributes:
            version = find(slot.ref.package, slot.ref.version)
            encoded = None if version is None else version.encoded_attributes()
        else:
            raise TypeError(f"unexpected placeholder {slot!r}")
        if encoded is None:
            raise LookupError(f"no value for {slot!r}")
        values.append(encoded)
    return values


def compile_render(document: bytes, catalog: Catalog, memo: PlaceholderMemo | None) -> bytes:
    """Compile (warm when ``memo`` has seen the placeholders, cold when ``None``) and render."""
    template = compile_document(document, memo)
    return template.render(resolve_values(template, catalog))


def prepare(case: Case, catalog: Catalog, compiler: Compiler) -> bytes:
    return prepare_job_document(
        case.document, case.destinations, catalog, scope=SCOPE, compiler=compiler
    ).after


def calls(case: Case, catalog: Catalog) -> dict[str, Callable[[], object]]:
    """One zero-argument callable per implementation, for one document."""
    memo = PlaceholderMemo()
    template = compile_document(case.document, memo)
    return {
        NAIVE: partial(naive_stdlib, case.document, case.attributes),
        "orjson-walk": partial(orjson_walk, case.document, case.attributes),
        "orjson-loads": partial(orjson.loads, case.document),
        "fleetsim-compile-render": partial(compile_render, case.document, catalog, memo),
        "fleetsim-compile-render-cold": partial(compile_render, case.document, catalog, None),
        "fleetsim-render": partial(template.render, resolve_values(template, catalog)),
        "fleetsim-prepare": partial(prepare, case, catalog, Compiler()),
    }


def verify(case: Case, implementations: dict[str, Callable[[], object]]) -> int:
    """Check that every implementation's output parses to naive-stdlib's; the output size."""
    expected_bytes = implementations[NAIVE]()
    assert isinstance(expected_bytes, bytes)
    if b"${aws:iot:package" in expected_bytes:
        raise SystemExit(f"benchmarks.substitution: {case.name}: naive output kept a placeholder")
    expected = json.loads(expected_bytes)
    size = 0
    for name, call in implementations.items():
        if name == "orjson-loads":  # the reference limit produces no document
            continue
        output = call()
        assert isinstance(output, bytes)
        if orjson.loads(output) != expected:
            raise SystemExit(f"benchmarks.substitution: {case.name}: {name} differs from {NAIVE}")
        if name == "fleetsim-render":
            size = len(output)
    return size


# -- report ---------------------------------------------------------------------------------


def report(
    cells: list[Cell], cases: Sequence[Case], sizes: dict[str, int], args: argparse.Namespace
) -> dict[str, Any]:
    by_key = {(c.document, c.implementation): c for c in cells}
    results = [
        {
            "document": c.document,
            "implementation": c.implementation,
            "us_per_doc": c.median_ns / 1e3,
            "docs_per_s": 1e9 / c.median_ns,
        }
        for c in cells
    ]
    ratios = {
        case.name: {
            name: by_key[case.name, NAIVE].median_ns / by_key[case.name, name].median_ns
            for name in IMPLEMENTATIONS
        }
        for case in cases
    }
    targets = []
    for name, document, versus, required in TARGETS:
        speedup = by_key[document, versus].median_ns / by_key[document, name].median_ns
        passed = speedup > required if required == 1.0 else speedup >= required
        targets.append(
            {
                "implementation": name,
                "document": document,
                "versus": versus,
                "required_speedup": required,
                "speedup": speedup,
                "pass": passed,
            }
        )
    return {
        "benchmark": "substitution",
        "command": " ".join(["python -m benchmarks.substitution", *args.argv]),
        "machine": machine(),
        "method": {
            "timer": "time.perf_counter_ns" if args.timer == "wall" else "time.thread_time_ns",
            "statistic": "median of rounds",
            "rounds": args.rounds,
            "warmup_s": args.warmup_s,
            "min_round_s": args.round_s,
            "gc": "enabled; gc.collect() before every round",
        },
        "documents": {
            case.name: {
                "bytes_in": len(case.document),
                "bytes_out": sizes[case.name],
                "placeholders": case.placeholders,
                "all_attributes": case.document.count(b":attributes}"),
                "destinations": len(case.destinations),
            }
            for case in cases
        },
        "results": results,
        "ratios": ratios,
        "targets": targets,
        "samples": [
            {
                "document": c.document,
                "implementation": c.implementation,
                "iterations": c.iterations,
                "rounds_us": [round(ns / 1e3, 4) for ns in c.samples_ns],
            }
            for c in cells
        ],
    }


def table(data: dict[str, Any]) -> str:
    m, method = data["machine"], data["method"]
    lines = [
        "Job-document substitution",
        f"machine: {m['platform']}; {m['cpu']} ({m['cpus']} CPUs); {m['python']}",
        f"command: {data['command']}",
        f"method: {method['timer']}, {method['rounds']} interleaved rounds of >= "
        f"{method['min_round_s']} s per cell, median per-document time; GC {method['gc']}",
    ]
    for name, doc in data["documents"].items():
        lines.append(
            f"document {name}: {doc['bytes_in']:,} B in, {doc['bytes_out']:,} B out, "
            f"{doc['placeholders']} placeholders ({doc['all_attributes']} all-attributes), "
            f"{doc['destinations']} destination package versions"
        )
    rows = {(r["document"], r["implementation"]): r for r in data["results"]}
    documents = list(data["documents"])
    header = "| implementation |" + "".join(
        f" {d} µs/doc | {d} docs/s | {d} x naive |" for d in documents
    )
    lines += ["", header, "|---|" + "---:|---:|---:|" * len(documents)]
    for name in IMPLEMENTATIONS:
        line = f"| {name} |"
        for d in documents:
            r = rows[d, name]
            line += f" {r['us_per_doc']:,.2f} | {r['docs_per_s']:,.0f} | "
            line += f"{data['ratios'][d][name]:,.1f} |"
        lines.append(line)
    lines.append("")
    for t in data["targets"]:
        need = "faster than" if t["required_speedup"] == 1.0 else f">= {t['required_speedup']:g}x"
        verdict = "PASS" if t["pass"] else "FAIL"
        lines.append(
            f"{verdict} {t['implementation']} {t['document']}: {t['speedup']:.1f}x "
            f"{t['versus']} (target: {need} {t['versus']})"
        )
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.substitution")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="few short rounds (smoke test)")
    parser.add_argument("--rounds", type=int, default=None, help="rounds per cell (default 7)")
    parser.add_argument(
        "--timer",
        choices=sorted(CLOCKS),
        default="wall",
        help="wall: time.perf_counter_ns (default); thread: CPU time of this thread",
    )
    argv = sys.argv[1:] if argv is None else list(argv)
    args = parser.parse_args(argv)
    args.argv = argv
    if args.rounds is not None and args.rounds < 1:
        parser.error("--rounds must be at least 1")
    args.rounds = args.rounds or (2 if args.quick else 7)
    args.round_s = 0.01 if args.quick else 0.2
    args.warmup_s = 0.005 if args.quick else 0.2

    cases = make_cases()
    catalog = make_catalog(cases)
    cells: list[Cell] = []
    sizes: dict[str, int] = {}
    for case in cases:
        implementations = calls(case, catalog)
        sizes[case.name] = verify(case, implementations)
        cells += [Cell(case.name, name, implementations[name]) for name in IMPLEMENTATIONS]
    measure(
        cells, rounds=args.rounds, warmup_s=args.warmup_s, round_s=args.round_s, timer=args.timer
    )
    data = report(cells, cases, sizes, args)
    print(json.dumps(data, indent=2) if args.json else table(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
