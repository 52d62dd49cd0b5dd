"""The race catalogue (``scenarios/races/``): each scenario's cause appears in every seed, and
the mitigation its comment documents, given through ``sweep --vary``, removes it.

The numbers come from the runs' ``shadow_by_cause`` through ``sweep.json``'s ``values``, one
per seed."""

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
]


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
    for scenario, _cause, vary in CATALOGUE:
        assert vary.partition("=")[0] in (RACES / scenario).read_text()
