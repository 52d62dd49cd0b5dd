"""Device-side MQTT clients against a real Mosquitto: connections, idle cost, round trips.

Usage::

    uv run python -m benchmarks.mqtt [--json] [--quick] [--devices 1000,10000,19000]
                                     [--clients raw,fleetsim,gmqtt,aiomqtt] [--idle 10]
                                     [--roundtrips [--rt-devices 1000,10000]]
                                     [--rollout-devices 10000] [--sections connections,rollout]

Sections (each row measured in the same run, every client against a fresh Mosquitto 2.0 that
this module starts with ``tests/mqtt_broker.py``; one worker subprocess per row so that RSS and
CPU belong to that client alone; the clients are described in ``benchmarks/_mqtt_clients.py``):

* ``connections``: N devices connect and subscribe (clean session, keepalive 60 s, at most 100
  handshakes in flight); ``connects_per_s`` = N / time to the last SUBACK,
  ``rss_kb_per_conn`` = client RSS growth / N, ``idle_cpu_pct`` = the client's CPU time over
  ``--idle`` seconds of holding the N connections, in % of one core. The open-file hard limit
  here is 20,000 per process (client and broker alike), so "20,000 devices" is measured as
  19,000.
* ``rollout``: the end-to-end job rollout of ``fleetsim run --broker`` (devices and embedded
  emulator in one worker process, one connection per device) for ``--rollout-devices`` devices
  (10,000), once with the ``fleetsim`` device client and once with the ``raw`` floor carrying
  the same device state machine; ``messages_per_s`` = device-side messages from the first
  ``notify-next`` to the last terminal update answered / that time; ``all_terminal``: every
  execution ended. Details in ``benchmarks/_mqtt_rollout.py``.
* ``roundtrips`` (only with ``--roundtrips``): a publisher process keeps 1,000 QoS 1 requests
  of 1,000 bytes in flight to random devices, each device answers at QoS 1;
  ``roundtrips_per_s`` and the median latency.

``--json`` prints one object: ``{"connections": [{"client", "devices", "connects_per_s",
"rss_kb_per_conn", "idle_cpu_pct"}, ...], "rollout": [...]}`` (plus ``"roundtrips"`` when
asked). Everything else goes to stderr. Numbers from a shared two-core machine are noisy:
compare rows of the same run.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from benchmarks._events import EventProcess

__all__ = ["main", "measure_connections", "measure_rollout", "measure_roundtrips"]

ROOT: Final = Path(__file__).resolve().parent.parent
CLIENTS: Final = ("raw", "fleetsim", "gmqtt", "aiomqtt")
CONNECTION_KEYS: Final = ("client", "devices", "connects_per_s", "rss_kb_per_conn", "idle_cpu_pct")
ROLLOUT_KEYS: Final = ("client", "devices", "messages_per_s", "all_terminal")
TARGETS: Final = {
    "devices": 19_000,
    "connects_per_s": 2_000.0,
    "rss_kb_per_conn": 10.0,
    "idle_cpu_pct": 10.0,
}


# -- worker side (runs in a subprocess per measured row) ----------------------------------------


def _rss_bytes() -> int:
    fields = Path("/proc/self/statm").read_text().split()
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def _device_worker(args: argparse.Namespace) -> None:
    from benchmarks._mqtt_clients import make_fleet  # noqa: PLC0415

    stop = asyncio.Event()
    asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, stop.set)
    fleet = make_fleet(args.worker, "127.0.0.1", args.port, args.devices, echo=args.echo)
    gc.collect()
    rss, cpu = _rss_bytes(), _cpu_seconds()
    started = time.perf_counter()
    await fleet.connect()
    seconds = time.perf_counter() - started
    cpu = _cpu_seconds() - cpu
    gc.collect()
    _emit("ready", seconds=seconds, cpu_seconds=cpu, rss_bytes=_rss_bytes() - rss)
    cpu, wall = _cpu_seconds(), time.perf_counter()
    if args.idle:
        await asyncio.sleep(args.idle)
        _emit("idle", cpu_pct=100 * (_cpu_seconds() - cpu) / (time.perf_counter() - wall))
        cpu, wall = _cpu_seconds(), time.perf_counter()
    await stop.wait()
    _emit("done", cpu_pct=100 * (_cpu_seconds() - cpu) / (time.perf_counter() - wall))
    try:
        async with asyncio.timeout(30):
            await fleet.close()
    except TimeoutError:
        print(f"{args.worker}: closing the fleet took over 30 s", file=sys.stderr)


async def _publisher_worker(args: argparse.Namespace) -> None:
    from benchmarks._mqtt_clients import publisher_load  # noqa: PLC0415

    result = await publisher_load(
        "127.0.0.1",
        args.port,
        args.devices,
        in_flight=args.in_flight,
        payload_size=args.payload,
        warmup=args.warmup,
        duration=args.duration,
        on_measuring=lambda: _emit("measuring"),
    )
    _emit("result", **result)


def _run_worker(args: argparse.Namespace) -> int:
    import uvloop  # noqa: PLC0415

    from simulator.transport.mqtt import raise_open_file_limit  # noqa: PLC0415

    raise_open_file_limit()
    worker = _publisher_worker if args.worker == "publisher" else _device_worker
    uvloop.run(worker(args))
    return 0


# -- orchestrator side ------------------------------------------------------------------------


class _Worker(EventProcess):
    """A worker subprocess (``benchmarks.mqtt`` itself) whose stdout lines are JSON events."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__("benchmarks.mqtt", argv)

    def stop(self) -> dict[str, Any]:
        self.process.send_signal(signal.SIGTERM)
        done = self.event("done", 120)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a client that cannot close 19k sockets in a minute
            print(f"worker {self.process.args!r} did not exit; killed", file=sys.stderr)
            self.kill()
        return done

    def kill(self) -> None:
        if self.process.poll() is None:
            self.process.kill()
            self.process.wait()


def _process_cpu(pid: int) -> float:
    """CPU seconds (user + system) another process has used, from /proc."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _connect_timeout(devices: int) -> float:
    return 60 + devices / 100  # aiomqtt at 19k takes ~20 s here; far beyond that is a failure


def measure_connections(client: str, devices: int, idle: float, workdir: Path) -> dict[str, Any]:
    """One ``connections`` row: connect ``devices`` with ``client``, hold them ``idle`` s."""
    from tests.mqtt_broker import Mosquitto  # noqa: PLC0415

    with Mosquitto(workdir / f"conn-{client}-{devices}") as broker:
        worker = _Worker(
            [
                "--worker",
                client,
                "--devices",
                str(devices),
                "--port",
                str(broker.port),
                "--idle",
                str(idle),
            ]
        )
        try:
            ready = worker.event("ready", _connect_timeout(devices))
            idle_event = worker.event("idle", idle + 60)
            worker.stop()
        finally:
            worker.kill()
    return {
        "client": client,
        "devices": devices,
        "connects_per_s": devices / ready["seconds"],
        "rss_kb_per_conn": ready["rss_bytes"] / devices / 1024,
        "idle_cpu_pct": float(idle_event["cpu_pct"]),
        "cpu_us_per_connect": 1e6 * ready["cpu_seconds"] / devices,  # table only, not JSON
    }


def measure_roundtrips(
    client: str, devices: int, workdir: Path, *, warmup: float, duration: float
) -> dict[str, Any]:
    """One ``roundtrips`` row: a publisher keeps 1,000 requests in flight to ``devices``."""
    from tests.mqtt_broker import Mosquitto  # noqa: PLC0415

    with Mosquitto(workdir / f"rt-{client}-{devices}") as broker:
        port = str(broker.port)
        worker = _Worker(
            ["--worker", client, "--devices", str(devices), "--port", port, "--idle", "0", "--echo"]
        )
        publisher: _Worker | None = None
        try:
            worker.event("ready", _connect_timeout(devices))
            publisher = _Worker(
                [
                    *("--worker", "publisher", "--devices", str(devices), "--port", port),
                    *("--warmup", str(warmup), "--duration", str(duration)),
                ]
            )
            publisher.event("measuring", warmup + 60)
            pids = (broker.pid, worker.process.pid)
            cpu, wall = [_process_cpu(pid) for pid in pids], time.perf_counter()
            result = publisher.event("result", duration + 60)
            wall = time.perf_counter() - wall
            broker_pct, device_pct = (
                100 * (_process_cpu(pid) - before) / wall
                for pid, before in zip(pids, cpu, strict=True)
            )
            worker.stop()
        finally:
            worker.kill()
            if publisher is not None:
                publisher.kill()
    return {
        "client": client,
        "devices": devices,
        "roundtrips_per_s": float(result["roundtrips_per_s"]),
        "p50_ms": float(result["p50_ms"]),
        "device_cpu_pct": device_pct,
        "device_cpu_us_per_rt": 1e4 * device_pct / float(result["roundtrips_per_s"]),
        "publisher_cpu_pct": float(result["cpu_pct"]),
        "broker_cpu_pct": broker_pct,
    }


def measure_rollout(args: argparse.Namespace, workdir: Path) -> list[dict[str, Any]]:
    """The ``rollout`` section: ``[{"client", "devices", "messages_per_s", "all_terminal"}]``.

    A rollout of ``args.rollout_devices`` devices over MQTT with the ``raw`` floor and with the
    ``fleetsim`` client, ``args.rollout_rounds`` times interleaved (fresh broker each); each
    client's row is its median round (``all_terminal`` over all its rounds) and also carries the
    rollout's duration and the CPU of the worker and of the broker (table only).
    """
    from benchmarks._mqtt_rollout import measure  # noqa: PLC0415

    devices = args.rollout_devices or (300 if args.quick else 10_000)
    rounds = args.rollout_rounds or (1 if args.quick else 3)
    at_s = 5.0 if args.quick else 12.0
    measured: dict[str, list[dict[str, Any]]] = {"raw": [], "fleetsim": []}
    for round_ in range(rounds):
        for client, rows in measured.items():
            print(f"rollout: {client} x {devices:,} ({round_ + 1}/{rounds})", file=sys.stderr)
            rows.append(measure(client, devices, workdir / f"round-{round_}", at_s=at_s))
    out = []
    for rows in measured.values():
        rows.sort(key=lambda row: row["messages_per_s"])
        median = dict(rows[len(rows) // 2])
        median["all_terminal"] = all(row["all_terminal"] for row in rows)
        median["rounds"] = [round(row["messages_per_s"]) for row in rows]
        out.append(median)
    return out


#: The fleetsim client's rollout message rate, as a share of the raw floor's, at least.
ROLLOUT_TARGET: Final = 0.6


def _rollout_target(rows: list[dict[str, Any]]) -> dict[str, Any] | None:
    by_client = {row["client"]: row for row in rows}
    if "raw" not in by_client or "fleetsim" not in by_client:
        return None
    ratio = by_client["fleetsim"]["messages_per_s"] / max(by_client["raw"]["messages_per_s"], 1e-9)
    ok = ratio >= ROLLOUT_TARGET and all(row["all_terminal"] for row in rows)
    return {"ratio": ratio, "pass": ok}


def _table(title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str, str]]) -> str:
    head = "| " + " | ".join(label for _, label, _ in columns) + " |"
    rule = "|" + "|".join("---" if fmt == "s" else "---:" for _, _, fmt in columns) + "|"
    body = [
        "| " + " | ".join(format(row[key], fmt) for key, _, fmt in columns) + " |" for row in rows
    ]
    return "\n".join([f"\n{title}\n", head, rule, *body])


def _targets(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    full = [r for r in rows if r["client"] == "fleetsim" and r["devices"] >= TARGETS["devices"]]
    if not full:
        return []
    row = full[-1]
    return [
        {
            "target": "connects/s at 19,000",
            "value": row["connects_per_s"],
            "pass": row["connects_per_s"] >= TARGETS["connects_per_s"],
        },
        {
            "target": "client RSS KB/conn",
            "value": row["rss_kb_per_conn"],
            "pass": row["rss_kb_per_conn"] <= TARGETS["rss_kb_per_conn"],
        },
        {
            "target": "idle CPU % at 19,000",
            "value": row["idle_cpu_pct"],
            "pass": row["idle_cpu_pct"] <= TARGETS["idle_cpu_pct"],
        },
    ]


def _print_rollout(rows: list[dict[str, Any]]) -> None:
    if not rows:
        return
    print(
        _table(
            "Rollout over MQTT (devices + embedded emulator in one process)",
            [
                {
                    **row,
                    "all_terminal": "yes" if row["all_terminal"] else "NO",
                    "process_cpu_pct": row.get("process_cpu_pct") or float("nan"),
                    "broker_cpu_pct": row.get("broker_cpu_pct") or float("nan"),
                    "worker_cpu_us_per_message": row.get("worker_cpu_us_per_message")
                    or float("nan"),
                    "rounds": ", ".join(f"{r:,}" for r in row.get("rounds", [])),
                }
                for row in rows
            ],
            [
                ("client", "client", "s"),
                ("devices", "devices", ",d"),
                ("messages_per_s", "messages/s", ",.0f"),
                ("all_terminal", "all terminal", "s"),
                ("rollout_s", "rollout s", ".2f"),
                ("messages", "messages", ",d"),
                ("process_cpu_pct", "worker CPU %", ".0f"),
                ("worker_cpu_us_per_message", "worker CPU µs/message", ".1f"),
                ("broker_cpu_pct", "broker CPU %", ".0f"),
                ("rounds", "messages/s of each round", "s"),
            ],
        )
    )
    target = _rollout_target(rows)
    if target is not None:
        verdict = "PASS" if target["pass"] else "FAIL"
        print(
            f"target rollout messages/s >= {ROLLOUT_TARGET:.0%} of raw: "
            f"{target['ratio']:.0%} {verdict}"
        )


def _parse_sizes(text: str) -> list[int]:
    return [int(part.replace("_", "")) for part in text.split(",") if part]


def _rollout_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--rollout-devices", type=int, help="rollout fleet size (default 10000; --quick 300)"
    )
    parser.add_argument(
        "--rollout-rounds", type=int, help="interleaved rollout rounds (default 3; --quick 1)"
    )
    parser.add_argument(
        "--sections",
        default="connections,rollout",
        help="sections to measure (connections, rollout; round trips with --roundtrips)",
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.mqtt", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--quick", action="store_true", help="small fleets, short idle (smoke test)"
    )
    parser.add_argument(
        "--devices", type=_parse_sizes, help="fleet sizes (default 1000,10000,19000)"
    )
    parser.add_argument("--clients", default=",".join(CLIENTS), help="clients to measure")
    parser.add_argument("--idle", type=float, help="seconds of idle CPU measurement (default 10)")
    parser.add_argument("--roundtrips", action="store_true", help="also measure round trips")
    parser.add_argument(
        "--rt-devices", type=_parse_sizes, help="round-trip fleet sizes (default 1000,10000)"
    )
    parser.add_argument(
        "--duration", type=float, default=10.0, help="round-trip measurement seconds"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="round-trip warm-up seconds")
    _rollout_arguments(parser)
    # worker mode (internal)
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--port", type=int, help=argparse.SUPPRESS)
    parser.add_argument("--echo", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--in-flight", type=int, default=1000, help=argparse.SUPPRESS)
    parser.add_argument("--payload", type=int, default=1000, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        args.devices = args.devices[0]
        return _run_worker(args)

    sizes = args.devices or ([200] if args.quick else [1000, 10_000, 19_000])
    rt_sizes = args.rt_devices or ([200] if args.quick else [1000, 10_000])
    idle = args.idle if args.idle is not None else (1.0 if args.quick else 10.0)
    warmup, duration = (0.5, 2.0) if args.quick else (args.warmup, args.duration)
    clients = [c for c in args.clients.split(",") if c]
    for client in clients:
        if client not in CLIENTS:
            parser.error(f"unknown client {client!r}; choose from {', '.join(CLIENTS)}")

    out: dict[str, Any] = {"connections": [], "rollout": []}
    with tempfile.TemporaryDirectory(prefix="fleetsim-bench-mqtt-") as tmp:
        workdir = Path(tmp)
        sections = set(args.sections.split(","))
        for devices in sizes if "connections" in sections else []:
            for client in clients:
                print(f"connections: {client} x {devices:,}", file=sys.stderr, flush=True)
                out["connections"].append(measure_connections(client, devices, idle, workdir))
        if "rollout" in sections:
            out["rollout"] = measure_rollout(args, workdir)
        if args.roundtrips:
            out["roundtrips"] = []
            for devices in rt_sizes:
                for client in clients:
                    print(f"round trips: {client} x {devices:,}", file=sys.stderr, flush=True)
                    row = measure_roundtrips(
                        client, devices, workdir, warmup=warmup, duration=duration
                    )
                    out["roundtrips"].append(row)

    if args.json:
        rows = [{k: row[k] for k in CONNECTION_KEYS} for row in out["connections"]]
        rollout = [{k: row[k] for k in ROLLOUT_KEYS} for row in out["rollout"]]
        print(json.dumps({**out, "connections": rows, "rollout": rollout}))
        return 0
    print(
        _table(
            "Connections (connect + subscribe, then idle)",
            out["connections"],
            [
                ("client", "client", "s"),
                ("devices", "devices", ",d"),
                ("connects_per_s", "connects/s", ",.0f"),
                ("rss_kb_per_conn", "RSS KB/conn", ".1f"),
                ("idle_cpu_pct", "idle CPU %", ".1f"),
                ("cpu_us_per_connect", "client CPU µs/connect", ",.0f"),
            ],
        )
    )
    if "roundtrips" in out:
        print(
            _table(
                "Round trips (1,000 in flight, QoS 1, 1,000-byte payloads)",
                out["roundtrips"],
                [
                    ("client", "client", "s"),
                    ("devices", "devices", ",d"),
                    ("roundtrips_per_s", "round trips/s", ",.0f"),
                    ("p50_ms", "p50 ms", ".1f"),
                    ("device_cpu_pct", "device CPU %", ".0f"),
                    ("device_cpu_us_per_rt", "device CPU µs/rt", ".0f"),
                    ("publisher_cpu_pct", "publisher CPU %", ".0f"),
                    ("broker_cpu_pct", "broker CPU %", ".0f"),
                ],
            )
        )
    for target in _targets(out["connections"]):
        verdict = "PASS" if target["pass"] else "FAIL"
        print(f"target {target['target']}: {target['value']:.1f} {verdict}")
    _print_rollout(out["rollout"])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
