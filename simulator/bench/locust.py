"""``fleetsim bench locust``: device users per Locust worker, ``DeviceUser`` against ``MqttUser``.

::

    fleetsim bench locust [--json] [--clients fleetsim,locust-mqtt]
                          [--ours 2000,5000,10000,15000,19000]
                          [--peer 500,1000,...,3000,3500,4000,5000,6000]
                          [--window 30] [--settle 10]

Two clients run the same workload in one Locust worker process each (``locust --headless``, no
``--processes``), against a local Mosquitto and a minimal responder process (not the emulator):

* ``fleetsim``: :class:`simulator.locustrun.DeviceUser` (devices on an ``ElasticFleet``: one
  uvloop loop in a second OS thread of the Locust process, one MQTT connection per device),
  locustfile ``simulator/locustrun/bench/fleetsim_users.py``, spawned at 1,000 users/s;
* ``locust-mqtt``: ``locust.contrib.mqtt.MqttUser`` (paho under gevent), locustfile
  ``simulator/locustrun/bench/mqtt_users.py``, spawned at 100 users/s.

Both need only fleetsim's own dependencies (locust with its MQTT extra) and ``mosquitto``.

Workload per device: connect (client id = thing name), subscribe to its 5 Jobs filters, publish
``{"clientToken": ...}`` on ``$aws/things/<name>/jobs/start-next`` every 10 s (first at a random
offset), the responder answers on ``.../start-next/accepted``; the time from publish to answer
is the request ``MQTT start-next``. Each fleet size is a fresh broker, responder and Locust
process (:mod:`._locust_step`); per size, after every device is connected and one
request period has passed, a ``--window`` of seconds is measured: CPU % of the Locust process
(all its threads), requests/s, p50/p99 of ``start-next`` over the window only (the probe in
``simulator/locustrun/bench/probe.py``), failures in the window, and RSS per device = (RSS at N
- RSS of the same locustfile with 1 user) / (N - 1). Also per row: ``ready s`` (Locust process
start to every device connected and subscribed), the CPU of the responder and of the broker over
the window, and the 1-minute load average at its end (the machine is shared).

A size **holds** when every device connected, worker CPU < 90 %, p99 < 500 ms, no failure in the
window, and requests/s is at least 90 % of N / 10 (the workload was delivered). Each client steps
up its sizes and stops after the first that does not hold. Targets: ``fleetsim`` holds >= 10,000
devices, and >= 5x the largest fleet ``locust-mqtt`` holds in the same run.

``--json`` prints one object: ``{"rows": [...], "idle_rss_mb": {client: MB}, "largest":
{client: devices}, "ratio": fleetsim / locust-mqtt, "targets": [...], "machine": {...}}``;
progress, and then the table, go to stderr.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any, Final

from simulator.bench._locust_step import ClientSpec, locustfile, measure_step
from simulator.bench._timing import machine
from simulator.core.errors import UsageError
from simulator.transport.broker.local import mosquitto_binary

__all__ = ["add_arguments", "run"]

#: The benchmark's scenario: thing names and the fleet group only. The device behaviour is the
#: locustfile's ping device, and there is no job: a minimal responder answers the requests.
SCENARIO: Final = """\
name = "locust-bench"

[fleet]
devices = 1
name_format = "bench-{index:06d}"
group = "fleet"

[device]
response_timeout_s = 10
"""

PERIOD_S: Final = 10.0
CPU_LIMIT: Final = 90.0
P99_LIMIT_MS: Final = 500.0
RATE_SHARE: Final = 0.9
TARGET_DEVICES: Final = 10_000
TARGET_RATIO: Final = 5.0
CLIENTS: Final = ("fleetsim", "locust-mqtt")
SIZES: Final = {
    "fleetsim": (2_000, 5_000, 10_000, 15_000, 19_000),
    "locust-mqtt": (500, 1_000, 1_500, 2_000, 2_500, 3_000, 3_500, 4_000, 5_000, 6_000),
}
ROW_KEYS: Final = (
    "client",
    "devices",
    "connected",
    "connect_s",
    "cpu_pct",
    "requests_per_s",
    "p50_ms",
    "p99_ms",
    "failures",
    "rss_kb_per_device",
    "responder_cpu_pct",
    "broker_cpu_pct",
    "load_average",
    "holds",
)


def _verdict(row: dict[str, Any]) -> list[str]:
    """Why a row does not hold (empty: it holds)."""
    devices = row["devices"]
    reasons = []
    if row["connected"] < devices:
        reasons.append(f"{row['connected']:,} of {devices:,} connected")
    if not row["cpu_pct"] < CPU_LIMIT:
        reasons.append(f"CPU {row['cpu_pct']:.0f}%")
    if not row["p99_ms"] < P99_LIMIT_MS:  # NaN (no answer at all) fails too
        reasons.append(f"p99 {row['p99_ms']:.0f} ms")
    if row["failures"]:
        reasons.append(f"{row['failures']} failures")
    if row["requests_per_s"] < RATE_SHARE * devices / PERIOD_S:
        reasons.append(f"{row['requests_per_s']:.0f} req/s")
    return reasons


def _step_up(
    client: ClientSpec, sizes: list[int], workdir: Path, args: argparse.Namespace
) -> tuple[list[dict[str, Any]], int]:
    """Idle baseline, then each size until one does not hold: (rows, idle RSS bytes)."""
    print(f"{client.name}: idle baseline (1 user)", file=sys.stderr, flush=True)
    idle = measure_step(client, 1, workdir, settle=1.0, window=2.0)["rss_bytes"]
    rows = []
    for devices in sizes:
        print(f"{client.name}: {devices:,} devices", file=sys.stderr, flush=True)
        row = measure_step(client, devices, workdir, settle=args.settle, window=args.window)
        row["rss_kb_per_device"] = (row["rss_bytes"] - idle) / max(devices - 1, 1) / 1024
        reasons = _verdict(row)
        row["holds"], row["why_not"] = not reasons, reasons
        print(f"  -> {_line(row)}", file=sys.stderr, flush=True)
        rows.append(row)
        if reasons:
            break
    return rows, idle


def _line(row: dict[str, Any]) -> str:
    verdict = "holds" if row["holds"] else "fails: " + ", ".join(row["why_not"])
    return (
        f"CPU {row['cpu_pct']:.0f}%, {row['requests_per_s']:,.0f} req/s, p50 "
        f"{row['p50_ms']:.1f} ms, p99 {row['p99_ms']:.1f} ms, {verdict}"
    )


def _table(rows: list[dict[str, Any]]) -> str:
    head = (
        "| client | devices | connected | ready s | worker CPU % | requests/s | p50 ms | "
        "p99 ms | failures | RSS KB/device | responder CPU % | broker CPU % | load | holds |"
    )
    rule = "|---|" + "---:|" * 12 + "---|"
    lines = [head, rule]
    for r in rows:
        connect = "—" if r["connect_s"] is None else f"{r['connect_s']:.1f}"
        holds = "yes" if r["holds"] else "**no** (" + ", ".join(r["why_not"]) + ")"
        lines.append(
            f"| {r['client']} | {r['devices']:,} | {r['connected']:,} | {connect} | "
            f"{r['cpu_pct']:.0f} | {r['requests_per_s']:,.0f} | {r['p50_ms']:.1f} | "
            f"{r['p99_ms']:.1f} | {r['failures']} | {r['rss_kb_per_device']:.1f} | "
            f"{r['responder_cpu_pct']:.0f} | {r['broker_cpu_pct']:.0f} | {r['load_average']:.1f} | "
            f"{holds} |"
        )
    return "\n".join(lines)


def _targets(largest: dict[str, int], ratio: float | None) -> list[dict[str, Any]]:
    out = []
    if "fleetsim" in largest:
        ours = largest["fleetsim"]
        target = f"fleetsim >= {TARGET_DEVICES:,} devices per worker"
        out.append({"target": target, "value": ours, "pass": ours >= TARGET_DEVICES})
    if ratio is not None:
        target = f"fleetsim >= {TARGET_RATIO:g}x locust-mqtt's largest fleet"
        out.append({"target": target, "value": ratio, "pass": ratio >= TARGET_RATIO})
    return out


def _sizes(text: str | None, option: str, default: tuple[int, ...]) -> list[int]:
    if text is None:
        return list(default)
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise UsageError(f"{option} {text!r}: give a comma-separated list of positive sizes")
    return sizes


def _specs(workdir: Path) -> dict[str, ClientSpec]:
    scenario = workdir / "locust-bench.toml"
    scenario.write_text(SCENARIO)
    ours = locustfile("fleetsim_users.py")
    return {
        "fleetsim": ClientSpec("fleetsim", ours, 1000, ("--scenario", str(scenario))),
        "locust-mqtt": ClientSpec("locust-mqtt", locustfile("mqtt_users.py"), 100),
    }


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument("--clients", default=",".join(CLIENTS), help="clients to measure")
    parser.add_argument("--ours", help="fleetsim sizes (default 2000,...,19000)")
    parser.add_argument("--peer", help="locust-mqtt sizes (default 500,...,6000)")
    parser.add_argument("--window", type=float, default=30.0, help="measured seconds per size")
    parser.add_argument(
        "--settle", type=float, default=PERIOD_S, help="seconds between connected and measuring"
    )


def run(args: argparse.Namespace) -> int:
    """Step each client up; the table, or one JSON object with ``--json``."""
    clients = [c for c in args.clients.split(",") if c]
    for name in clients:
        if name not in CLIENTS:
            raise UsageError(
                f"--clients: unknown client {name!r}; choose from {', '.join(CLIENTS)}"
            )
    if args.window <= 0 or args.settle < 0:
        raise UsageError("--window must be above 0 and --settle not negative")
    sizes = {
        "fleetsim": _sizes(args.ours, "--ours", SIZES["fleetsim"]),
        "locust-mqtt": _sizes(args.peer, "--peer", SIZES["locust-mqtt"]),
    }
    mosquitto_binary()  # one line saying how to install it, before anything starts

    load_at_start = [round(x, 2) for x in os.getloadavg()]
    rows: list[dict[str, Any]] = []
    idle: dict[str, float] = {}
    largest: dict[str, int] = {}
    with tempfile.TemporaryDirectory(prefix="fleetsim-bench-locust-") as tmp:
        specs = _specs(Path(tmp))
        for name in clients:
            client_rows, idle_rss = _step_up(specs[name], sizes[name], Path(tmp), args)
            rows += client_rows
            idle[name] = idle_rss / 2**20
            largest[name] = max((r["devices"] for r in client_rows if r["holds"]), default=0)
    ratio = None
    if "fleetsim" in largest and "locust-mqtt" in largest:
        peer = largest["locust-mqtt"]  # 0: the peer held no size, no ratio to give
        ratio = largest["fleetsim"] / peer if peer else None
    targets = _targets(largest, ratio)
    info = {
        **machine(),
        "load_average_at_start": load_at_start,
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
    }

    if args.json:
        print(_table(rows), file=sys.stderr)
        out_rows = [
            {**{k: r[k] for k in ROW_KEYS}, "max_ms": r["max_ms"], "why_not": r["why_not"]}
            for r in rows
        ]
        print(
            json.dumps(
                {
                    "rows": out_rows,
                    "idle_rss_mb": idle,
                    "largest": largest,
                    "ratio": ratio,
                    "targets": targets,
                    "machine": info,
                    "settings": {"window_s": args.window, "settle_s": args.settle},
                }
            )
        )
        return 0
    print(_table(rows))
    print()
    for name, devices in largest.items():
        print(f"largest fleet held, {name}: {devices:,} (idle RSS {idle[name]:.0f} MB)")
    if ratio is not None:
        print(f"ratio fleetsim / locust-mqtt: {ratio:.1f}x")
    for target in targets:
        verdict = "PASS" if target["pass"] else "FAIL"
        print(f"target {target['target']}: {target['value']:,.1f} {verdict}")
    print(f"load average at start {load_at_start}, at end {info['load_average_at_end']}")
    return 0
