"""Shared pieces of the MQTT fleet tests: quick real-clock scenarios, runs that keep their plane,
checks of what the devices and the emulator did.

Every test starts its own Mosquitto (``tests/mqtt_broker.py``) on a free port; nothing is
mocked and nothing skips (a missing ``mosquitto`` fails with the command that installs it).
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
from collections import Counter
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from simulator.api.wire.jobs import executions_for_thing
from simulator.engine.mqtt import MqttOptions
from simulator.engine.planes import build_plane
from simulator.engine.planes.embedded import EmbeddedPlane
from simulator.engine.runner import Runner
from simulator.engine.scenario import Scenario, load_scenario
from simulator.report import RunResult
from tests.engine.support import write_scenario

ROOT = Path(__file__).resolve().parents[2]

#: A fleet that rolls out in seconds on the real clock: one install job to the whole fleet,
#: steps of about a second, answers re-asked after 5 s.
QUICK = """\
name = "mqtt-quick"
[run]
seed = 7
clock = "real"
settle_s = 0
sample_interval_s = 1
max_duration_s = {max_duration}

[fleet]
devices = {devices}
name_format = "{name_format}"
first_index = {first_index}

[[fleet.inventory]]
package = "agent"
versions = {{ "1.0.0" = 0.5, "1.1.0" = 0.5 }}

[catalog.configuration]
version_update_by_jobs = true
role_arn = "arn:aws:iam::123456789012:role/JobsUpdatePackageShadow"

[[catalog.packages]]
name = "agent"
default_version = "1.2.0"
{versions}
[device]
response_timeout_s = {response_timeout}
reports_package_shadow = 0.25

[device.steps.download]
duration = "{step}"

[device.steps.verify]
duration = "{step}"

[device.steps.install]
duration = "{step}"

[[jobs]]
id = "agent-1-2-0"
at_s = {at_s}
document = "jobs/install-package.json"
destination_package_versions = ["agent@1.2.0"]
targets = ["group:fleet"]
presigned_url = {{ roleArn = "arn:aws:iam::123456789012:role/JobsPresign" }}
"""

_VERSION = """
[[catalog.packages.versions]]
name = "{v}"
attributes.package = "agent"
attributes.version = "{v}"
attributes.s3URL = "https://fleet-bucket.s3.us-east-1.amazonaws.com/agent-{v}"
attributes.signature = "s"
"""


def quick_scenario(
    directory: Path,
    *,
    devices: int,
    step: str = "uniform(0.3, 1.0)",
    at_s: float = 1.0,
    response_timeout: float = 5.0,
    max_duration: float = 240.0,
    name_format: str = "device-{index:06d}",
    first_index: int = 0,
) -> Path:
    versions = "".join(_VERSION.format(v=v) for v in ("1.0.0", "1.1.0", "1.2.0"))
    text = QUICK.format(
        devices=devices,
        step=step,
        at_s=at_s,
        response_timeout=response_timeout,
        max_duration=max_duration,
        versions=versions,
        name_format=name_format,
        first_index=first_index,
    )
    directory.mkdir(parents=True, exist_ok=True)
    return write_scenario(directory, text)


def load(path: Path) -> Scenario:
    return load_scenario(path)


def mqtt_run(scenario: Scenario, options: MqttOptions, *, event_log: Path | None = None) -> Runner:
    """A run of ``scenario`` over MQTT as ``fleetsim run --broker`` builds it."""
    return Runner(build_plane(scenario, options), event_log=event_log)


async def run_in_process(
    run: Runner,
    *during: Callable[[Runner], Awaitable[None]],
    timeout: float = 300.0,
) -> RunResult:
    """Run ``run`` on the test's loop (uvloop: ``conftest.py``) with coroutines ``during``
    alongside (fault injection, probes); a probe's failure fails the run."""
    async with asyncio.timeout(timeout):
        helpers = [asyncio.create_task(probe(run)) for probe in during]
        try:
            return await run.run()
        finally:
            for task in helpers:
                if not task.done():
                    task.cancel()
            for task in helpers:
                if task.done() and not task.cancelled() and task.exception() is not None:
                    raise task.exception()  # type: ignore[misc]


def embedded(run: Runner) -> EmbeddedPlane:
    assert isinstance(run.plane, EmbeddedPlane)
    return run.plane


def execution_history(plane: EmbeddedPlane) -> dict[str, list[dict[str, Any]]]:
    """Per thing, every execution the emulator holds for it (all jobs, all attempts)."""
    jobs = plane.world.emulator.jobs
    out: dict[str, list[dict[str, Any]]] = {}
    for device in plane.devices:
        token = None
        items: list[dict[str, Any]] = []
        while True:
            page = executions_for_thing(
                jobs.list_job_executions_for_thing(
                    thing_name=device.name, max_results=250, next_token=token
                )
            )
            items += [item["jobExecutionSummary"] for item in page["executionSummaries"]]
            token = page.get("nextToken")
            if not token:
                break
        out[device.name] = items
    return out


def check_rollout(run: Runner, result: RunResult) -> None:
    """Every execution terminal and SUCCEEDED exactly once per device, no device ran one twice,
    ``$package`` says 1.2.0 for each, and the devices' own records agree."""
    plane = embedded(run)
    devices = len(plane.devices)
    assert result.stop_reason == "every job finished", result.stop_reason
    assert result.executions == {"SUCCEEDED": devices}, result.executions
    history = execution_history(plane)
    statuses = Counter(e["status"] for items in history.values() for e in items)
    assert statuses == {"SUCCEEDED": devices}, statuses
    assert all(len(items) == 1 for items in history.values())
    ledger = plane.link.ledger
    assert ledger.repeated_runs() == {}, list(ledger.repeated_runs().items())[:5]
    started = Counter(len(runs) for runs in ledger.started.values())
    assert started == {1: devices}, started  # every device started exactly one execution
    shadows = plane.world.emulator.shadows
    for device in plane.devices:
        assert device.inventory["agent"] == "1.2.0", device.name
        reported = shadows.reported(device.name, "$package") or {}
        assert reported.get("agent", {}).get("version") == "1.2.0", (device.name, reported)
    assert result.shadow_consistent == devices, result.shadow_by_cause


def options(broker_uri: str, **kw: Any) -> MqttOptions:
    from simulator.transport.mqtt import parse_broker_uri  # noqa: PLC0415

    return MqttOptions(broker=parse_broker_uri(broker_uri), **kw)


def fleetsim(*args: str | Path, timeout: float = 300.0) -> subprocess.CompletedProcess[str]:
    """``python -m simulator.cli ARGS`` as a user runs it."""
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", *map(str, args)],
        cwd=ROOT,
        check=False,
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, "PYTHONUNBUFFERED": "1"},
    )


def popen_fleetsim(*args: str | Path, log: Path) -> subprocess.Popen[str]:
    with log.open("w") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", *map(str, args)],
            cwd=ROOT,
            stdout=out,
            stderr=subprocess.STDOUT,
            text=True,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )
