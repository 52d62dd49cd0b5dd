"""``--vary`` paths and values, seeds, and the bootstrap interval, as units."""

from __future__ import annotations

import pytest

from simulator.core.errors import UsageError
from simulator.engine.scenario import load_scenario
from simulator.lab import (
    Variant,
    apply_overrides,
    measure,
    parse_seeds,
    parse_vary,
    variants,
)
from tests.fleetsim_cli import ROOT

QUICKSTART = ROOT / "scenarios" / "quickstart.toml"


def test_values_are_toml_scalars_split_outside_brackets() -> None:
    vary = parse_vary('device.reboot_duration=uniform(1, 5), 3, true, "a,b", 0.25')
    assert vary.path == "device.reboot_duration"
    assert vary.values == ("uniform(1, 5)", 3, True, "a,b", 0.25)


def test_variants_are_every_combination_first_vary_slowest() -> None:
    got = variants([parse_vary("a.x=1,2"), parse_vary("b.y=true,false")])
    assert [v.overrides for v in got] == [
        (("a.x", 1), ("b.y", True)),
        (("a.x", 1), ("b.y", False)),
        (("a.x", 2), ("b.y", True)),
        (("a.x", 2), ("b.y", False)),
    ]
    assert variants([]) == [Variant(())]
    with pytest.raises(UsageError, match="given twice"):
        variants([parse_vary("a.x=1"), parse_vary("a.x=2")])


def test_paths_reach_list_entries_by_name_id_package_and_position() -> None:
    scenario = load_scenario(QUICKSTART)
    changed = apply_overrides(
        scenario,
        [
            ("writers.cmdb-sync.use_version", True),
            ("jobs.agent-1-2-0.timeout.inProgressTimeoutInMinutes", 30),
            ("fleet.inventory.agent.in_shadow", 0.5),
            ("fleet.groups.0.fraction", 0.1),
            ("catalog.configuration.version_update_by_jobs", False),
            ("device.reboot_duration", "uniform(1, 2)"),
        ],
    )
    assert changed.writers[0].use_version is True
    assert changed.jobs[0].timeout == {"inProgressTimeoutInMinutes": 30}
    assert changed.fleet.inventory[0].in_shadow == 0.5
    assert changed.fleet.groups[0].fraction == 0.1
    assert changed.catalog.configuration.version_update_by_jobs is False
    assert changed.spec.device.reboot_duration == "uniform(1, 2)"
    # The original is untouched.
    assert scenario.writers[0].use_version is False


def test_values_are_checked_by_the_scenario_rules() -> None:
    scenario = load_scenario(QUICKSTART)
    with pytest.raises(UsageError, match=r"\$\.jobs\[0\]\.timeout"):
        apply_overrides(scenario, [("jobs.agent-1-2-0.timeout.inProgressTimeoutInMinutes", -1)])
    with pytest.raises(UsageError, match="not the entry itself"):
        apply_overrides(scenario, [("writers.cmdb-sync", True)])
    with pytest.raises(UsageError, match="has no field"):
        apply_overrides(scenario, [("device.reboot_probability.x", 1)])


@pytest.mark.parametrize(
    ("text", "seeds"),
    [("1-5", (1, 2, 3, 4, 5)), ("7", (7,)), ("3,1,3", (3, 1)), ("1-2,9-10", (1, 2, 9, 10))],
)
def test_seeds(text: str, seeds: tuple[int, ...]) -> None:
    assert parse_seeds(text) == seeds


@pytest.mark.parametrize("text", ["", "1-", "-3", "a", "5-2", "1.5", "0-100000"])
def test_bad_seeds(text: str) -> None:
    with pytest.raises(UsageError, match="--seeds"):
        parse_seeds(text)


def test_measure_is_deterministic_and_brackets_the_mean() -> None:
    values = [3, 8, 1, 0, 12, 7, 7]
    first, second = measure(values), measure(values)
    assert first == second
    lo, hi = first["ci95"]
    assert lo is not None and hi is not None
    assert 0 <= lo < first["mean"] < hi <= 12  # type: ignore[operator]
    assert first["values"] == values
    assert measure([4, 4, 4]) == {"mean": 4.0, "ci95": [4.0, 4.0], "values": [4, 4, 4]}
    assert measure([None, 2.5]) == {"mean": 2.5, "ci95": [2.5, 2.5], "values": [None, 2.5]}
    assert measure([None]) == {"mean": None, "ci95": [None, None], "values": [None]}
