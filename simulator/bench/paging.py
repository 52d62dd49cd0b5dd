"""``fleetsim bench paging``: list every execution of a 10k- and a 100k-device job, page by page.

::

    fleetsim bench paging [--json] [--sizes 10000,100000] [--rounds R] [--connections N]

One ``fleetsim serve --port 0 --auth none --rollout-rate 10000000`` subprocess. Set-up, untimed:
``max(sizes)`` things created over HTTP by a raw client (unsigned requests, which ``--auth none``
accepts; N keep-alive connections, each a closed loop of distinct requests), one thing group per
size holding the first *size* things, and one SNAPSHOT job per group, released at once by the
high rollout rate; the set-up waits until DescribeJob counts every execution QUEUED.

Timed: boto3's ``list_job_executions_for_job`` paginator at ``maxResults=250`` (the model's
maximum) over each job, ``--rounds`` times, and the same for ``list_things_in_thing_group``. The
median seconds per size, and their ratio to the smallest size: linear paging gives ~10x for
10x the items, a list rebuilt per page ~100x.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import re
import statistics
import time
from collections.abc import Callable, Iterator
from typing import Any, Final

from simulator.bench._servers import Server, start_fleetsim
from simulator.bench.api import machine
from simulator.core.errors import UsageError

__all__ = ["add_arguments", "bulk", "measure", "run", "start_server"]

PAGE: Final = 250
_CONTENT_LENGTH: Final = re.compile(rb"\r\ncontent-length:\s*(\d+)", re.IGNORECASE)


def start_server() -> Server:
    """``fleetsim serve`` on a free port, unsigned requests accepted, rollout unthrottled."""
    return start_fleetsim("--auth", "none", "--rollout-rate", "10000000")


def _request(host: str, method: str, path: str, body: dict[str, Any]) -> bytes:
    data = json.dumps(body).encode()
    head = (
        f"{method} {path} HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n"
    )
    return head.encode() + data


async def _worker(host: str, port: int, requests: Iterator[bytes], errors: list[bytes]) -> None:
    reader, writer = await asyncio.open_connection(host, port)
    try:
        for request in requests:
            writer.write(request)
            head = await reader.readuntil(b"\r\n\r\n")
            length = _CONTENT_LENGTH.search(head)
            body = await reader.readexactly(int(length.group(1)) if length else 0)
            if head[9:12] != b"200":
                errors.append(head[:12] + body[:200])
    finally:
        writer.close()
        await writer.wait_closed()


async def _bulk(url: str, requests: list[bytes], connections: int) -> list[bytes]:
    host, port = url.removeprefix("http://").rsplit(":", 1)
    shared = iter(requests)  # every worker takes the next request: one loop, no locking needed
    errors: list[bytes] = []
    await asyncio.gather(*(_worker(host, int(port), shared, errors) for _ in range(connections)))
    return errors


def bulk(url: str, requests: list[bytes], *, connections: int) -> None:
    """Send ``requests`` over ``connections`` keep-alive connections; raise on any non-200."""
    errors = asyncio.run(_bulk(url, requests, connections))
    if errors:
        raise RuntimeError(f"{len(errors)} set-up requests failed, first: {errors[0]!r}")


def _setup(server: Server, sizes: list[int], connections: int) -> dict[int, str]:
    """Things, one group and one job per size; the job id per size."""
    host = server.url.removeprefix("http://")
    names = [f"paging-{i:07d}" for i in range(max(sizes))]
    bulk(
        server.url,
        [_request(host, "POST", f"/things/{name}", {}) for name in names],
        connections=connections,
    )
    iot = server.client("iot")
    jobs: dict[int, str] = {}
    for size in sizes:
        group = f"paging-{size}"
        iot.create_thing_group(thingGroupName=group)
        bulk(
            server.url,
            [
                _request(
                    host,
                    "PUT",
                    "/thing-groups/addThingToThingGroup",
                    {"thingGroupName": group, "thingName": name},
                )
                for name in names[:size]
            ],
            connections=connections,
        )
        arn = iot.describe_thing_group(thingGroupName=group)["thingGroupArn"]
        job = jobs[size] = f"paging-job-{size}"
        iot.create_job(jobId=job, targets=[arn], document='{"operation":"paging"}')
    deadline = time.monotonic() + 600
    for size, job in jobs.items():
        while (
            iot.describe_job(jobId=job)["job"]["jobProcessDetails"].get("numberOfQueuedThings", 0)
            < size
        ):
            if time.monotonic() > deadline:
                raise RuntimeError(f"job {job} did not queue {size} executions in 600 s")
            time.sleep(0.2)
    return jobs


def _timed(walk: Callable[[], int], expected: int) -> float:
    started = time.perf_counter()
    count = walk()
    elapsed = time.perf_counter() - started
    if count != expected:
        raise AssertionError(f"listed {count} items, expected {expected}")
    return elapsed


def measure(args: argparse.Namespace) -> dict[str, Any]:
    """Set up, then time each listing ``args.rounds`` times; medians and ratios."""
    sizes = sorted(args.sizes)
    server = start_server()
    try:
        setup_started = time.perf_counter()
        jobs = _setup(server, sizes, args.connections)
        setup_s = time.perf_counter() - setup_started
        iot = server.client("iot")
        executions = iot.get_paginator("list_job_executions_for_job")
        members = iot.get_paginator("list_things_in_thing_group")

        def count_executions(job: str) -> int:
            pages = executions.paginate(jobId=job, PaginationConfig={"PageSize": PAGE})
            return sum(len(p["executionSummaries"]) for p in pages)

        def count_members(group: str) -> int:
            pages = members.paginate(thingGroupName=group, PaginationConfig={"PageSize": PAGE})
            return sum(len(p["things"]) for p in pages)

        operations: dict[str, Callable[[int], Callable[[], int]]] = {
            "ListJobExecutionsForJob": lambda size: lambda: count_executions(jobs[size]),
            "ListThingsInThingGroup": lambda size: lambda: count_members(f"paging-{size}"),
        }
        samples: dict[tuple[str, int], list[float]] = {}
        for _ in range(args.rounds):
            for operation, walk in operations.items():
                for size in sizes:
                    elapsed = _timed(walk(size), size)
                    samples.setdefault((operation, size), []).append(elapsed)
        server_cpu = server.cpu_seconds()
    finally:
        server.stop()
    rows = []
    for (operation, size), seconds in samples.items():
        median = statistics.median(seconds)
        smallest = statistics.median(samples[operation, sizes[0]])
        rows.append(
            {
                "operation": operation,
                "items": size,
                "pages": -(-size // PAGE),
                "median_s": round(median, 3),
                "per_page_ms": round(1000 * median / -(-size // PAGE), 2),
                "ratio_to_smallest": round(median / smallest, 2),
            }
        )
    return {
        "benchmark": "paging",
        "machine": machine(),
        "rounds": args.rounds,
        "setup_s": round(setup_s, 1),
        "server_cpu_s": round(server_cpu, 1),
        "results": rows,
    }


def table(report: dict[str, Any]) -> str:
    lines = [
        f"{'operation':<26} {'items':>8} {'pages':>6} {'median s':>9} {'ms/page':>8} {'ratio':>7}"
    ]
    for row in report["results"]:
        lines.append(
            f"{row['operation']:<26} {row['items']:>8} {row['pages']:>6} "
            f"{row['median_s']:>9.3f} {row['per_page_ms']:>8.2f} {row['ratio_to_smallest']:>6.2f}x"
        )
    load = report["machine"]["load_average"]
    lines.append(f"set-up {report['setup_s']} s; load average {load}; rounds {report['rounds']}")
    return "\n".join(lines)


def _sizes(text: str) -> list[int]:
    try:
        sizes = [int(part) for part in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not a comma-separated list of counts: {text!r}"
        ) from None
    if not sizes or min(sizes) < 1:
        raise argparse.ArgumentTypeError(f"sizes must be at least 1: {text!r}")
    return sizes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--json", action="store_true", help="print the report as JSON")
    parser.add_argument(
        "--sizes",
        type=_sizes,
        default=[10_000, 100_000],
        help="job sizes, comma-separated (default 10000,100000; ratios are to the smallest)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="timed walks per size (median)")
    parser.add_argument(
        "--connections", type=int, default=16, help="set-up connections (default 16)"
    )


def run(args: argparse.Namespace) -> int:
    if args.rounds < 1 or args.connections < 1:
        raise UsageError("--rounds and --connections must be at least 1")
    report = measure(args)
    print(json.dumps(report, indent=2) if args.json else table(report))
    return 0
