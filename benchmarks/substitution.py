"""Job-document substitution: fleetsim's compile-once/render-many core against naive JSON walks.

Usage::

    uv run python -m benchmarks.substitution [--json] [--quick] [--rounds N]

Every implementation turns the same generated job document into the same JSON value; that is
checked once per run against ``naive-stdlib`` before anything is timed. Each (document,
implementation) cell is warmed up and calibrated so that one round lasts at least ``--round-s``;
the rounds of all cells are interleaved (cell order rotated each round) so that noise on a shared
machine spreads over every row, and the median per-document time is reported.

Rows:

* ``naive-stdlib``: ``json.loads``, recursive walk of keys and values, ``re.sub`` with a callback on
  every string (a whole-string all-attributes placeholder becomes a dict), ``json.dumps``.
* ``orjson-walk``: the same walk between ``orjson.loads`` and ``orjson.dumps``.
* ``orjson-loads``: ``orjson.loads`` alone, the reference limit (produces no output).
* ``fleetsim-compile-render``: first use of a document: ``compile_document`` (uncached), resolve
  the values from the catalog, render. The placeholder memo is warm, as in a fleet.
* ``fleetsim-compile-render-cold``: the same with ``clear_memo()`` before every compile.
* ``fleetsim-render``: ``Template.render`` of a compiled document with values resolved once.
* ``fleetsim-prepare``: ``prepare_job_document`` (cached compile, full destination validation and
  phase one), i.e. what CreateJob pays per job.
"""

from __future__ import annotations

import argparse
import base64
import gc
import hashlib
import json
import math
import os
import platform
import re
import statistics
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from itertools import repeat
from pathlib import Path
from typing import Any, Final

import orjson

from simulator.core.arn import Scope
from simulator.core.catalog import Catalog, VersionAction
from simulator.core.substitution import prepare_job_document
from simulator.core.substitution.placeholders import AllAttributes, Attribute
from simulator.core.substitution.template import Template, clear_memo, compile_document

__all__ = ["main"]

SCOPE: Final = Scope()
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

Attributes = dict[tuple[str, str], dict[str, str]]

# -- documents ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Case:
    """One generated job document with its ``destinationPackageVersions`` and attributes."""

    name: str
    document: bytes
    destinations: tuple[str, ...]
    attributes: Attributes
    placeholders: int


def _placeholder(package: str, version: str, key: str | None = None) -> str:
    tail = "attributes" if key is None else f"attributes:{key}"
    return f"${{aws:iot:package:{package}:version:{version}:{tail}}}"


def _version_attributes(package: str, version: str) -> dict[str, str]:
    digest = hashlib.sha256(f"{package}/{version}".encode()).digest()
    signature = base64.b64encode(hashlib.shake_256(digest).digest(512)).decode()  # RSA-4096 size
    return {
        "s3URL": f"https://fleetsim-artifacts.s3.us-east-1.amazonaws.com/{package}/{version}/"
        f"{package}-{version}.zip",
        "signature": signature,
        "signingAlgorithm": "SHA256withRSA",
        "sha256": digest.hex(),
        "size": str(1_048_576 + 4096 * digest[0]),
        "installPath": f"{package}/{version}",
        "launchCommand": f"/opt/{package}/{version}/bin/start --config /etc/{package}/config.json",
        # A quote, backslashes and non-ASCII text, so that escaping is part of the comparison.
        "description": f'{package} {version}, "stable" channel (C:\\fleet\\{package}) – café',
    }


def _step(name: str, handler: str, args: list[str], **extra: str) -> dict[str, Any]:
    """One AWS IoT Device Client ``runHandler`` step."""
    return {
        "action": {
            "name": name,
            "type": "runHandler",
            "input": {"handler": handler, "args": args, **extra},
        }
    }


def _package_steps(
    package: str, version: str, *, everything: bool, services: bool
) -> list[dict[str, Any]]:
    """Eight single-attribute placeholders (one inside a longer string), plus an all-attributes
    one when ``everything``; ``services`` adds three steps without placeholders."""
    ph = partial(_placeholder, package, version)
    steps = [
        _step("Download", "download-file.sh", [ph("s3URL"), f"/tmp/{package}.zip"]),
        _step("Verify", "verify-signature.sh", [ph("signature"), ph("signingAlgorithm")]),
        _step("Check", "check-file.sh", [ph("sha256"), ph("size")]),
        _step("Install", "install.sh", ["/opt/" + ph("installPath"), ph("launchCommand")]),
    ]
    record = [f"/etc/{package}.json", ph("description")]
    steps.append(
        _step("Record", "write-json.sh", record, attributes=ph())
        if everything
        else _step("Record", "write-json.sh", record)
    )
    if services:
        unit = f"{package}.service"
        steps.insert(3, _step(f"Stop {unit}", "systemctl.sh", ["stop", unit, "--timeout", "30"]))
        steps.append(_step(f"Reload {unit}", "systemctl.sh", ["daemon-reload", "--no-block"]))
        steps.append(
            _step(f"Start {unit}", "systemctl.sh", ["start", unit, "--wait", "--timeout", "60"])
        )
    return steps


def _case(
    name: str, packages: Sequence[tuple[str, str]], *, blocks: int, everything: int, services: bool
) -> Case:
    """``blocks`` blocks of package steps cycling over ``packages``; the first ``everything``
    blocks also carry an all-attributes placeholder."""
    steps: list[dict[str, Any]] = []
    for block in range(blocks):
        package, version = packages[block % len(packages)]
        steps += _package_steps(package, version, everything=block < everything, services=services)
    document = orjson.dumps({"version": "1.0", "steps": steps})
    return Case(
        name=name,
        document=document,
        destinations=tuple(SCOPE.arn(f"package/{p}/version/{v}") for p, v in packages),
        attributes={pv: _version_attributes(*pv) for pv in packages},
        placeholders=document.count(b"${"),
    )


def make_cases() -> list[Case]:
    """The ``small`` (~1.2 KB, 9 placeholders) and ``large`` (~100 KB, ~500) documents."""
    fleet = [(f"edge-component-{i:02d}", f"{1 + i % 3}.{i}.0") for i in range(20)]
    return [
        _case("small", [("samplePackage", "2.1.5")], blocks=1, everything=1, services=False),
        _case("large", fleet, blocks=62, everything=5, services=True),
    ]


def make_catalog(cases: Sequence[Case]) -> Catalog:
    """A catalog with every package version the cases use, PUBLISHED."""
    catalog = Catalog(SCOPE)
    for case in cases:
        for (package, version), attributes in case.attributes.items():
            if not catalog.has_package(package):
                catalog.create_package(package, now=0.0)
            catalog.create_version(package, version, now=0.0, attributes=attributes)
            catalog.update_version(package, version, now=0.0, action=VersionAction.PUBLISH)
    return catalog


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


def compile_render(document: bytes, catalog: Catalog) -> bytes:
    template = compile_document(document)
    return template.render(resolve_values(template, catalog))


def compile_render_cold(document: bytes, catalog: Catalog) -> bytes:
    clear_memo()
    return compile_render(document, catalog)


def prepare(case: Case, catalog: Catalog) -> bytes:
    return prepare_job_document(case.document, case.destinations, catalog, scope=SCOPE).after


def calls(case: Case, catalog: Catalog) -> dict[str, Callable[[], object]]:
    """One zero-argument callable per implementation, for one document."""
    template = compile_document(case.document)
    return {
        NAIVE: partial(naive_stdlib, case.document, case.attributes),
        "orjson-walk": partial(orjson_walk, case.document, case.attributes),
        "orjson-loads": partial(orjson.loads, case.document),
        "fleetsim-compile-render": partial(compile_render, case.document, catalog),
        "fleetsim-compile-render-cold": partial(compile_render_cold, case.document, catalog),
        "fleetsim-render": partial(template.render, resolve_values(template, catalog)),
        "fleetsim-prepare": partial(prepare, case, catalog),
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


# -- timing ---------------------------------------------------------------------------------


@dataclass(slots=True)
class Cell:
    document: str
    implementation: str
    call: Callable[[], object]
    iterations: int = 1
    samples_ns: list[float] = field(default_factory=list)

    @property
    def median_ns(self) -> float:
        return statistics.median(self.samples_ns)


def _time_ns(call: Callable[[], object], iterations: int) -> int:
    start = time.perf_counter_ns()
    for _ in repeat(None, iterations):
        call()
    return time.perf_counter_ns() - start


def _calibrate(call: Callable[[], object], warmup_s: float, round_s: float) -> int:
    """Warm ``call`` up for ``warmup_s``; iterations per round so that one lasts ``round_s``."""
    done, spent, batch = 0, 0, 1
    while done < 3 or spent < warmup_s * 1e9:
        spent += _time_ns(call, batch)
        done += batch
        batch *= 2
    return max(1, math.ceil(round_s * 1e9 * done / spent))


def measure(cells: list[Cell], rounds: int, warmup_s: float, round_s: float) -> None:
    """Interleaved rounds: every round times every cell once, starting one cell later."""
    for cell in cells:
        cell.iterations = _calibrate(cell.call, warmup_s, round_s)
    for index in range(rounds):
        shift = index % len(cells)
        for cell in cells[shift:] + cells[:shift]:
            gc.collect()
            cell.samples_ns.append(_time_ns(cell.call, cell.iterations) / cell.iterations)


# -- report ---------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = platform.processor() or "unknown"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    return {
        "platform": platform.platform(),
        "cpu": cpu,
        "cpus": os.cpu_count(),
        "python": f"{platform.python_implementation()} {platform.python_version()}",
    }


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
        "command": " ".join(["python -m benchmarks.substitution", *sys.argv[1:]]),
        "machine": machine(),
        "method": {
            "timer": "time.perf_counter_ns",
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
        f"method: {method['rounds']} interleaved rounds of >= {method['min_round_s']} s per cell, "
        f"median per-document time; {method['gc']}",
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
    args = parser.parse_args(argv)
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
    measure(cells, args.rounds, args.warmup_s, args.round_s)
    data = report(cells, cases, sizes, args)
    print(json.dumps(data, indent=2) if args.json else table(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
