"""``fleetsim bench api``: ``fleetsim serve`` against moto's server, same operations, same run.

::

    fleetsim bench api [--json] [--quick] [--connections N] [--duration S] [--rounds R]
                       [--no-pin]

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
import signal
import subprocess
import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final

import boto3  # type: ignore[import-untyped]
from botocore.config import Config
from botocore.exceptions import ClientError

from simulator.bench._httpload import Measurement, load
from simulator.bench._procs import INSTALL_PEERS, peer_missing, process_cpu, python_module
from simulator.bench._timing import machine as _platform
from simulator.core.errors import UsageError
from simulator.transport.broker.local import free_port

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
THING: Final = "bench-thing"
JOB: Final = "bench-job"
DOCUMENT: Final = '{"operation":"bench","steps":[1,2,3]}'
SHADOW: Final = b'{"state":{"reported":{"firmware":"1.0.0","temperature":21}}}'
TARGET_RATIO: Final = 5.0
_MOTO = """
import logging, signal, sys
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request access log
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
server.stop()
"""


class NotWired(Exception):
    """fleetsim answers that the operation's service is not implemented yet."""


# -- servers ---------------------------------------------------------------------------------


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )

    def cpu_seconds(self) -> float:
        return process_cpu(self.process.pid)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_fleetsim() -> Server:
    process = subprocess.Popen(
        python_module("simulator.cli", "serve", "--port", "0"), stdout=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("fleetsim serve: listening on "):
        process.kill()
        raise RuntimeError(f"fleetsim serve did not start: {line!r}")
    return Server("fleetsim", process, line.rsplit(" ", 1)[1].strip())


def start_moto() -> Server:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _MOTO, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("moto server did not start")
    return Server("moto", process, f"http://127.0.0.1:{port}")


# -- operations: setup, one checked call, the captured request -------------------------------


@dataclass(frozen=True)
class Operation:
    name: str
    service: str
    method: str
    params: dict[str, Any]
    check: Callable[[dict[str, Any]], bool]
    servers: tuple[str, ...] = ("fleetsim", "moto")


def _payload(response: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(response["payload"].read())
    return loaded


OPERATIONS: Final = (
    Operation(
        "DescribeThing",
        "iot",
        "describe_thing",
        {"thingName": THING},
        lambda r: r["thingName"] == THING,
    ),
    Operation(
        "UpdateThingShadow",
        "iot-data",
        "update_thing_shadow",
        {"thingName": THING, "payload": SHADOW},
        lambda r: _payload(r)["state"]["reported"]["temperature"] == 21,
    ),
    Operation(
        "GetThingShadow",
        "iot-data",
        "get_thing_shadow",
        {"thingName": THING},
        lambda r: _payload(r)["state"]["reported"]["firmware"] == "1.0.0",
    ),
    Operation(
        "DescribeJob",
        "iot",
        "describe_job",
        {"jobId": JOB},
        lambda r: r["job"]["jobId"] == JOB,
    ),
    Operation(
        "GetJobDocument",
        "iot",
        "get_job_document",
        {"jobId": JOB},
        lambda r: json.loads(r["document"]) == json.loads(DOCUMENT),
    ),
    Operation(
        "UpdateJobExecution",
        "iot-jobs-data",
        "update_job_execution",
        {
            "thingName": THING,
            "jobId": JOB,
            "status": "IN_PROGRESS",
            "includeJobExecutionState": True,
        },
        lambda r: r["executionState"]["status"] == "IN_PROGRESS",
        servers=("fleetsim",),
    ),
)


def _not_wired(exc: ClientError) -> bool:
    error = exc.response.get("Error", {})
    return error.get("Code") == "UnknownOperationException" and "not implement" in str(
        error.get("Message", "")
    )


def setup(server: Server) -> None:
    """The thing, its shadow and a job with the thing's execution IN_PROGRESS (where wired)."""
    iot = server.client("iot")
    thing_arn = iot.create_thing(thingName=THING)["thingArn"]
    steps: list[Callable[[], object]] = [
        lambda: server.client("iot-data").update_thing_shadow(thingName=THING, payload=SHADOW),
        lambda: iot.create_job(jobId=JOB, targets=[thing_arn], document=DOCUMENT),
    ]
    if server.name == "fleetsim":
        steps.append(
            lambda: server.client("iot-jobs-data").start_next_pending_job_execution(thingName=THING)
        )
    for step in steps:
        try:
            step()
        except ClientError as exc:
            if not _not_wired(exc):
                raise


def capture(server: Server, op: Operation) -> bytes:
    """Call ``op`` once through boto3, check the response, return the signed request's bytes."""
    client = server.client(op.service)
    captured: list[Any] = []
    client.meta.events.register("before-send", lambda request, **_: captured.append(request))
    try:
        response = getattr(client, op.method)(**op.params)
    except ClientError as exc:
        if _not_wired(exc):
            raise NotWired(op.name) from None
        raise
    if not op.check(response):
        raise AssertionError(f"{server.name} {op.name}: unexpected response {response}")
    request = captured[-1]
    split = request.url.split("/", 3)
    target = "/" + (split[3] if len(split) > 3 else "")
    body = request.body or b""
    if isinstance(body, str):
        body = body.encode()
    lines = [f"{request.method} {target} HTTP/1.1", f"Host: {split[2]}"]
    for name, value in request.headers.items():
        if name.lower() not in ("host", "content-length"):
            text = value.decode() if isinstance(value, bytes) else value
            lines.append(f"{name}: {text}")
    lines.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(lines) + "\r\n\r\n").encode() + body


# -- the run ---------------------------------------------------------------------------------


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
    parser.add_argument("--connections", type=int, default=16, help="keep-alive connections")
    parser.add_argument(
        "--duration",
        type=float,
        help=f"seconds per round (default 3; --quick 0.5; <= {MAX_ROUND_S:g})",
    )
    parser.add_argument("--rounds", type=int, help="rounds, median reported (default 3)")
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="let the OS place client and servers"
    )


def run(args: argparse.Namespace) -> int:
    """Run the benchmark; print the table, or one JSON object with ``--json``."""
    args.duration = args.duration if args.duration is not None else (0.5 if args.quick else 3.0)
    args.rounds = args.rounds if args.rounds is not None else (1 if args.quick else 3)
    args.warmup = 0.2 if args.quick else 0.5
    data = measure(args)
    print(json.dumps(data, indent=2) if args.json else table(data))
    return 0
