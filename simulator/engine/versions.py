"""The version distribution of each rollout's package over a run, through fleet indexing.

A run whose jobs deploy packages samples, per package, GetBucketsAggregation over
``shadow.name.$package.reported.<package>.version`` (the everyday query of a rollout, [SPC-fi])
on the emulator's own index service: the same call and code a boto3 client's request reaches.
The world turns indexing on for this (``$package`` in the named-shadow filter and one String
custom field per package, as AWS requires for aggregating it); that changes nothing a run
simulates (the index only reads).

**Cost.** A sample reads every thing's value (the query is ``*``: no index documents are built,
see :func:`simulator.services.index.aggfields.raw_reader`); a value is re-read only after the
thing's shadow changed. Measured on the quickstart at 100,000 devices (CPU time, machine loaded
with other work): ~0.3 s for the first sample and ~0.07 s for each later one, against ~16.5 s
for the run: sampling at each of its 452 timeline samples would more than double it. So versions
are sampled at every ``stride``-th timeline sample, ``stride`` growing with the fleet (one more
per :data:`DEVICES_PER_STRIDE` devices: 10 at 10k, 100 at 100k, so ~6-10 points a run), plus
once at the end of the run (the last point is the final distribution): 0.66 s of sampling, and
the run's CPU +4-6 % in all (indexing on, the value cache). Deterministic: a seeded run gives
the same timeline.

The remote plane does not sample (see :class:`~simulator.engine.planes.remote.RemotePlane`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Final

from simulator.engine.scenario import Scenario
from simulator.engine.setup_requests import INDEXING_CONFIGURATION
from simulator.report import VersionSample
from simulator.services.index import IndexService

__all__ = [
    "DEVICES_PER_STRIDE",
    "VersionSampler",
    "indexing_configuration",
    "rollout_packages",
    "version_field",
]

#: One more timeline sample between two version samples per this many devices.
DEVICES_PER_STRIDE: Final = 1_000
_TERMS: Final = {"termsAggregation": {"maxBuckets": 10_000}}


def version_field(package: str) -> str:
    """The aggregation field of ``package``'s reported version."""
    return f"shadow.name.$package.reported.{package}.version"


def rollout_packages(scenario: Scenario) -> tuple[str, ...]:
    """The packages the scenario's jobs deploy, in first-seen order."""
    out: dict[str, None] = {}
    for arns in scenario.destinations:
        for arn in arns:
            # arn:aws:iot:<region>:<account>:package/<name>/version/<version>
            parts = arn.split(":", 5)[-1].split("/")
            if len(parts) == 4 and parts[0] == "package":
                out[parts[1]] = None
    return tuple(out)


def indexing_configuration(packages: Iterable[str]) -> dict[str, Any]:
    """:data:`INDEXING_CONFIGURATION` with a String custom field per package version."""
    config = dict(INDEXING_CONFIGURATION)
    fields = [{"name": version_field(p), "type": "String"} for p in packages]
    if fields:
        config["customFields"] = fields
    return config


class VersionSampler:
    """Samples the version distribution of ``packages`` from ``index``.

    Args:
        index: the emulator's index service (indexing on, with the custom fields).
        packages: the packages to follow.
        devices: the fleet's size (sets the stride).
    """

    def __init__(self, index: IndexService, packages: Sequence[str], devices: int) -> None:
        self._index = index
        self.packages = tuple(packages)
        self.stride = max(1, math.ceil(devices / DEVICES_PER_STRIDE))
        self._calls = 0
        self.timeline: list[VersionSample] = []
        #: Real seconds spent sampling (not in the report, which a seed must reproduce).
        self.seconds = 0.0

    def tick(self, t: float) -> None:
        """A timeline sample at ``t``: sample the versions if this is a ``stride``-th one."""
        if self._calls % self.stride == 0:
            self.sample(t)
        self._calls += 1

    def sample(self, t: float) -> None:
        """Sample every package at ``t`` (once: a second call at the same ``t`` is ignored)."""
        if self.timeline and self.timeline[-1].t == t:
            return
        started = time.perf_counter()
        for package in self.packages:
            found = self._index.get_buckets_aggregation(
                query_string="*",
                aggregation_field=version_field(package),
                buckets_aggregation_type=_TERMS,
            )
            buckets: Mapping[str, int] = {b.key: b.count for b in found.buckets}
            self.timeline.append(VersionSample(t, package, found.total_count, dict(buckets)))
        self.seconds += time.perf_counter() - started
