"""``fleetsim bench mqtt``: device-side MQTT clients against a real Mosquitto, and the rollout.

::

    fleetsim bench mqtt [--json] [--quick] [--devices 1000,10000,19000]
                        [--clients raw,fleetsim,gmqtt,aiomqtt] [--idle 10]
                        [--roundtrips [--rt-devices 1000,10000]]
                        [--rollout-devices 10000] [--sections connections,rollout]

Sections (each row measured in the same run, every client against a fresh Mosquitto 2.0 that
this module starts (:class:`~simulator.transport.broker.local.LocalMosquitto`: ``mosquitto``
must be installed); one worker subprocess per row (:mod:`._mqtt_worker`) so that RSS and CPU
belong to that client alone; the clients are described in :mod:`._mqtt_clients`). gmqtt and
aiomqtt are optional (``fleetsim[bench]``): without them their rows are skipped with a note,
or, when ``--clients`` names them, the run stops at once saying how to install them.

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
  execution ended. Details in :mod:`._mqtt_rollout`.
* ``roundtrips`` (only with ``--roundtrips``): a publisher process keeps 1,000 QoS 1 requests
  of 1,000 bytes in flight to random devices, each device answers at QoS 1;
  ``roundtrips_per_s`` and the median latency.

``--json`` prints one object: ``{"connections": [{"client", "devices", "connects_per_s",
"rss_kb_per_conn", "idle_cpu_pct"}, ...], "rollout": [...], "skipped": [...]}`` (plus
``"roundtrips"`` when asked). Everything else goes to stderr. Numbers from a shared two-core
machine are noisy: compare rows of the same run.
"""

from __future__ import annotations

import argparse
import json
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any, Final

from simulator.bench._procs import INSTALL_PEERS, EventProcess, peer_missing, process_cpu
from simulator.core.errors import UsageError
from simulator.transport.broker.local import LocalMosquitto, mosquitto_binary

__all__ = ["add_arguments", "measure_connections", "measure_rollout", "measure_roundtrips", "run"]

CLIENTS: Final = ("raw", "fleetsim", "gmqtt", "aiomqtt")
#: The clients that are optional peers, and the module each needs.
PEERS: Final = {"gmqtt": "gmqtt", "aiomqtt": "aiomqtt"}
CONNECTION_KEYS: Final = ("client", "devices", "connects_per_s", "rss_kb_per_conn", "idle_cpu_pct")
ROLLOUT_KEYS: Final = ("client", "devices", "messages_per_s", "all_terminal")
TARGETS: Final = {
    "devices": 19_000,
    "connects_per_s": 2_000.0,
    "rss_kb_per_conn": 10.0,
    "idle_cpu_pct": 10.0,
}


# -- orchestrator side ------------------------------------------------------------------------


class _Worker(EventProcess):
    """A worker subprocess (:mod:`._mqtt_worker`) whose stdout lines are JSON events."""

    def __init__(self, argv: list[str]) -> None:
        super().__init__("simulator.bench._mqtt_worker", argv)

    def stop(self) -> dict[str, Any]:
        self.process.send_signal(signal.SIGTERM)
        done = self.event("done", 120)
        try:
            self.process.wait(timeout=60)
        except subprocess.TimeoutExpired:  # a client that cannot close 19k sockets in a minute
            print(f"worker {self.process.args!r} did not exit; killed", file=sys.stderr)
            self.kill()
        return done


def _connect_timeout(devices: int) -> float:
    return 60 + devices / 100  # aiomqtt at 19k takes ~20 s here; far beyond that is a failure


def measure_connections(client: str, devices: int, idle: float, workdir: Path) -> dict[str, Any]:
    """One ``connections`` row: connect ``devices`` with ``client``, hold them ``idle`` s."""
    with LocalMosquitto(workdir / f"conn-{client}-{devices}") as broker:
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
    with LocalMosquitto(workdir / f"rt-{client}-{devices}") as broker:
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
            cpu, wall = [process_cpu(pid) for pid in pids], time.perf_counter()
            result = publisher.event("result", duration + 60)
            wall = time.perf_counter() - wall
            broker_pct, device_pct = (
                100 * (process_cpu(pid) - before) / wall
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
    from simulator.bench._mqtt_rollout import measure  # noqa: PLC0415

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


def _sizes(text: str, option: str) -> list[int]:
    try:
        sizes = [int(part.replace("_", "")) for part in text.split(",") if part]
    except ValueError:
        sizes = []
    if not sizes or min(sizes) < 1:
        raise UsageError(f"{option} {text!r}: give a comma-separated list of positive sizes")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print one JSON object on stdout")
    parser.add_argument(
        "--quick", action="store_true", help="small fleets, short idle (smoke test)"
    )
    parser.add_argument("--devices", help="fleet sizes (default 1000,10000,19000; --quick 200)")
    parser.add_argument(
        "--clients", help=f"clients to measure (default {','.join(CLIENTS)}: those installed)"
    )
    parser.add_argument("--idle", type=float, help="seconds of idle CPU measurement (default 10)")
    parser.add_argument("--roundtrips", action="store_true", help="also measure round trips")
    parser.add_argument("--rt-devices", help="round-trip fleet sizes (default 1000,10000)")
    parser.add_argument(
        "--duration", type=float, default=10.0, help="round-trip measurement seconds"
    )
    parser.add_argument("--warmup", type=float, default=2.0, help="round-trip warm-up seconds")
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


def _clients(text: str | None, skipped: list[dict[str, str]]) -> list[str]:
    """The clients to measure: those asked for (each installed), or every installed one."""
    names = [c for c in (text or ",".join(CLIENTS)).split(",") if c]
    for name in names:
        if name not in CLIENTS:
            raise UsageError(
                f"--clients: unknown client {name!r}; choose from {', '.join(CLIENTS)}"
            )
    out = []
    for name in names:
        missing = peer_missing(PEERS[name]) if name in PEERS else None
        if missing is None:
            out.append(name)
        elif text is not None:
            raise UsageError(f"--clients {name}: {missing} is not installed; {INSTALL_PEERS}")
        else:
            note = f"{name} is not installed; {INSTALL_PEERS}"
            print(f"fleetsim bench mqtt: skipping {note}", file=sys.stderr)
            skipped.append({"client": name, "reason": note})
    return out


def _check(args: argparse.Namespace) -> set[str]:
    sections = {s for s in args.sections.split(",") if s}
    if not sections <= {"connections", "rollout"}:
        unknown = ", ".join(sorted(sections - {"connections", "rollout"}))
        raise UsageError(f"--sections: unknown {unknown}; choose from connections, rollout")
    for option in ("rollout_devices", "rollout_rounds"):
        value = getattr(args, option)
        if value is not None and value < 1:
            raise UsageError(f"--{option.replace('_', '-')} must be at least 1")
    if args.idle is not None and args.idle < 0:
        raise UsageError("--idle must not be negative")
    mosquitto_binary()  # one line saying how to install it, before anything starts
    return sections


def run(args: argparse.Namespace) -> int:
    """Run the sections; print the tables, or one JSON object with ``--json``."""
    sections = _check(args)
    default_sizes = "200" if args.quick else "1000,10000,19000"
    sizes = _sizes(args.devices or default_sizes, "--devices")
    rt_sizes = _sizes(args.rt_devices or ("200" if args.quick else "1000,10000"), "--rt-devices")
    idle = args.idle if args.idle is not None else (1.0 if args.quick else 10.0)
    warmup, duration = (0.5, 2.0) if args.quick else (args.warmup, args.duration)
    skipped: list[dict[str, str]] = []
    clients = _clients(args.clients, skipped)

    out: dict[str, Any] = {"connections": [], "rollout": []}
    with tempfile.TemporaryDirectory(prefix="fleetsim-bench-mqtt-") as tmp:
        workdir = Path(tmp)
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
        print(json.dumps({**out, "connections": rows, "rollout": rollout, "skipped": skipped}))
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
    for skip in skipped:
        print(f"skipped {skip['client']}: {skip['reason']}")
    return 0
