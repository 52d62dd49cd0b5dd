"""``fleetsim serve --state-dir``: throughput against the in-memory mode, and restore time.

Usage::

    uv run python -m benchmarks.durable [--json] [--quick] [--connections N] [--things N]

**Throughput**: two ``fleetsim serve`` processes, one in memory and one with ``--state-dir`` (a
fresh temporary directory), set up as ``benchmarks.api`` does; each operation's signed request is
replayed by the closed-loop client of :mod:`benchmarks._httpload` on N keep-alive connections,
the two servers alternating for several rounds (the median round is reported). Writes
(UpdateThingShadow, UpdateJobExecution) are journaled and each reply waits for its group commit;
DescribeThing is a read (nothing written).

**Restore**: a state directory holding N things in one thing group, a job over the group whose N
executions are released and then each updated to IN_PROGRESS over the Jobs data plane (built
in-process through the same recording path the server uses, on its own event loop), then
``fleetsim serve --state-dir`` is started on it and timed until it prints its listening line
(interpreter start included), with the replay time the server reports.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from functools import partial
from pathlib import Path
from typing import Any, Final

from benchmarks._httpload import Measurement, load
from benchmarks.api import OPERATIONS, ROOT, Server, capture, machine, setup
from simulator.bench._procs import process_cpu

__all__ = ["main"]

MEASURED: Final = ("UpdateThingShadow", "UpdateJobExecution", "DescribeThing")
TARGET_RATIO: Final = 0.8
_RESTORED: Final = re.compile(
    r"restored (?:snapshot (\d+) \+ )?(\d+) records from .* in ([0-9.]+) s"
)


def _start(name: str, *args: str) -> Server:
    process = subprocess.Popen(
        [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *args],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("fleetsim serve: listening on "):
        process.kill()
        raise RuntimeError(f"fleetsim serve did not start: {line!r}")
    return Server(name, process, line.rsplit(" ", 1)[1].strip())


def _tree_cpu(pid: int) -> float:
    """CPU seconds of process ``pid`` and its live children (the journal's syncer)."""
    children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    total = process_cpu(pid)
    for child in children:
        with contextlib.suppress(OSError):
            total += process_cpu(int(child))
    return total


def throughput(args: argparse.Namespace, state_dir: Path) -> dict[str, Any]:
    servers: list[Server] = []
    rounds: dict[tuple[str, str], list[Measurement]] = {}
    try:  # a server that fails to start must not leave the other one running
        servers.append(_start("memory"))
        servers.append(_start("state-dir", "--state-dir", str(state_dir)))
        requests: dict[tuple[str, str], bytes] = {}
        for server in servers:
            server.name, real = "fleetsim", server.name  # setup() and capture() key on it
            setup(server)
            for op in OPERATIONS:
                if op.name in args.operations:
                    requests[real, op.name] = capture(server, op)
            server.name = real
        for _ in range(args.rounds):
            for op_name in args.operations:
                for server in servers:
                    measurement = asyncio.run(
                        load(
                            server.url,
                            requests[server.name, op_name],
                            connections=args.connections,
                            warmup=args.warmup,
                            seconds=args.duration,
                            server_cpu=partial(_tree_cpu, server.process.pid),
                        )
                    )
                    rounds.setdefault((server.name, op_name), []).append(measurement)
    finally:
        for server in servers:
            server.stop()
    results: list[dict[str, Any]] = []
    for (name, op_name), measured in rounds.items():
        median = sorted(measured, key=lambda m: m.requests_per_s)[len(measured) // 2]
        results.append(
            {
                "mode": name,
                "operation": op_name,
                "requests_per_s": round(median.requests_per_s, 1),
                "p50_ms": round(median.p50_ms, 3),
                "p99_ms": round(median.p99_ms, 3),
                "server_cpu_per_request_us": round(
                    1e6 * median.server_cpu_s / (median.requests_per_s * median.seconds), 1
                ),
                "failures": median.failures,
            }
        )
    rate = {(r["mode"], r["operation"]): r["requests_per_s"] for r in results}
    cpu = {(r["mode"], r["operation"]): r["server_cpu_per_request_us"] for r in results}
    ratios = {op: round(rate["state-dir", op] / rate["memory", op], 3) for op in args.operations}
    # Round by round: the two servers measured back to back, so a change of the machine's load
    # between rounds cancels out of each pair.
    pairwise = {
        op: [
            round(d.requests_per_s / m.requests_per_s, 3)
            for m, d in zip(rounds["memory", op], rounds["state-dir", op], strict=True)
        ]
        for op in args.operations
    }
    # On a shared machine the request rate moves with the neighbours' load; the server's CPU
    # time per request does not: its ratio is what a CPU-bound server's throughput would show.
    cpu_ratios = {op: round(cpu["memory", op] / cpu["state-dir", op], 3) for op in args.operations}
    return {
        "results": results,
        "ratios": ratios,
        "pairwise_ratios": pairwise,
        "cpu_ratios": cpu_ratios,
        "pass": all(ratio >= TARGET_RATIO for ratio in cpu_ratios.values()),
    }


def _open(directory: Path, things: int, compact_mb: float) -> tuple[Any, Any]:
    from simulator.api.durable import Settings, StateDir  # noqa: PLC0415
    from simulator.api.durable.wiring import restore_plane  # noqa: PLC0415
    from simulator.api.http import ServerConfig  # noqa: PLC0415

    config = ServerConfig(rollout_per_minute=things)
    settings = Settings(config.region, config.account_id, config.rollout_per_minute)
    compact_bytes = int(compact_mb * (1 << 20))
    state = StateDir.open(directory, settings, ca=None, compact_bytes=compact_bytes)
    return state, restore_plane(state, config, asyncio.get_running_loop())


async def _build(directory: Path, things: int) -> float:
    """Record ``things`` things, a group, a job over it and its executions IN_PROGRESS."""
    state, plane = _open(directory, things, _NEVER_MB)
    started = time.perf_counter()
    registry, jobs, data = plane.registry, plane.jobs, plane.jobs_data
    group = registry.create_thing_group(thing_group_name="fleet").arn
    for i in range(things):
        name = f"thing-{i:06d}"
        registry.create_thing(thing_name=name)
        registry.add_thing_to_thing_group(thing_group_name="fleet", thing_name=name)
        if i % 1000 == 0:
            await asyncio.sleep(0)  # let the group commits run
    jobs.create_job(job_id="rollout", targets=[group], document='{"operation":"update"}')
    await asyncio.sleep(0)  # the first rollout tick releases every execution
    for i in range(things):
        data.update_job_execution(
            thing_name=f"thing-{i:06d}", job_id="rollout", status="IN_PROGRESS"
        )
        if i % 1000 == 0:
            await asyncio.sleep(0)
    await state.close(compact=False)
    return time.perf_counter() - started


async def _compact(directory: Path, things: int) -> dict[str, float]:
    """Restore ``directory`` in process and time one live compaction: the loop's pause (fork
    and journal switch) and fork-to-installed (the child pickling and syncing)."""
    state, _ = _open(directory, things, _NEVER_MB)
    compactor = state.compactor
    started = time.perf_counter()
    compactor.compact()
    paused = time.perf_counter() - started
    while compactor.compactions == 0:
        await asyncio.sleep(0.01)
    await state.close(compact=False)
    return {"loop_pause_s": round(paused, 4), "snapshot_s": round(compactor.last_seconds, 2)}


#: A compaction threshold never reached: the journal-only restores.
_NEVER_MB: Final = 1e6


def _files_bytes(directory: Path, prefix: str) -> int:
    return sum(p.stat().st_size for p in directory.iterdir() if p.name.startswith(prefix))


def _restores(args: argparse.Namespace, state_dir: Path, *extra: str) -> dict[str, Any]:
    timings = []
    for _ in range(args.restores):
        started = time.perf_counter()
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "simulator.cli",
                "serve",
                "--port",
                "0",
                "--rollout-rate",
                str(args.things),
                "--state-dir",
                str(state_dir),
                *extra,
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        assert process.stdout is not None and process.stderr is not None
        line = process.stdout.readline()
        listening = time.perf_counter() - started
        process.terminate()
        _, err = process.communicate(timeout=60)
        found = _RESTORED.search(err)
        if not line.startswith("fleetsim serve: listening on ") or found is None:
            raise RuntimeError(f"restore failed: {line!r} {err[-500:]!r}")
        timings.append(
            {"records": int(found[2]), "replay_s": float(found[3]), "listening_s": listening}
        )
    best = min(timings, key=lambda t: t["listening_s"])
    return {
        "records": best["records"],
        "replay_s": best["replay_s"],
        "start_to_listening_s": round(best["listening_s"], 2),
        "pass": best["listening_s"] <= 10.0,
    }


def restore(args: argparse.Namespace, state_dir: Path) -> dict[str, Any]:
    built = asyncio.run(_build(state_dir, args.things))
    journal = _files_bytes(state_dir, "journal")
    replayed = _restores(args, state_dir, "--compact-journal-mb", str(_NEVER_MB))
    compaction = asyncio.run(_compact(state_dir, args.things))
    compacted = {
        "journal_bytes": _files_bytes(state_dir, "journal"),
        "snapshot_bytes": _files_bytes(state_dir, "snapshot"),
        **compaction,
    }
    from_snapshot = _restores(args, state_dir)
    return {
        "things": args.things,
        "executions": args.things,
        "build_s": round(built, 2),
        "journal_bytes": journal,
        "replay": replayed,
        "compaction": compacted,
        "snapshot": from_snapshot,
        "pass": replayed["pass"] and from_snapshot["pass"],
    }


def table(data: dict[str, Any]) -> str:
    lines = [
        f"machine: {data['machine']['platform']}; {data['machine']['cpus']} CPUs; "
        f"{data['method']['connections']} connections, {data['method']['rounds']} rounds of "
        f"{data['method']['duration_s']} s",
        "",
        "| operation | req/s memory | req/s state-dir | ratio | CPU us/req memory | "
        "CPU us/req state-dir | CPU ratio | p99 ms memory / state-dir |",
        "|---|---:|---:|---:|---:|---:|---:|---|",
    ]
    measured = data["throughput"] or {"results": [], "ratios": {}}
    rows = {(r["mode"], r["operation"]): r for r in measured["results"]}
    for op, ratio in measured["ratios"].items():
        memory, durable = rows["memory", op], rows["state-dir", op]
        lines.append(
            f"| {op} | {memory['requests_per_s']:,.0f} | {durable['requests_per_s']:,.0f} | "
            f"{ratio:.2f} | {memory['server_cpu_per_request_us']:.0f} | "
            f"{durable['server_cpu_per_request_us']:.0f} | "
            f"{measured['cpu_ratios'][op]:.2f} | "
            f"{memory['p99_ms']:.2f} / {durable['p99_ms']:.2f} |"
        )
    if measured["ratios"]:
        lines += ["", "req/s ratio (state-dir / memory) of each round, back to back:"]
        lines += [
            f"- {op}: {', '.join(f'{r:.2f}' for r in pairs)}"
            for op, pairs in measured["pairwise_ratios"].items()
        ]
        lines.append(f"load average at the end: {data['machine']['load_average']}")
    r = data["restore"]
    if r:
        replay, snap, compacted = r["replay"], r["snapshot"], r["compaction"]
        lines += [
            "",
            f"restore: {r['things']:,} things + {r['executions']:,} executions",
            "",
            "| restore from | records replayed | files | replay s | start to listening s |",
            "|---|---:|---|---:|---:|",
            f"| journal only | {replay['records']:,} | journal {r['journal_bytes'] / 1e6:.1f} MB "
            f"| {replay['replay_s']:.2f} | {replay['start_to_listening_s']:.2f} |",
            f"| snapshot + journal | {snap['records']:,} | snapshot "
            f"{compacted['snapshot_bytes'] / 1e6:.1f} MB + journal "
            f"{compacted['journal_bytes'] / 1e3:.1f} kB | {snap['replay_s']:.2f} | "
            f"{snap['start_to_listening_s']:.2f} |",
            "",
            f"live compaction: event loop paused {compacted['loop_pause_s'] * 1e3:.1f} ms "
            f"(fork, journal switch); snapshot written and installed in "
            f"{compacted['snapshot_s']:.2f} s by the child "
            f"({'pass' if r['pass'] else 'FAIL'}: restores <= 10 s)",
        ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.durable")
    parser.add_argument("--json", action="store_true", help="print one JSON object")
    parser.add_argument("--quick", action="store_true", help="short run (smoke test)")
    parser.add_argument("--connections", type=int, default=16)
    parser.add_argument("--duration", type=float, default=None, help="seconds per round")
    parser.add_argument("--rounds", type=int, default=None)
    parser.add_argument("--things", type=int, default=None, help="things (= executions)")
    parser.add_argument("--restores", type=int, default=3, help="restores timed (best kept)")
    parser.add_argument("--skip-restore", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--operations",
        default=",".join(MEASURED),
        help=f"comma-separated, of {', '.join(MEASURED)}",
    )
    args = parser.parse_args(argv)
    args.operations = [op.strip() for op in args.operations.split(",") if op.strip()]
    if not args.operations or not set(args.operations) <= set(MEASURED):
        parser.error(f"--operations: choose from {', '.join(MEASURED)}")
    args.duration = args.duration or (0.5 if args.quick else 5.0)
    args.rounds = args.rounds or (1 if args.quick else 3)
    args.warmup = 0.2 if args.quick else 1.0
    args.things = args.things or (1000 if args.quick else 100_000)
    if args.quick:
        args.restores = 1
    with tempfile.TemporaryDirectory(prefix="fleetsim-durable-") as tmp:
        data: dict[str, Any] = {
            "throughput": None
            if args.skip_throughput
            else throughput(args, Path(tmp) / "throughput"),
            "restore": None if args.skip_restore else restore(args, Path(tmp) / "restore"),
            "method": {
                "connections": args.connections,
                "duration_s": args.duration,
                "rounds": args.rounds,
            },
            "machine": machine(),
        }
    print(json.dumps(data, indent=2) if args.json else table(data))
    return 0


if __name__ == "__main__":
    sys.exit(main())
