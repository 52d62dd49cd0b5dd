"""``fleetsim bench api --soak``: 10 minutes of mixed operations; throughput, p99, RSS over time.

::

    fleetsim bench api --soak [--duration 600] [--connections 500] [--interval 10]
                              [--things 1000] [--json] [--no-pin]

Starts ``fleetsim serve --state-dir TMP`` (a subprocess on a free port, its journal on disk),
raises this process's open-file limit, provisions a fleet through the API (fleet indexing with
``$package``, a package with two published versions, ``--things`` things in a group with classic
and ``$package`` shadows), then runs :mod:`simulator.bench._soak_mix` on ``--connections``
keep-alive connections (closed loop, every request signed afresh) plus one connection that
creates a job over the group every few seconds, cancels some and deletes old ones.

Every ``--interval`` seconds it samples: replies/s, p50/p99 latency, errors by operation and
type, the server's RSS (``VmRSS``) and its children's (the journal's syncer, a compaction's fork),
the state directory's size, both processes' CPU and the load average. The verdict:

* **RSS flat after warm-up.** Warm-up is the first third of the run. Over the rest, the server's
  RSS must grow at most :data:`FLAT_SLOPE_MB_PER_MIN` (least-squares slope; unless the fitted
  line rises less than :data:`NOISE_MB` in all, as in a run of seconds) and at most
  :data:`FLAT_GROWTH_MB` between the first post-warm-up sample and the last. The state is
  bounded by construction (churned things and shadows are deleted, old jobs too), so a leak is
  what remains: one leaked 100-byte object per request at 1,000 replies/s is 6 MB/min, far above
  the slope threshold; allocator arenas and buffers settle within a few MB, below the growth one.
* **No errors.** Any 5xx, a dropped connection or an error reply not in
  :data:`simulator.bench._soak_mix.EXPECTED` (races the mix creates on purpose, such as updating
  an execution whose job was just canceled, counted separately) fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import resource
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any, Final

import numpy as np

from simulator.bench._procs import process_cpu, process_rss
from simulator.bench._servers import Server, start_fleetsim
from simulator.bench._signed import Connection, Signer
from simulator.bench._soak_mix import Mix, Window
from simulator.bench._timing import machine as _platform
from simulator.core.errors import UsageError

__all__ = ["FLAT_GROWTH_MB", "FLAT_SLOPE_MB_PER_MIN", "measure", "run", "table", "verdict"]

#: Least-squares RSS slope over the run after warm-up, MB per minute, above which RSS grows.
FLAT_SLOPE_MB_PER_MIN: Final = 1.0
#: RSS growth from the first post-warm-up sample to the last, MB, above which RSS grows.
FLAT_GROWTH_MB: Final = 8.0
#: A fitted rise below this is sample noise, whatever its slope (a short run's slope means little).
NOISE_MB: Final = 2.0
#: The share of the run that is warm-up (not judged).
WARMUP_FRACTION: Final = 1 / 3
_MB: Final = 1024 * 1024


def _children(pid: int) -> list[int]:
    try:
        return [int(c) for c in Path(f"/proc/{pid}/task/{pid}/children").read_text().split()]
    except OSError:
        return []


def _rss_mb(pid: int) -> float:
    try:
        return process_rss(pid) / _MB
    except (OSError, RuntimeError):  # exited between listing and reading
        return 0.0


def _tree_cpu(pid: int) -> float:
    total = process_cpu(pid)
    for child in _children(pid):
        with contextlib.suppress(OSError):
            total += process_cpu(child)
    return total


def _dir_mb(state_dir: Path) -> tuple[float, float]:
    """(journal MB, everything else MB: snapshots, CA, metadata)."""
    journal = other = 0
    for path in state_dir.rglob("*"):
        try:
            size = path.stat().st_size if path.is_file() else 0
        except OSError:
            continue
        if "journal" in path.name:
            journal += size
        else:
            other += size
    return journal / _MB, other / _MB


def _raise_nofile(connections: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
        soft = hard
    if soft != resource.RLIM_INFINITY and soft < connections + 64:
        raise UsageError(f"--connections {connections} needs more open files than the limit {soft}")
    return soft


class _Sampler:
    def __init__(self, server: Server, state_dir: Path, mix: Mix) -> None:
        self.server = server
        self.state_dir = state_dir
        self.mix = mix
        self.samples: list[dict[str, Any]] = []
        self._cpu = (time.process_time(), _tree_cpu(server.process.pid), time.perf_counter())

    def sample(self, elapsed: float) -> dict[str, Any]:
        window, self.mix.window = self.mix.window, Window()
        pid = self.server.process.pid
        client0, server0, wall0 = self._cpu
        self._cpu = (time.process_time(), _tree_cpu(pid), time.perf_counter())
        wall = self._cpu[2] - wall0
        latencies = np.array(window.latencies) * 1000.0
        journal, other = _dir_mb(self.state_dir)
        row = {
            "t_s": round(elapsed, 1),
            "replies": len(latencies),
            "replies_per_s": round(len(latencies) / wall, 1),
            "p50_ms": round(float(np.percentile(latencies, 50)), 2) if len(latencies) else None,
            "p99_ms": round(float(np.percentile(latencies, 99)), 2) if len(latencies) else None,
            "errors": sum(window.errors.values()),
            "expected_errors": sum(window.expected.values()),
            "error_types": dict(window.errors),
            "expected_types": dict(window.expected),
            "server_rss_mb": round(_rss_mb(pid), 1),
            "children_rss_mb": round(sum(_rss_mb(c) for c in _children(pid)), 1),
            "journal_mb": round(journal, 2),
            "state_other_mb": round(other, 2),
            "server_cpu_percent": round(100 * (self._cpu[1] - server0) / wall, 1),
            "client_cpu_percent": round(100 * (self._cpu[0] - client0) / wall, 1),
            "load_average": round(os.getloadavg()[0], 2),
        }
        self.samples.append(row)
        return row


def verdict(samples: list[dict[str, Any]], duration: float) -> dict[str, Any]:
    """RSS flat after warm-up, and no errors (see the module's docstring)."""
    after = [s for s in samples if s["t_s"] > duration * WARMUP_FRACTION]
    errors = sum(s["errors"] for s in samples)
    out: dict[str, Any] = {
        "warmup_s": round(duration * WARMUP_FRACTION, 1),
        "slope_threshold_mb_per_min": FLAT_SLOPE_MB_PER_MIN,
        "growth_threshold_mb": FLAT_GROWTH_MB,
        "noise_mb": NOISE_MB,
        "errors": errors,
        "expected_errors": sum(s["expected_errors"] for s in samples),
        "replies": sum(s["replies"] for s in samples),
    }
    if len(after) >= 2:
        minutes = np.array([s["t_s"] for s in after]) / 60.0
        rss = np.array([s["server_rss_mb"] for s in after])
        slope = float(np.polyfit(minutes, rss, 1)[0])
        growth = float(rss[-1] - rss[0])
        rise = slope * float(minutes[-1] - minutes[0])  # what the fitted line climbs
        out |= {"rss_slope_mb_per_min": round(slope, 2), "rss_growth_mb": round(growth, 1)}
        steep = slope > FLAT_SLOPE_MB_PER_MIN and rise > NOISE_MB
        out["rss_flat"] = not steep and growth <= FLAT_GROWTH_MB
    else:
        out |= {"rss_slope_mb_per_min": None, "rss_growth_mb": None, "rss_flat": None}
    out["pass"] = errors == 0 and out["rss_flat"] is not False
    return out


def _header() -> str:
    return (
        f"{'t s':>6} {'replies/s':>9} {'p50 ms':>7} {'p99 ms':>8} {'errors':>6} {'expect':>6} "
        f"{'RSS MB':>7} {'child MB':>8} {'journal':>8} {'srv CPU':>7} {'cli CPU':>7} {'load':>5}"
    )


def _row(s: dict[str, Any]) -> str:
    p50 = "-" if s["p50_ms"] is None else f"{s['p50_ms']:.1f}"
    p99 = "-" if s["p99_ms"] is None else f"{s['p99_ms']:.1f}"
    return (
        f"{s['t_s']:>6.0f} {s['replies_per_s']:>9,.0f} {p50:>7} {p99:>8} {s['errors']:>6} "
        f"{s['expected_errors']:>6} {s['server_rss_mb']:>7.1f} {s['children_rss_mb']:>8.1f} "
        f"{s['journal_mb']:>7.1f}M {s['server_cpu_percent']:>6.0f}% "
        f"{s['client_cpu_percent']:>6.0f}% {s['load_average']:>5.2f}"
    )


def _verdict_text(v: dict[str, Any]) -> str:
    rss = (
        "not judged (too few samples after warm-up)"
        if v["rss_flat"] is None
        else f"slope {v['rss_slope_mb_per_min']:+.2f} MB/min (<= "
        f"{v['slope_threshold_mb_per_min']:g}), growth {v['rss_growth_mb']:+.1f} MB (<= "
        f"{v['growth_threshold_mb']:g}) after {v['warmup_s']:g} s warm-up: "
        + ("flat" if v["rss_flat"] else "GROWS")
    )
    return (
        f"RSS {rss}\nerrors {v['errors']} (expected races {v['expected_errors']}); "
        f"verdict {'PASS' if v['pass'] else 'FAIL'}"
    )


def table(data: dict[str, Any]) -> str:
    """The samples over time, then the verdict and the error types seen."""
    m = data["method"]
    lines = [
        f"machine: {data['machine']['platform']}; {data['machine']['cpus']} CPUs; "
        f"load at start {data['machine']['load_average']}",
        f"{m['connections']} connections, {m['duration_s']:g} s, {m['things']} things, "
        f"samples every {m['interval_s']:g} s, pinned={m['pinned']}; "
        f"provisioned in {data['provision_s']:.1f} s",
        "",
        _header(),
        *(_row(s) for s in data["samples"]),
        "",
        _verdict_text(data["verdict"]),
    ]
    totals: Counter[str] = Counter()
    for s in data["samples"]:
        totals.update({f"error {k}": v for k, v in s["error_types"].items()})
        totals.update({f"expected {k}": v for k, v in s["expected_types"].items()})
    examples = data["error_examples"]
    for name, count in sorted(totals.items()):
        lines.append(f"  {name}: {count}: {examples.get(name.split(' ', 1)[1], '')[:120]}")
    return "\n".join(lines)


async def _drive(
    server: Server, state_dir: Path, args: argparse.Namespace, live: bool
) -> tuple[list[dict[str, Any]], float, dict[str, str]]:
    host, port = server.url.removeprefix("http://").rsplit(":", 1)
    mix = Mix(Signer(server.url), lambda: Connection(host, int(port)), args)
    started = time.perf_counter()
    await mix.provision()
    provision_s = time.perf_counter() - started
    sampler = _Sampler(server, state_dir, mix)
    if live:
        print(_header(), flush=True)
    tasks = mix.start()
    start = time.perf_counter()
    try:
        for k in range(1, int(args.duration / args.interval + 1e-9) + 1):
            await asyncio.sleep(max(0.0, start + k * args.interval - time.perf_counter()))
            for task in tasks:
                if task.done():
                    task.result()  # a worker that crashed: raise its exception here
            row = sampler.sample(time.perf_counter() - start)
            if live:
                print(_row(row), flush=True)
    finally:
        await mix.stop(tasks)
    return sampler.samples, provision_s, mix.examples


def _pin(server: Server) -> bool:
    cpus = sorted(os.sched_getaffinity(0))
    if len(cpus) < 2:
        return False
    os.sched_setaffinity(server.process.pid, {cpus[1]})
    os.sched_setaffinity(0, {cpus[0]})
    return True


def measure(args: argparse.Namespace, *, live: bool = False) -> dict[str, Any]:
    """Run the soak; ``live`` prints each sample's row as it is taken."""
    if args.connections < 1:
        raise UsageError("--connections must be at least 1")
    if args.things < args.connections:
        raise UsageError("--things must be at least --connections (each worker owns its things)")
    if not 0 < args.interval <= args.duration:
        raise UsageError("--interval must be above 0 and at most --duration")
    nofile = _raise_nofile(args.connections)
    load_at_start = [round(x, 2) for x in os.getloadavg()]
    with tempfile.TemporaryDirectory(prefix="fleetsim-soak-") as tmp:
        state_dir = Path(tmp) / "state"
        server = start_fleetsim("--state-dir", str(state_dir))
        try:
            pinned = _pin(server) if args.pin else False
            samples, provision_s, examples = asyncio.run(_drive(server, state_dir, args, live))
        finally:
            server.stop()
    return {
        "samples": samples,
        "verdict": verdict(samples, args.duration),
        "provision_s": round(provision_s, 2),
        "error_examples": examples,
        "method": {
            "connections": args.connections,
            "duration_s": args.duration,
            "interval_s": args.interval,
            "things": args.things,
            "pinned": pinned,
            "open_files_limit": nofile,
            "server": "fleetsim serve --state-dir (fresh temporary directory)",
            "mix": Mix.weights(),
        },
        "machine": {**_platform(), "load_average": load_at_start},
    }


def run(args: argparse.Namespace) -> int:
    """Print the rows as they come and the verdict, or one JSON object with ``--json``."""
    args.duration = 600.0 if args.duration is None else args.duration
    args.connections = 500 if args.connections is None else args.connections
    data = measure(args, live=not args.json)
    if args.json:
        print(json.dumps(data, indent=2))
    else:  # the rows were printed live
        preface, _, rest = table(data).split("\n\n", 2)
        print(f"\n{preface}\n\n{rest}")
    return 0
