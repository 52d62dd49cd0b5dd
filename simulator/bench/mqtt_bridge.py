"""``fleetsim bench mqtt-bridge``: the emulator's MQTT bridge (``fleetsim serve --mqtt``), 1 vs K.

::

    fleetsim bench mqtt-bridge [--json] [--quick] [--connections 1,2,4] [--devices 200]
                               [--seconds 10] [--warmup 3] [--broker-inflight 0] [--certs 1000]

For each K: a fresh Mosquitto (:class:`~simulator.transport.broker.local.LocalMosquitto`:
``mosquitto`` must be installed), a fresh ``fleetsim serve --mqtt URI
--mqtt-connections K`` subprocess, N things in a static group and one job for the group (created
with boto3 over HTTP). A load process (raw asyncio protocol over the project's MQTT 3.1.1 codec)
connects N devices; each runs a closed loop of round trips at QoS 1: ``start-next`` (its
execution: IN_PROGRESS), then ``{jobId}/update`` to IN_PROGRESS with new ``statusDetails``, then
``start-next`` again... so N requests are in flight. After a warm-up it counts replies for
``--seconds``.

Reported per K: ``requests_per_s`` (accepted replies received by the devices per second),
``p50_ms``/``p99_ms`` round-trip latency, ``rejected`` replies (should be 0), and the CPU used
by the serve process, Mosquitto and the load process in % of one core over the measured window
(``/proc/<pid>/stat``). On a two-core machine the three processes share the cores: compare the
rows of one run, and read the CPU columns to see which process is the limit.

``--json`` prints ``{"machine": ..., "results": [{"connections", "devices", "requests_per_s",
"p50_ms", "p99_ms", "rejected", "serve_cpu_pct", "broker_cpu_pct", "load_cpu_pct",
"serve_cpu_us_per_request"}], "certificates": {"certificates", "issue_per_s",
"reuse_per_s"}}``. ``--connections 1,4,1,4`` repeats rows to interleave them. ``--certs N``
also times :mod:`simulator.transport.certs` issuing N device certificates, then re-running.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import queue
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any, Final

import boto3  # type: ignore[import-untyped]
import orjson
from botocore.config import Config

from simulator.bench._procs import python_module
from simulator.bench._timing import machine
from simulator.core.errors import UsageError
from simulator.transport.broker.local import LocalMosquitto, mosquitto_binary
from simulator.transport.mqtt.codec import (
    ConnAck,
    Connect,
    Decoder,
    Publish,
    SubAck,
    Subscribe,
    encode,
    encode_puback,
    encode_publish,
)

__all__ = ["add_arguments", "measure", "measure_certs", "run"]

_HZ: Final = os.sysconf("SC_CLK_TCK")


def _cpu_ticks(pid: int) -> int:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])  # utime + stime


# -- the load: N devices in one process ---------------------------------------------------------


class _Device(asyncio.Protocol):
    def __init__(self, name: str, stats: dict[str, Any], ready: asyncio.Future[None]) -> None:
        self.name = name
        self.prefix = f"$aws/things/{name}/jobs"
        self.stats = stats
        self.ready = ready
        self.decoder = Decoder()
        self.transport: asyncio.Transport | None = None
        self.job_id: str | None = None
        self.step = 0
        self.sent_at = 0.0
        self.packet_id = 0

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(encode(Connect(self.name, keepalive=600)))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        assert self.transport is not None
        for packet in self.decoder.feed(data):
            if isinstance(packet, ConnAck):
                filters = tuple(
                    (f"{self.prefix}/{suffix}", 1)
                    for suffix in (
                        "start-next/accepted",
                        "start-next/rejected",
                        "+/update/accepted",
                        "+/update/rejected",
                    )
                )
                self.transport.write(encode(Subscribe(1, filters)))
            elif isinstance(packet, SubAck):
                self.ready.set_result(None)
            elif isinstance(packet, Publish):
                if packet.qos:
                    self.transport.write(encode_puback(packet.packet_id))
                self._reply(packet)

    def _reply(self, packet: Publish) -> None:
        stats = self.stats
        if packet.topic.endswith("/rejected"):
            stats["rejected"] += 1
        elif stats["measuring"]:
            stats["replies"] += 1
            stats["latencies"].append(time.perf_counter() - self.sent_at)
        if packet.topic.endswith("start-next/accepted"):
            if self.job_id is None:
                execution = orjson.loads(packet.payload).get("execution") or {}
                self.job_id = execution.get("jobId")
            self._update()
        else:
            self._start_next()

    def _send(self, topic: str, body: dict[str, Any]) -> None:
        assert self.transport is not None
        self.packet_id = self.packet_id % 65535 + 1
        self.sent_at = time.perf_counter()
        self.transport.write(encode_publish(topic.encode(), orjson.dumps(body), 1, self.packet_id))

    def _start_next(self) -> None:
        self._send(f"{self.prefix}/start-next", {"clientToken": "s"})

    def _update(self) -> None:
        if self.job_id is None:  # nothing pending: keep asking
            self._start_next()
            return
        self.step += 1
        self._send(
            f"{self.prefix}/{self.job_id}/update",
            {
                "status": "IN_PROGRESS",
                "statusDetails": {"step": str(self.step)},
                "clientToken": "u",
            },
        )


async def _load(port: int, names: list[str], warmup: float, seconds: float) -> dict[str, Any]:
    loop = asyncio.get_running_loop()
    stats: dict[str, Any] = {"replies": 0, "rejected": 0, "latencies": [], "measuring": False}
    devices = []
    for name in names:
        ready: asyncio.Future[None] = loop.create_future()
        device = _Device(name, stats, ready)
        await loop.create_connection(lambda d=device: d, "127.0.0.1", port)  # type: ignore[misc]
        await ready
        devices.append(device)
    for device in devices:
        device._start_next()
    await asyncio.sleep(warmup)
    print(json.dumps({"event": "start"}), flush=True)  # the driver samples CPU from here
    stats["measuring"] = True
    cpu, wall = _cpu_ticks(os.getpid()), time.perf_counter()
    await asyncio.sleep(seconds)
    stats["measuring"] = False
    elapsed = time.perf_counter() - wall
    load_cpu = 100 * (_cpu_ticks(os.getpid()) - cpu) / _HZ / elapsed
    latencies = sorted(stats["latencies"])
    return {
        "requests_per_s": stats["replies"] / elapsed,
        "p50_ms": 1000 * statistics.median(latencies) if latencies else 0.0,
        "p99_ms": 1000 * latencies[int(0.99 * (len(latencies) - 1))] if latencies else 0.0,
        "rejected": stats["rejected"],
        "load_cpu_pct": load_cpu,
    }


def _load_worker(args: argparse.Namespace) -> int:
    import uvloop  # noqa: PLC0415

    names = [f"bench-{i:05d}" for i in range(args.devices)]
    result = uvloop.run(_load(args.worker_port, names, args.warmup, args.seconds))
    print(json.dumps({"event": "result", **result}), flush=True)
    return 0


# -- the driver ---------------------------------------------------------------------------------


def _line_reader(process: subprocess.Popen[str]) -> queue.Queue[str]:
    """Stdout lines of ``process`` from a thread (a selector would miss buffered lines)."""
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert process.stdout is not None
        for line in process.stdout:
            lines.put(line.strip())

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _setup(url: str, devices: int) -> None:
    def client(service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )

    iot = client("iot")
    group = iot.create_thing_group(thingGroupName="bench")["thingGroupArn"]
    for i in range(devices):
        name = f"bench-{i:05d}"
        iot.create_thing(thingName=name)
        iot.add_thing_to_thing_group(thingGroupName="bench", thingName=name)
    iot.create_job(jobId="bench-job", targets=[group], document='{"operation":"bench"}')


def measure(
    connections: int, devices: int, warmup: float, seconds: float, broker_inflight: int = 0
) -> dict[str, Any]:
    """One row: a fresh broker and emulator with ``connections`` bridge connections.

    ``broker_inflight`` is Mosquitto's ``max_inflight_messages`` (QoS 1 messages in flight to
    one client; 0 = unlimited as ``fleetsim broker-config`` writes, 20 = Mosquitto's default).
    """
    with tempfile.TemporaryDirectory() as tmp:
        broker = LocalMosquitto(Path(tmp), max_inflight_messages=broker_inflight)
        with broker:
            return _measure(broker, connections, devices, warmup, seconds) | {
                "broker_inflight": broker_inflight
            }


def _measure(
    broker: Any, connections: int, devices: int, warmup: float, seconds: float
) -> dict[str, Any]:
    serve = subprocess.Popen(
        [
            *python_module("simulator.cli"),
            "serve",
            "--port",
            "0",
            "--auth",
            "none",
            "--mqtt",
            broker.uri,
            "--mqtt-connections",
            str(connections),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    lines = _line_reader(serve)
    try:
        url = lines.get(timeout=60).rsplit(" ", 1)[1]
        connected = lines.get(timeout=60)
        assert connected.startswith("fleetsim serve: mqtt connected"), connected
        _setup(url, devices)
        load = subprocess.Popen(
            [
                *python_module("simulator.bench.mqtt_bridge"),
                "--worker-port",
                str(broker.port),
                "--devices",
                str(devices),
                "--warmup",
                str(warmup),
                "--seconds",
                str(seconds),
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        # Sample the other two processes over the same window as the load's count.
        assert load.stdout is not None
        started = json.loads(load.stdout.readline())
        assert started == {"event": "start"}, started
        ticks = (_cpu_ticks(serve.pid), _cpu_ticks(broker.pid))
        wall = time.perf_counter()
        out = load.stdout.readline()
        elapsed = time.perf_counter() - wall
        load.wait(timeout=60)
        serve_cpu = 100 * (_cpu_ticks(serve.pid) - ticks[0]) / _HZ / elapsed
        broker_cpu = 100 * (_cpu_ticks(broker.pid) - ticks[1]) / _HZ / elapsed
    finally:
        serve.terminate()
        serve.wait(timeout=30)
    result = json.loads(out)
    del result["event"]
    return {
        "connections": connections,
        "devices": devices,
        **result,
        "serve_cpu_pct": serve_cpu,
        "broker_cpu_pct": broker_cpu,
        # CPU the emulator spends per request: robust on a shared machine, where the rate
        # itself moves with whatever else runs; 1e6 / this is the one-core ceiling.
        "serve_cpu_us_per_request": 1e4 * serve_cpu / max(result["requests_per_s"], 1e-9),
    }


def measure_certs(count: int) -> dict[str, Any]:
    """Per-device certificates per second: issue (key + sign + write), then re-run (reuse)."""
    from simulator.transport.certs import ProjectCA  # noqa: PLC0415

    with tempfile.TemporaryDirectory() as tmp:
        ca = ProjectCA.load_or_create(Path(tmp))
        rates = []
        for _ in range(2):  # the second pass finds every certificate valid and keeps it
            started = time.perf_counter()
            for i in range(count):
                ca.issue_client(f"device-{i:06d}")
            rates.append(count / (time.perf_counter() - started))
    return {"certificates": count, "issue_per_s": rates[0], "reuse_per_s": rates[1]}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="short runs (smoke test)")
    parser.add_argument(
        "--connections",
        default="1,2,4",
        help="bridge connections K per row (1-10; 1,4,1,4 repeats)",
    )
    parser.add_argument(
        "--devices", type=int, default=200, help="devices, one request each in flight"
    )
    parser.add_argument("--seconds", type=float, default=10.0, help="measured seconds per row")
    parser.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per row")
    parser.add_argument(
        "--broker-inflight",
        type=int,
        default=0,
        help="Mosquitto max_inflight_messages (0: no limit)",
    )
    parser.add_argument("--certs", type=int, default=1000, help="certificates to issue (0: skip)")


def _connections(text: str) -> list[int]:
    try:
        counts = [int(part) for part in text.split(",") if part]
    except ValueError:
        counts = []
    if not counts or not all(1 <= k <= 10 for k in counts):
        raise UsageError(f"--connections {text!r}: a comma-separated list of 1..10")
    return counts


def run(args: argparse.Namespace) -> int:
    """Every K in turn; progress on stderr, then one JSON object with ``--json``."""
    counts = _connections(args.connections)
    if args.devices < 1 or args.seconds <= 0 or args.warmup < 0 or args.certs < 0:
        raise UsageError(
            "--devices must be at least 1, --seconds above 0, --warmup and --certs >= 0"
        )
    mosquitto_binary()  # one line saying how to install it, before anything starts
    if args.quick:
        args.seconds, args.warmup, args.devices = 2.0, 1.0, min(args.devices, 50)
        args.certs = min(args.certs, 50)
    out = sys.stderr if args.json else sys.stdout  # with --json, stdout is the JSON alone
    certs = measure_certs(args.certs) if args.certs else None
    if certs is not None:
        print(
            f"certificates: {certs['issue_per_s']:.0f}/s issued, {certs['reuse_per_s']:.0f}/s "
            f"reused ({certs['certificates']}, ECDSA P-256)",
            file=out,
        )
    rows = []
    for k in counts:
        row = measure(k, args.devices, args.warmup, args.seconds, args.broker_inflight)
        rows.append(row)
        print(
            f"K={k:2d} devices={row['devices']:5d} {row['requests_per_s']:9.0f} req/s "
            f"p50 {row['p50_ms']:6.1f} ms p99 {row['p99_ms']:6.1f} ms rejected {row['rejected']} "
            f"cpu serve {row['serve_cpu_pct']:5.1f}% broker {row['broker_cpu_pct']:5.1f}% "
            f"load {row['load_cpu_pct']:5.1f}% serve {row['serve_cpu_us_per_request']:5.1f} us/req",
            file=out,
            flush=True,
        )
    if args.json:
        print(json.dumps({"machine": machine(), "results": rows, "certificates": certs}))
    return 0


def _worker_main(argv: list[str]) -> int:
    """The load process (``python -m simulator.bench.mqtt_bridge --worker-port P ...``)."""
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--worker-port", type=int, required=True)
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--seconds", type=float, required=True)
    parser.add_argument("--warmup", type=float, required=True)
    return _load_worker(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(_worker_main(sys.argv[1:]))
