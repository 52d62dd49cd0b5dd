"""The worker processes of ``fleetsim bench mqtt``: one device fleet, or the round-trip publisher.

    python -m simulator.bench._mqtt_worker --worker CLIENT --devices N --port P [--idle S] [--echo]
    python -m simulator.bench._mqtt_worker --worker publisher --devices N --port P ...

Each prints JSON events on stdout (:class:`simulator.bench._procs.EventProcess`): a fleet
``ready`` (connect time, CPU and RSS growth), ``idle`` (CPU % over ``--idle`` s) and, on SIGTERM,
``done``; the publisher ``measuring`` then ``result``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import json
import os
import signal
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["main"]


def _rss_bytes() -> int:
    fields = Path("/proc/self/statm").read_text().split()
    return int(fields[1]) * os.sysconf("SC_PAGE_SIZE")


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system


def _emit(event: str, **fields: Any) -> None:
    print(json.dumps({"event": event, **fields}), flush=True)


async def _device_worker(args: argparse.Namespace) -> None:
    from simulator.bench._mqtt_clients import make_fleet  # noqa: PLC0415

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
    from simulator.bench._mqtt_clients import publisher_load  # noqa: PLC0415

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


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog=f"python -m {__name__}")
    parser.add_argument("--worker", required=True)
    parser.add_argument("--devices", type=int, required=True)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--idle", type=float, default=0.0)
    parser.add_argument("--echo", action="store_true")
    parser.add_argument("--in-flight", type=int, default=1000)
    parser.add_argument("--payload", type=int, default=1000)
    parser.add_argument("--warmup", type=float, default=2.0)
    parser.add_argument("--duration", type=float, default=10.0)
    return _run_worker(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
