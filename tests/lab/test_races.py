"""The race catalogue (``scenarios/races/``): each scenario's cause appears in every seed, and
the mitigation its comment documents, given through ``sweep --vary``, removes it.

The numbers come from the runs' ``shadow_by_cause`` through ``sweep.json``'s ``values``, one
per seed; a race that leaves ``$package`` right is measured by its own ``sweep.json`` measure
(:data:`MEASURED`)."""

from __future__ import annotations

from pathlib import Path

import orjson
import pytest

from tests.fleetsim_cli import ROOT, fleetsim

RACES = ROOT / "scenarios" / "races"
SEEDS = 3

CATALOGUE = [
    ("lost-update.toml", "manual_overwrite", "writers.cmdb-sync.use_version=false,true"),
    (
        "null-uninstall-readd.toml",
        "manual_overwrite",
        "writers.asset-inventory.use_version=false,true",
    ),
    (
        "jobs-update-disabled.toml",
        "not_reported",
        "catalog.configuration.version_update_by_jobs=false,true",
    ),
    ("jobs-update-disabled.toml", "not_reported", "device.reports_package_shadow=0,1"),
    (
        "rollback-after-success.toml",
        "phantom_version",
        "device.health_check=after_success,before_success",
    ),
    (
        "redelivered-report.toml",
        "phantom_version",
        "device.package_version_precondition=false,true",
    ),
]


#: Races measured by a sweep.json measure rather than a cause: (scenario, measure, --vary).
MEASURED = [
    (
        "continuous-lagging-group.toml",
        "redundant_executions",
        "jobs.agent-1-2-0-fleet.at_s=200,300",
    ),
    (
        "continuous-lagging-group.toml",
        "redundant_executions",
        'dynamic_groups.agent-outdated.query="(shadow.name.$package.reported.agent.version:1.0.0'
        ' OR shadow.name.$package.reported.agent.version:1.1.0)","(shadow.name.$package.reported'
        ".agent.version:1.0.0 OR shadow.name.$package.reported.agent.version:1.1.0) AND NOT "
        'thingGroupNames:canary"',
    ),
]


@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "measure", "vary"), MEASURED)
def test_the_measured_race_appears_and_the_mitigation_removes_it(
    tmp_path: Path, scenario: str, measure: str, vary: str
) -> None:
    done = fleetsim(
        "sweep", RACES / scenario, "--devices", "150", "--seeds", f"1-{SEEDS}", "--jobs", "2",
        "--vary", vary, "--quiet", "--out", tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    racy, mitigated = orjson.loads((tmp_path / "sweep.json").read_bytes())["variants"]
    assert all(n > 0 for n in racy[measure]["values"]), racy[measure]
    assert mitigated[measure]["values"] == [0] * SEEDS
    assert racy["inconsistent"]["values"] == mitigated["inconsistent"]["values"] == [0] * SEEDS
    assert measure.replace("_", " ") in (tmp_path / "sweep.html").read_text()  # a column


@pytest.mark.slow
@pytest.mark.parametrize(("scenario", "cause", "vary"), CATALOGUE)
def test_the_cause_appears_and_the_mitigation_removes_it(
    tmp_path: Path, scenario: str, cause: str, vary: str
) -> None:
    done = fleetsim(
        "sweep", RACES / scenario, "--devices", "150", "--seeds", f"1-{SEEDS}", "--jobs", "2",
        "--vary", vary, "--quiet", "--out", tmp_path,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    racy, mitigated = orjson.loads((tmp_path / "sweep.json").read_bytes())["variants"]
    assert all(n > 0 for n in racy["by_cause"][cause]["values"]), racy["by_cause"][cause]
    # The mitigation removes every inconsistency, not only this cause.
    assert mitigated["inconsistent"]["values"] == [0] * SEEDS


def test_every_race_scenario_has_a_row_and_its_mitigation_in_the_readme() -> None:
    readme = (RACES / "README.md").read_text()
    for path in sorted(RACES.glob("*.toml")):
        assert f"[`{path.name}`]({path.name})" in readme, path.name
        text = path.read_text()
        assert "# Mitigation:" in text and "--vary" in text, path.name
    for scenario, _cause, vary in CATALOGUE + MEASURED:
        assert vary.partition("=")[0] in (RACES / scenario).read_text()
