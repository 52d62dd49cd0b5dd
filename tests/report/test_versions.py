"""The report's version timeline: sampled through fleet indexing during a run, in report.json
(``versions.timeline``) and drawn in report.html."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import pytest

from simulator.engine.versions import rollout_packages
from simulator.report import write_report
from simulator.report._versions_chart import natural_key
from tests.engine.support import edited, load, report, run

# 60 devices on two versions, some also writing $package themselves; the job moves them to 1.2.0.
TEXT = edited(
    ("devices = 20", "devices = 60"),
    ('versions = { "1.0.0" = 1.0 }', 'versions = { "1.0.0" = 0.5, "1.1.0" = 0.5 }'),
    extra="""
[[catalog.packages.versions]]
name = "1.1.0"
attributes.package = "agent"
attributes.version = "1.1.0"
attributes.s3URL = "https://fleet-bucket.s3.us-east-1.amazonaws.com/agent-1.1.0"
attributes.signature = "s"
""",
)


@pytest.mark.asyncio
async def test_version_timeline_ends_at_the_final_inventory(tmp_path: Path) -> None:
    scenario = load(tmp_path, TEXT)
    assert rollout_packages(scenario) == ("agent",)
    result, world = await run(scenario)
    timeline = report(result)["versions"]["timeline"]
    assert [v["package"] for v in timeline] == ["agent"] * len(timeline)
    times = [v["t"] for v in timeline]
    assert times == sorted(times) and len(set(times)) == len(times) >= 3
    first, last = timeline[0], timeline[-1]
    assert first["t"] == 0.0 and last["t"] == result.duration_s
    assert first["things"] == last["things"] == 60
    assert set(first["buckets"]) == {"1.0.0", "1.1.0"} and sum(first["buckets"].values()) == 60

    # The last sample is the fleet's final $package inventory, thing by thing.
    shadows = world.emulator.shadows
    final: Counter[str] = Counter()
    for device in world.devices:
        reported = shadows.reported(device.name, "$package") or {}
        entry = reported.get("agent")
        if isinstance(entry, dict) and "version" in entry:
            final[str(entry["version"]).lower()] += 1
    assert last["buckets"] == dict(final)
    assert final["1.2.0"] > 0


@pytest.mark.slow  # HTML: matplotlib draws every chart (~3 s)
@pytest.mark.asyncio
async def test_the_page_draws_the_version_timeline(tmp_path: Path) -> None:
    result, _ = await run(load(tmp_path, TEXT))
    json_path, html_path = write_report(result, tmp_path / "out")
    page = html_path.read_text()
    assert "Version distribution over time" in page
    assert 'aria-label="Reported package versions over time"' in page
    assert '"versions"' in json_path.read_text()


@pytest.mark.asyncio
async def test_no_version_timeline_without_a_package_rollout(tmp_path: Path) -> None:
    text = edited(("max_duration_s = 3600", "max_duration_s = 30"))
    scenario = load(tmp_path, text[: text.index("[[jobs]]")])
    assert rollout_packages(scenario) == ()
    result, world = await run(scenario)
    assert result.versions == ()
    assert report(result)["versions"] == {"timeline": []}
    assert world.emulator.index.get_indexing_configuration().thing.mode == "OFF"


def test_versions_sort_naturally() -> None:
    assert sorted(["1.10.0", "1.9.0", "1.9.0-rc", "2"], key=natural_key) == [
        "1.9.0",
        "1.9.0-rc",
        "1.10.0",
        "2",
    ]
