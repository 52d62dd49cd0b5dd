"""The seeded per-device draws of a fleet, for processes that build only part of it.

Every driver draws the fleet here, once: the in-process
:class:`~simulator.engine.world.World`, a sharded MQTT run (which slices out its index range),
and a Locust test (whose devices join by fleet index), so a device gets the same inventory,
initial ``$package`` and group memberships whichever runs it.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from simulator.engine.scenario import InventorySpec, Scenario

__all__ = ["FleetDraws", "draw_fleet"]


@dataclass(frozen=True, slots=True)
class FleetDraws:
    """Per fleet index (0-based from ``fleet.first_index``): what the device runs, what its
    ``$package`` starts with, whether it reports ``$package`` itself, and its subgroups.

    Each device gets its own ``inventories`` dict (a device changes it as it installs), but the
    ``in_shadow`` dicts are shared between devices that drew the same versions: read them only.
    """

    inventories: list[dict[str, str]]
    in_shadow: list[dict[str, str]]
    reports_shadow: list[bool]
    subgroups: list[tuple[str, frozenset[int]]]


def draw_fleet(scenario: Scenario) -> FleetDraws:
    """The whole fleet's draws (the same as an in-process run of ``scenario``)."""
    n = scenario.fleet.devices
    seed = scenario.run.seed
    rng = np.random.default_rng([seed, 7])
    specs = scenario.fleet.inventory
    # Per device and package: 0 when the device lacks it, else 1 + the version's position;
    # the same, zeroed where $package does not show it. Devices are then grouped by their row,
    # so building the dicts costs one per distinct draw, not one Python step per package.
    runs = np.zeros((n, len(specs)), dtype=np.int32)
    shows = np.zeros((n, len(specs)), dtype=np.int32)
    names: list[list[str]] = []
    for j, spec in enumerate(specs):
        versions = list(spec.versions)
        weights = np.array([spec.versions[v] for v in versions], dtype=float)
        picks = rng.choice(len(versions), size=n, p=weights / weights.sum())
        shown = rng.random(n) < spec.in_shadow
        column = picks.astype(np.int32) + 1
        if "none" in versions:
            column[picks == versions.index("none")] = 0
        runs[:, j] = column
        shows[:, j] = np.where(shown, column, 0)
        names.append(versions)
    inventory_of = _by_row(runs, specs, names)
    inventories = [dict(inventory_of[k]) for k in _row_codes(runs)]
    shown_of = _by_row(shows, specs, names)
    in_shadow = [shown_of[k] for k in _row_codes(shows)]
    reports = rng.random(n) < scenario.spec.device.reports_package_shadow
    groups = np.random.default_rng([seed, 11])
    subgroups = []
    for group in scenario.fleet.groups:
        count = math.ceil(group.fraction * n)
        members = frozenset(groups.choice(n, size=count, replace=False).tolist())
        subgroups.append((group.name, members))
    return FleetDraws(inventories, in_shadow, reports.tolist(), subgroups)


def _row_codes(rows: np.ndarray) -> list[int]:
    """Each row's position among the distinct rows (as :func:`_by_row` lists them)."""
    if rows.shape[1] == 0:
        return [0] * rows.shape[0]
    _, inverse = np.unique(rows, axis=0, return_inverse=True)
    codes: list[int] = inverse.reshape(-1).tolist()
    return codes


def _by_row(
    rows: np.ndarray, specs: Sequence[InventorySpec], names: list[list[str]]
) -> list[dict[str, str]]:
    """The ``{package: version}`` dict of each distinct row, in :func:`_row_codes`' order."""
    distinct = np.unique(rows, axis=0) if rows.shape[1] else np.zeros((1, 0), dtype=np.int32)
    return [
        {
            spec.package: names[j][v - 1]
            for j, (spec, v) in enumerate(zip(specs, row, strict=True))
            if v
        }
        for row in distinct.tolist()
    ]
