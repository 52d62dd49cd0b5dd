"""The seeded per-device draws of a fleet, for processes that build only part of it.

Every driver draws the fleet here, once: the in-process
:class:`~simulator.engine.world.World`, a sharded MQTT run (which slices out its index range),
and a Locust test (whose devices join by fleet index), so a device gets the same inventory,
initial ``$package`` and group memberships whichever runs it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from simulator.engine.scenario import Scenario

__all__ = ["FleetDraws", "draw_fleet"]


@dataclass(frozen=True, slots=True)
class FleetDraws:
    """Per fleet index (0-based from ``fleet.first_index``): what the device runs, what its
    ``$package`` starts with, whether it reports ``$package`` itself, and its subgroups."""

    inventories: list[dict[str, str]]
    in_shadow: list[dict[str, str]]
    reports_shadow: list[bool]
    subgroups: list[tuple[str, frozenset[int]]]


def draw_fleet(scenario: Scenario) -> FleetDraws:
    """The whole fleet's draws (the same as an in-process run of ``scenario``)."""
    n = scenario.fleet.devices
    seed = scenario.run.seed
    rng = np.random.default_rng([seed, 7])
    inventories: list[dict[str, str]] = [{} for _ in range(n)]
    in_shadow: list[dict[str, str]] = [{} for _ in range(n)]
    for spec in scenario.fleet.inventory:
        versions = list(spec.versions)
        weights = np.array([spec.versions[v] for v in versions], dtype=float)
        picks = rng.choice(len(versions), size=n, p=weights / weights.sum())
        shown = rng.random(n) < spec.in_shadow
        for i in range(n):
            version = versions[picks[i]]
            if version != "none":
                inventories[i][spec.package] = version
                if shown[i]:
                    in_shadow[i][spec.package] = version
    reports = rng.random(n) < scenario.spec.device.reports_package_shadow
    groups = np.random.default_rng([seed, 11])
    subgroups = []
    for group in scenario.fleet.groups:
        count = math.ceil(group.fraction * n)
        members = frozenset(groups.choice(n, size=count, replace=False).tolist())
        subgroups.append((group.name, members))
    return FleetDraws(inventories, in_shadow, [bool(r) for r in reports], subgroups)
