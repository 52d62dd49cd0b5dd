"""``fleetsim bench api``: ``fleetsim serve`` against moto's server, same operations, same run.

::

    fleetsim bench api [--json] [--quick] [--connections N] [--duration S] [--rounds R]
                       [--no-pin]
    fleetsim bench api --soak [--duration S] [--connections N] [--interval S] [--things N]
                       [--json] [--no-pin]

``--soak`` is :mod:`simulator.bench.soak`: mixed operations for 10 minutes on 500 connections
against ``fleetsim serve --state-dir``, throughput, p99 and RSS over time.

Both servers run as subprocesses (``fleetsim serve --port 0``; moto's ``ThreadedMotoServer`` on
a free port). Before each round, each operation is called once through boto3 with a
``before-send`` hook that captures the signed request, and the parsed response is checked; the
captured bytes are then replayed for the round (SigV4 allows replays, for 5 minutes: the
emulator refuses older signatures, so a round lasts at most :data:`MAX_ROUND_S`) by a
closed-loop client of N keep-alive connections written
directly on asyncio protocols, so the client costs far less CPU per request than either server.
On a machine with two or more CPUs the server is pinned to CPU 1 and the client to CPU 0; the
client's and the server's CPU time are reported with the results.

Operations: UpdateThingShadow, GetThingShadow, DescribeJob, GetJobDocument (both servers),
UpdateJobExecution (fleetsim only: moto has no iot-jobs-data) and DescribeThing (both; the
baseline that needs only the registry). An operation whose service fleetsim does not wire yet is
listed under ``skipped`` instead of failing the run. moto is optional (``fleetsim[bench]``):
without it the fleetsim rows are measured alone and ``skipped`` says how to install it.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
from typing import Any, Final

from simulator.bench._api_ops import OPERATIONS, NotWired, Operation, capture, setup
from simulator.bench._httpload import Measurement, load
from simulator.bench._procs import INSTALL_PEERS, peer_missing
from simulator.bench._servers import Server, start_fleetsim, start_moto
from simulator.bench._timing import machine as _platform
from simulator.core.errors import UsageError

__all__ = [
    "OPERATIONS",
    "Operation",
    "Server",
    "add_arguments",
    "capture",
    "machine",
    "measure",
    "run",
    "setup",
    "table",
]

#: SigV4 signatures expire after 5 minutes; a request is signed before each round.
MAX_ROUND_S: Final = 240.0
TARGET_RATIO: Final = 5.0


def _pin(servers: list[Server]) -> bool:
    """Servers on CPU 1, this client on CPU 0 (when there are two CPUs to share)."""
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return False
    for server in servers:
        os.sched_setaffinity(server.process.pid, {cpus[1]})
    os.sched_setaffinity(0, {cpus[0]})
    return True


def _ratios(value: dict[tuple[str, str], float]) -> dict[str, float]:
    """fleetsim / moto per operation both ran."""
    return {
        op: round(value["fleetsim", op] / value["moto", op], 2)
        for (name, op) in value
        if name == "moto" and ("fleetsim", op) in value
    }


def machine() -> dict[str, Any]:
    """The machine (:func:`simulator.bench._timing.machine`) and its load average now."""
    return {**_platform(), "load_average": [round(x, 2) for x in os.getloadavg()]}


def _check(args: argparse.Namespace) -> None:
    if args.connections < 1 or args.rounds < 1:
        raise UsageError("--connections and --rounds must be at least 1")
    if not 0 < args.duration <= MAX_ROUND_S:
        raise UsageError(
            f"--duration must be above 0 and at most {MAX_ROUND_S:g} s (a round replays "
            "requests signed at its start; SigV4 signatures expire after 5 minutes)"
        )


def _round(
    servers: list[Server], cells: list[tuple[str, str]], args: argparse.Namespace
) -> dict[tuple[str, str], Measurement]:
    """One round: every cell signed afresh (a signature lives 5 minutes), then replayed."""
    by_name = {s.name: s for s in servers}
    by_op = {op.name: op for op in OPERATIONS}
    out = {}
    for name, op_name in cells:
        server = by_name[name]
        request = capture(server, by_op[op_name])
        out[name, op_name] = asyncio.run(
            load(
                server.url,
                request,
                connections=args.connections,
                warmup=args.warmup,
                seconds=args.duration,
                server_cpu=server.cpu_seconds,
            )
        )
    return out


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Both servers (moto where installed), every operation, ``args.rounds`` rounds."""
    _check(args)
    skipped: list[dict[str, str]] = []
    servers = [start_fleetsim()]
    if (missing := peer_missing("moto", "flask")) is None:
        servers.append(start_moto())
    else:
        note = f"moto's server is not installed ({missing}); {INSTALL_PEERS}"
        print(f"fleetsim bench api: {note}", file=sys.stderr)
        skipped.append({"server": "moto", "operation": "*", "reason": note})
    try:
        pinned = _pin(servers) if args.pin else False
        captured: set[tuple[str, str]] = set()
        for server in servers:
            setup(server)
            for op in OPERATIONS:
                if server.name not in op.servers:
                    continue
                try:
                    capture(server, op)  # checked once before anything is timed
                    captured.add((server.name, op.name))
                except NotWired:
                    skipped.append(
                        {"server": server.name, "operation": op.name, "reason": "not wired"}
                    )
        # fleetsim operations that are not wired are skipped for moto too: nothing to compare.
        wired = {op for (name, op) in captured if name == "fleetsim"}
        cells = [
            (s.name, op.name)
            for s in servers
            for op in OPERATIONS
            if (s.name, op.name) in captured and op.name in wired
        ]
        rounds: dict[tuple[str, str], list[Measurement]] = {key: [] for key in cells}
        for _ in range(args.rounds):
            for key, measurement in _round(servers, cells, args).items():
                rounds[key].append(measurement)
    finally:
        for server in servers:
            server.stop()
    return _results(rounds, skipped, pinned, args)


def _results(
    rounds: dict[tuple[str, str], list[Measurement]],
    skipped: list[dict[str, str]],
    pinned: bool,
    args: argparse.Namespace,
) -> dict[str, Any]:
    results: list[dict[str, Any]] = []
    cpu: list[dict[str, Any]] = []
    for (name, op_name), measured in rounds.items():
        median = sorted(measured, key=lambda m: m.requests_per_s)[len(measured) // 2]
        results.append(
            {
                "server": name,
                "operation": op_name,
                "requests_per_s": round(median.requests_per_s, 1),
                "p50_ms": round(median.p50_ms, 3),
                "p99_ms": round(median.p99_ms, 3),
            }
        )
        per_request = median.requests_per_s * median.seconds
        cpu.append(
            {
                "server": name,
                "operation": op_name,
                "client_cpu_per_request_us": round(1e6 * median.client_cpu_s / per_request, 1),
                "server_cpu_per_request_us": round(1e6 * median.server_cpu_s / per_request, 1),
                "server_cpu_percent": round(100 * median.server_cpu_s / median.seconds, 1),
                "client_cpu_percent": round(100 * median.client_cpu_s / median.seconds, 1),
                "failures": median.failures,
            }
        )
    rate = {(r["server"], r["operation"]): r["requests_per_s"] for r in results}
    ratios = _ratios(rate)
    # CPU time per request does not depend on how much of a core the server was given, which on
    # a busy machine differs between one event-loop thread and moto's thread per connection.
    cpu_ratios = _ratios(
        {(c["server"], c["operation"]): 1.0 / c["server_cpu_per_request_us"] for c in cpu}
    )
    return {
        "results": results,
        "ratios": ratios,
        "cpu_ratios": cpu_ratios,
        "targets": [
            {"operation": op, "ratio": ratio, "target": TARGET_RATIO, "pass": ratio >= TARGET_RATIO}
            for op, ratio in ratios.items()
        ],
        "cpu": cpu,
        "skipped": skipped,
        "method": {
            "connections": args.connections,
            "duration_s": args.duration,
            "warmup_s": args.warmup,
            "rounds": args.rounds,
            "pinned": pinned,
            "signed": "per round",
        },
        "machine": machine(),
    }


def table(data: dict[str, Any]) -> str:
    cpu = {(c["server"], c["operation"]): c for c in data["cpu"]}
    m = data["method"]
    lines = [
        f"machine: {data['machine']['platform']}; {data['machine']['cpus']} CPUs; "
        f"load {data['machine']['load_average']}",
        f"{m['connections']} connections, {m['rounds']} x {m['duration_s']} s per cell "
        f"(median round), pinned={m['pinned']}",
        "",
        f"{'server':<9} {'operation':<19} {'req/s':>9} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'srv µs/req':>10} {'cli µs/req':>10} {'srv CPU':>8}",
    ]
    for row in data["results"]:
        c = cpu[row["server"], row["operation"]]
        lines.append(
            f"{row['server']:<9} {row['operation']:<19} {row['requests_per_s']:>9,.0f} "
            f"{row['p50_ms']:>8.2f} {row['p99_ms']:>8.2f} {c['server_cpu_per_request_us']:>10.0f} "
            f"{c['client_cpu_per_request_us']:>10.0f} {c['server_cpu_percent']:>7.0f}%"
        )
    lines.append("")
    for target in data["targets"]:
        verdict = "PASS" if target["pass"] else "FAIL"
        op = target["operation"]
        lines.append(
            f"fleetsim/moto {op:<19} {target['ratio']:>6.1f}x req/s "
            f"(target >= {target['target']:.0f}x) {verdict}; "
            f"{data['cpu_ratios'][op]:.1f}x less server CPU per request"
        )
    for skip in data["skipped"]:
        reason = "service not wired yet" if skip["reason"] == "not wired" else skip["reason"]
        lines.append(f"skipped {skip['server']} {skip['operation']}: {reason}")
    return "\n".join(lines)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="short run (smoke test)")
    parser.add_argument(
        "--connections", type=int, help="keep-alive connections (default 16; --soak 500)"
    )
    parser.add_argument(
        "--duration",
        type=float,
        help=f"seconds per round (default 3; --quick 0.5; <= {MAX_ROUND_S:g}); "
        "--soak: of the whole soak (default 600)",
    )
    parser.add_argument("--rounds", type=int, help="rounds, median reported (default 3)")
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="let the OS place client and servers"
    )
    soak = parser.add_argument_group(
        "soak",
        "--soak: mixed operations against fleetsim serve --state-dir for --duration s, "
        "sampled over time (simulator.bench.soak)",
    )
    soak.add_argument("--soak", action="store_true", help="run the soak instead")
    soak.add_argument(
        "--interval", type=float, default=10.0, help="seconds between samples (default 10)"
    )
    soak.add_argument("--things", type=int, default=1000, help="things provisioned (default 1000)")


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print the table, or one JSON object with ``--json``."""
    if args.soak:
        from simulator.bench import soak  # noqa: PLC0415

        return soak.run(args)
    args.connections = 16 if args.connections is None else args.connections
    args.duration = args.duration if args.duration is not None else (0.5 if args.quick else 3.0)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    args.warmup = 0.2 if args.quick else 0.5
    data = measure(args)
    print(json.dumps(data, indent=2) if args.json else table(data))
    return 0
