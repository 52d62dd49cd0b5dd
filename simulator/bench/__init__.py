"""Benchmarks of the installed tool: ``fleetsim bench NAME [options]``.

One module per benchmark, each exposing ``add_arguments(parser)`` and ``run(args) -> int``; the
registry below names them, and a benchmark is imported only when it runs (its peers, such as
moto or aiomqtt, may be optional: it then says in one line how to install them). The developer
harness in ``benchmarks/`` calls the same code and records results in ``benchmarks/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import importlib
from dataclasses import dataclass
from typing import Final, Protocol, cast

__all__ = ["BENCHMARKS", "Benchmark", "BenchmarkModule"]


class BenchmarkModule(Protocol):
    """What a benchmark module provides."""

    def add_arguments(self, parser: argparse.ArgumentParser, /) -> None: ...

    def run(self, args: argparse.Namespace, /) -> int: ...


@dataclass(frozen=True, slots=True)
class Benchmark:
    """A registered benchmark: its command name, module and one-line summary."""

    name: str
    module: str
    summary: str

    def load(self) -> BenchmarkModule:
        """Import the benchmark's module (only now: some pull in optional packages)."""
        return cast(BenchmarkModule, importlib.import_module(self.module))


BENCHMARKS: Final[dict[str, Benchmark]] = {
    b.name: b
    for b in (
        Benchmark(
            "substitution",
            "simulator.bench.substitution",
            "both phases of job-document substitution on your document and catalog, "
            "against a naive stdlib implementation and botocore's presigner",
        ),
        Benchmark(
            "fleet",
            "simulator.bench.fleet",
            "a scenario's rollout at 10k-1M devices on the simulated clock: wall time, memory",
        ),
        Benchmark(
            "api",
            "simulator.bench.api",
            "fleetsim serve requests/s and latency against moto's server (fleetsim[bench])",
        ),
        Benchmark(
            "mqtt",
            "simulator.bench.mqtt",
            "device MQTT clients (connections, round trips) and a rollout over Mosquitto "
            "against a raw-socket floor, gmqtt and aiomqtt (fleetsim[bench])",
        ),
        Benchmark(
            "mqtt-bridge",
            "simulator.bench.mqtt_bridge",
            "fleetsim serve --mqtt requests/s through Mosquitto, 1 vs K bridge connections",
        ),
        Benchmark(
            "paging",
            "simulator.bench.paging",
            "list every execution of a 10k- and a 100k-device job page by page over HTTP",
        ),
        Benchmark(
            "locust",
            "simulator.bench.locust",
            "Locust device users per worker: fleetsim's DeviceUser against locust's MqttUser",
        ),
    )
}
