"""Helpers for the engine's tests: small scenario files, and runs that keep their world."""

from __future__ import annotations

import gzip
import shutil
from pathlib import Path
from typing import Any

import orjson

from simulator.engine.planes import InProcessPlane
from simulator.engine.runner import Runner
from simulator.engine.scenario import Scenario, load_scenario
from simulator.engine.world import World
from simulator.report import RunResult, report_dict

ROOT = Path(__file__).parents[2]
SCENARIOS = ROOT / "scenarios"
SHIPPED = sorted(SCENARIOS.glob("*.toml"))

#: A small valid scenario: 20 devices, one install job. Tests replace or append lines.
BASE = """\
name = "small"
[run]
seed = 1
settle_s = 0
sample_interval_s = 5
max_duration_s = 3600

[fleet]
devices = 20
connect = "uniform(0, 5)"

[[fleet.inventory]]
package = "agent"
versions = { "1.0.0" = 1.0 }

[catalog.configuration]
version_update_by_jobs = true
role_arn = "arn:aws:iam::123456789012:role/JobsUpdatePackageShadow"

[[catalog.packages]]
name = "agent"
default_version = "1.0.0"

[[catalog.packages.versions]]
name = "1.0.0"
attributes.package = "agent"
attributes.version = "1.0.0"
attributes.s3URL = "https://fleet-bucket.s3.us-east-1.amazonaws.com/agent-1.0.0"
attributes.signature = "s"

[[catalog.packages.versions]]
name = "1.2.0"
attributes.package = "agent"
attributes.version = "1.2.0"
attributes.s3URL = "https://fleet-bucket.s3.us-east-1.amazonaws.com/agent-1.2.0"
attributes.signature = "s"

[device.steps.download]
duration = "uniform(5, 15)"

[device.steps.install]
duration = "uniform(10, 30)"

[[jobs]]
id = "agent-1-2-0"
at_s = 10
document = "jobs/install-package.json"
destination_package_versions = ["agent@1.2.0"]
targets = ["group:fleet"]
presigned_url = { roleArn = "arn:aws:iam::123456789012:role/JobsPresign" }
"""


def write_scenario(directory: Path, text: str = BASE, *, name: str = "scenario.toml") -> Path:
    """Write ``text`` next to a copy of the shipped job documents (``jobs/*.json``)."""
    jobs = directory / "jobs"
    if not jobs.exists():
        shutil.copytree(SCENARIOS / "jobs", jobs)
    path = directory / name
    path.write_text(text)
    return path


def edited(*changes: tuple[str, str], extra: str = "") -> str:
    """:data:`BASE` with each ``(old, new)`` replaced once (``old`` must be there) and ``extra``
    appended."""
    text = BASE
    for old, new in changes:
        assert text.count(old) == 1, old
        text = text.replace(old, new)
    return text + extra


def load(directory: Path, text: str = BASE) -> Scenario:
    return load_scenario(write_scenario(directory, text))


async def run(scenario: Scenario, event_log: Path | None = None) -> tuple[RunResult, World]:
    """Run a scenario as ``run_scenario`` does (on the test's loop: uvloop, ``conftest.py``),
    and keep the world for inspection."""
    plane = InProcessPlane(scenario)
    return await Runner(plane, event_log=event_log).run(), plane.world


def report(result: RunResult) -> dict[str, Any]:
    """The report as JSON data, without the fields that are allowed to vary between runs."""
    data = report_dict(result)
    del data["wall_s"], data["peak_rss_mb"]
    substitution = dict(data["substitution"])
    del substitution["prepare_s"], substitution["render_s"]  # time spent: varies
    data["substitution"] = substitution
    return data


def events(path: Path) -> bytes:
    return gzip.decompress(path.read_bytes())


def lines(path: Path) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in events(path).splitlines()]
