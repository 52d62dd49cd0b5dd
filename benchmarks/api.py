"""HTTP API throughput: ``fleetsim serve`` against moto's server, same operations, same run.

Usage::

    uv run python -m benchmarks.api [--json] [--quick] [--connections N] [--duration S]

Both servers run as subprocesses (``fleetsim serve --port 0``; moto's ``ThreadedMotoServer`` on
a free port). Each operation is first called once through boto3 with a ``before-send`` hook that
captures the signed request, and the parsed response is checked; the captured bytes are then
replayed (SigV4 allows replays) by a closed-loop client of N keep-alive connections written
directly on asyncio protocols, so the client costs far less CPU per request than either server.
On a machine with two or more CPUs the server is pinned to CPU 1 and the client to CPU 0; the
client's and the server's CPU time are reported with the results.

Operations: UpdateThingShadow, GetThingShadow, DescribeJob, GetJobDocument (both servers),
UpdateJobExecution (fleetsim only: moto has no iot-jobs-data) and DescribeThing (both; the
baseline that needs only the registry). An operation whose service fleetsim does not wire yet is
listed under ``skipped`` instead of failing the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import platform
import signal
import socket
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError

from benchmarks._httpload import Measurement, load

__all__ = ["main"]

ROOT: Final = Path(__file__).resolve().parent.parent
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
        fields = Path(f"/proc/{self.process.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def start_fleetsim() -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", "0"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("fleetsim serve: listening on "):
        process.kill()
        raise RuntimeError(f"fleetsim serve did not start: {line!r}")
    return Server("fleetsim", process, line.rsplit(" ", 1)[1].strip())


def start_moto() -> Server:
    port = _free_port()
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
    return {
        "platform": platform.platform(),
        "python": platform.python_version(),
        "cpus": os.cpu_count(),
        "load_average": [round(x, 2) for x in os.getloadavg()],
    }


def run(args: argparse.Namespace) -> dict[str, Any]:
    servers = [start_fleetsim(), start_moto()]
    try:
        pinned = _pin(servers) if args.pin else False
        requests: dict[tuple[str, str], bytes] = {}
        skipped: list[dict[str, str]] = []
        for server in servers:
            setup(server)
            for op in OPERATIONS:
                if server.name not in op.servers:
                    continue
                try:
                    requests[server.name, op.name] = capture(server, op)
                except NotWired:
                    skipped.append({"server": server.name, "operation": op.name})
        # fleetsim operations that are not wired are skipped for moto too: nothing to compare.
        wired = {op for (name, op) in requests if name == "fleetsim"}
        cells = [key for key in requests if key[1] in wired]
        rounds: dict[tuple[str, str], list[Measurement]] = {key: [] for key in cells}
        by_name = {s.name: s for s in servers}
        for _ in range(args.rounds):
            for name, op_name in cells:
                server = by_name[name]
                measurement = asyncio.run(
                    load(
                        server.url,
                        requests[name, op_name],
                        connections=args.connections,
                        warmup=args.warmup,
                        seconds=args.duration,
                        server_cpu=server.cpu_seconds,
                    )
                )
                rounds[name, op_name].append(measurement)
    finally:
        for server in servers:
            server.stop()
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
        cpu.append(
            {
                "server": name,
                "operation": op_name,
                "client_cpu_per_request_us": round(
                    1e6 * median.client_cpu_s / (median.requests_per_s * median.seconds), 1
                ),
                "server_cpu_per_request_us": round(
                    1e6 * median.server_cpu_s / (median.requests_per_s * median.seconds), 1
                ),
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
        lines.append(f"skipped {skip['server']} {skip['operation']}: service not wired yet")
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.api")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="short run (smoke test)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=None, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument(
        "--no-pin", dest="pin", action="store_false", help="let the OS place client and servers"
    )
    args = parser.parse_args(argv)
    args.duration = args.duration or (0.5 if args.quick else 3.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.warmup = 0.2 if args.quick else 0.5
    data = run(args)
    print(json.dumps(data, indent=2) if args.json else table(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
