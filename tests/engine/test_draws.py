"""The fleet's draws: the same values as one Python step per device and package, built in bulk."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

from simulator.engine.draws import FleetDraws, draw_fleet
from simulator.engine.scenario import Scenario
from tests.engine.support import edited, load

#: Two packages, one with a "none" version (the device lacks it), neither always in $package.
_FLEET = """[[fleet.inventory]]
package = "agent"
versions = { "1.0.0" = 0.7, "1.1.0" = 0.3 }
in_shadow = 0.5

[[fleet.inventory]]
package = "daemon"
versions = { "2.0" = 0.5, "2.1" = 0.3, "none" = 0.2 }
in_shadow = 0.6

[[fleet.groups]]
name = "canary"
fraction = 0.1
"""


def _scenario(tmp_path: Path) -> Scenario:
    text = edited(
        ("devices = 20", "devices = 500"),
        ('[[fleet.inventory]]\npackage = "agent"\nversions = { "1.0.0" = 1.0 }\n', _FLEET),
        (
            "[device.steps.download]",
            "[device]\nreports_package_shadow = 0.3\n\n[device.steps.download]",
        ),
    )
    return load(tmp_path, text)


def _reference(scenario: Scenario) -> FleetDraws:
    """The draws one device and package at a time, in the order the generators are used."""
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
        subgroups.append(
            (group.name, frozenset(groups.choice(n, size=count, replace=False).tolist()))
        )
    return FleetDraws(inventories, in_shadow, [bool(r) for r in reports], subgroups)


def test_bulk_draws_equal_the_per_device_draws(tmp_path: Path) -> None:
    scenario = _scenario(tmp_path)
    assert len(scenario.fleet.inventory) == 2
    draws, expected = draw_fleet(scenario), _reference(scenario)
    assert draws.inventories == expected.inventories
    # Same keys in the same order too: $package documents are serialised in dict order.
    assert [list(d) for d in draws.inventories] == [list(d) for d in expected.inventories]
    assert draws.in_shadow == expected.in_shadow
    assert [list(d) for d in draws.in_shadow] == [list(d) for d in expected.in_shadow]
    assert draws.reports_shadow == expected.reports_shadow
    assert draws.subgroups == expected.subgroups
    # The scenario exercises every case: a missing package, a package not shown, both shown.
    assert any("daemon" not in d for d in draws.inventories)
    assert any(d and not s for d, s in zip(draws.inventories, draws.in_shadow, strict=True))
    assert any(len(s) == 2 for s in draws.in_shadow)


def test_inventories_are_the_devices_own_and_shown_versions_are_shared(tmp_path: Path) -> None:
    draws = draw_fleet(_scenario(tmp_path))
    # A device changes its inventory as it installs: no two devices may hold the same dict.
    assert len({id(d) for d in draws.inventories}) == len(draws.inventories)
    # $package's initial versions are only read: one dict per distinct draw.
    distinct = {tuple(d.items()) for d in draws.in_shadow}
    assert len({id(d) for d in draws.in_shadow}) == len(distinct)


def test_a_fleet_without_inventory(tmp_path: Path) -> None:
    text = edited(('[[fleet.inventory]]\npackage = "agent"\nversions = { "1.0.0" = 1.0 }\n', ""))
    draws = draw_fleet(load(tmp_path, text))
    assert draws.inventories == [{}] * 20
    assert draws.in_shadow == [{}] * 20
