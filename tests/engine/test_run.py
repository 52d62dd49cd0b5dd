"""Whole runs on the simulated clock: results, reproducibility, the $package consistency tracker,
and each shipped feature scenario showing its feature."""

from __future__ import annotations

import collections
from pathlib import Path

import pytest

from simulator.engine.run import run_scenario
from simulator.engine.scenario import Scenario, load_scenario
from simulator.engine.world import World
from simulator.report import RunResult
from tests.engine.support import SCENARIOS, edited, events, lines, load, report, run

TERMINAL = {"SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"}
TIMEOUT = 'targets = ["group:fleet"]\ntimeout = { inProgressTimeoutInMinutes = 1 }'


def quickstart(devices: int = 120, seed: int | None = None) -> Scenario:
    scenario = load_scenario(SCENARIOS / "quickstart.toml").with_devices(devices)
    return scenario if seed is None else scenario.with_seed(seed)


def package_versions(world: World, thing: str) -> dict[str, str | None]:
    return world.tracker.reported(thing)


def latest(world: World, job_id: str) -> dict[str, str]:
    """thing -> the status of its latest execution of the job."""
    job = world.emulator.jobs.store.job(job_id)
    return {ex.thing: ex.status.value for ex in job.latest()}


# -- a run and its result ------------------------------------------------------------------------


def test_a_small_quickstart_run_ends_with_every_execution_terminal_and_a_full_report(
    tmp_path: Path,
) -> None:
    result = run_scenario(quickstart(), event_log=tmp_path / "events.jsonl.gz")
    data = report(result)
    assert data["devices"] == 120
    assert (data["seed"], data["clock"]) == (42, "simulated")
    assert data["interrupted"] is False
    assert data["stop_reason"] == "every job finished"
    assert set(data["executions"]) <= TERMINAL
    assert sum(data["executions"].values()) == 120
    latency = data["completion_latency_s"]
    assert 0 < latency["p50"] <= latency["p90"] <= latency["p99"] <= latency["max"]
    shadow = data["shadow"]
    assert shadow["checked"] == shadow["consistent"] + shadow["inconsistent"] == 120
    assert sum(shadow["by_cause"].values()) == shadow["inconsistent"]
    assert result.wall_s > 0
    assert result.peak_rss_mb > 10
    (job,) = data["jobs"]
    assert job["status"] == "COMPLETED"
    assert job["destination_package_versions"] == [
        "arn:aws:iot:us-east-1:123456789012:package/agent/version/1.2.0"
    ]
    assert data["writers"][0]["name"] == "cmdb-sync"
    assert data["writers"][0]["writes"] > 0
    assert data["timeline"][0]["t"] == 0.0
    # One document prepared at CreateJob; each device's fetch rendered with its presigned URL.
    substitution = result.substitution
    assert substitution.documents_prepared == 1
    assert substitution.renders >= sum(data["executions"].values())
    assert substitution.urls_minted >= 1
    assert substitution.prepare_s > 0 and substitution.render_s > 0
    logged = lines(tmp_path / "events.jsonl.gz")
    assert len(logged) == data["extra"]["event_log_lines"] > 0
    messages = [entry for entry in logged if "dir" in entry]
    assert {entry["dir"] for entry in messages} == {"up", "down"}
    assert all(entry["topic"].startswith("$aws/things/device-") for entry in messages)
    # The rest is the $package history (tests/lab/test_history.py).
    assert {e["k"] for e in logged if "dir" not in e} >= {"init", "exec", "inv", "write"}
    assert [e["t"] for e in logged] == sorted(e["t"] for e in logged)


@pytest.mark.asyncio
async def test_succeeded_devices_run_the_new_version_and_package_says_so(tmp_path: Path) -> None:
    result, world = await run(load(tmp_path))
    assert result.executions == {"SUCCEEDED": 20}
    for device in world.devices:
        assert device.inventory == {"agent": "1.2.0"}
        assert package_versions(world, device.name) == {"agent": "1.2.0"}
    assert (result.shadow_consistent, result.shadow_by_cause) == (20, {})


@pytest.mark.asyncio
async def test_a_run_stops_at_max_duration_and_runs_nothing_past_it(tmp_path: Path) -> None:
    text = edited(("max_duration_s = 3600", "max_duration_s = 20"))
    result, world = await run(load(tmp_path, text))
    assert result.stop_reason == "max_duration_s reached"
    assert result.duration_s == 20.0
    assert world.heap.now == world.start + 20.0
    assert "IN_PROGRESS" in result.executions  # cut short mid-rollout


@pytest.mark.asyncio
async def test_settle_keeps_sampling_after_the_last_job_finished(tmp_path: Path) -> None:
    text = edited(("settle_s = 0", "settle_s = 30"))
    result, _ = await run(load(tmp_path, text))
    (job,) = result.jobs
    assert job.completed_at_s is not None
    assert job.completed_at_s + 30 <= result.duration_s <= job.completed_at_s + 30 + 5


# -- reproducibility -----------------------------------------------------------------------------


def test_the_same_seed_gives_the_same_report_and_event_log(tmp_path: Path) -> None:
    logs = [tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl.gz"]
    first, second = (run_scenario(quickstart(), event_log=log) for log in logs)
    assert report(first) == report(second)
    assert events(logs[0]) == events(logs[1])
    third = run_scenario(quickstart(seed=43), event_log=tmp_path / "c.jsonl.gz")
    assert report(third) != report(first)
    assert events(tmp_path / "c.jsonl.gz") != events(logs[0])


# -- the $package consistency tracker ------------------------------------------------------------

WRITER = '[[writers]]\nname = "cmdb"\nrate_per_s = 20\ndelay = "uniform(2, 20)"\n'


def causes(result: RunResult) -> dict[str, int]:
    return dict(result.shadow_by_cause)


@pytest.mark.asyncio
async def test_a_manual_writer_without_version_overwrites_jobs_updates(tmp_path: Path) -> None:
    result, world = await run(load(tmp_path, edited(extra=WRITER + "use_version = false\n")))
    assert result.executions == {"SUCCEEDED": 20}
    assert causes(result).get("manual_overwrite", 0) > 0
    (writer,) = result.writers
    assert writer.writes > 0
    assert writer.conflicts == 0
    stale = [d for d in world.devices if package_versions(world, d.name) != d.inventory]
    assert len(stale) == causes(result)["manual_overwrite"]
    assert all(package_versions(world, d.name) == {"agent": "1.0.0"} for d in stale)


@pytest.mark.asyncio
async def test_a_manual_writer_with_version_gets_conflicts_and_overwrites_nothing(
    tmp_path: Path,
) -> None:
    result, _ = await run(load(tmp_path, edited(extra=WRITER + "use_version = true\n")))
    (writer,) = result.writers
    assert writer.conflicts > 0
    assert "manual_overwrite" not in causes(result)
    assert result.shadow_consistent == 20


REBOOT = "[device]\nreboot_probability = 1.0\nreboot_duration = 600\n"


@pytest.mark.asyncio
async def test_a_reboot_past_the_timeout_leaves_package_not_reported(tmp_path: Path) -> None:
    result, world = await run(
        load(tmp_path, edited(('targets = ["group:fleet"]', TIMEOUT), extra=REBOOT))
    )
    assert result.executions == {"TIMED_OUT": 20}
    assert causes(result) == {"not_reported": 20}
    assert all(d.inventory == {"agent": "1.2.0"} for d in world.devices)


@pytest.mark.asyncio
async def test_a_harmless_manual_write_does_not_take_the_blame_for_a_missed_report(
    tmp_path: Path,
) -> None:
    text = edited(('targets = ["group:fleet"]', TIMEOUT), extra=REBOOT + WRITER)
    result, _ = await run(load(tmp_path, text))
    assert result.writers[0].writes > 20
    assert causes(result) == {"not_reported": 20}


@pytest.mark.asyncio
async def test_the_final_audit_equals_a_fresh_recomputation() -> None:
    result, world = await run(quickstart(devices=300))
    tracker = world.tracker
    verdicts = collections.Counter(tracker.classify(d.index) for d in world.devices)
    assert verdicts.pop("") == result.shadow_consistent
    assert dict(verdicts) == causes(result)
    # Independently of any attribution: consistent means $package lists exactly what runs.
    agree = sum(package_versions(world, d.name) == d.inventory for d in world.devices)
    assert agree == result.shadow_consistent
    assert {"manual_overwrite", "not_reported"} <= set(causes(result))


# -- the feature scenarios -----------------------------------------------------------------------


@pytest.mark.asyncio
async def test_exponential_abort_cancels_the_queued_and_leaves_the_in_progress_alone() -> None:
    result, world = await run(load_scenario(SCENARIOS / "exponential-abort.toml"))
    (job,) = result.jobs
    assert job.status == "CANCELED"
    record = world.emulator.jobs.store.job("agent-1-3-0")
    assert record.reason_code == "ABORTED"
    aborted_at = record.updated
    windows = collections.Counter(
        int((ex.queued_at - record.created) // 60) for ex in record.all_executions()
    )
    released = [windows[m] for m in range(max(windows) + 1)]
    assert released[:3] == [25, 25, 25]  # baseRatePerMinute
    assert released == sorted(released) and released[-1] >= 100  # doubling per 100 notified
    finished_after = collections.Counter()
    for ex in record.latest():
        if ex.status.value == "CANCELED":
            assert ex.started_at is None  # only QUEUED executions were canceled
        elif ex.started_at is not None and ex.started_at < aborted_at < ex.updated_at:
            finished_after[ex.status.value] += 1
    assert result.executions["CANCELED"] > 100
    assert finished_after["SUCCEEDED"] > 0
    assert finished_after["FAILED"] > 0
    assert set(result.executions) == {"CANCELED", "SUCCEEDED", "FAILED"}
    assert len(record.by_thing) < result.devices  # the rest were never released


@pytest.mark.asyncio
async def test_default_deployment_resolves_default_to_the_catalog_default_version() -> None:
    scenario = load_scenario(SCENARIOS / "default-deployment.toml").with_devices(200)
    result, world = await run(scenario)
    (job,) = result.jobs
    resolved = "arn:aws:iot:us-east-1:123456789012:package/agent/version/1.1.0"
    assert job.destination_package_versions == (resolved,)
    assert job.status == "COMPLETED"
    assert result.executions == {"SUCCEEDED": 200}
    for device in world.devices:
        assert device.inventory == {"agent": "1.1.0"}
        assert package_versions(world, device.name) == {"agent": "1.1.0"}


@pytest.mark.asyncio
async def test_null_uninstall_removes_the_package_from_devices_and_package() -> None:
    result, world = await run(load_scenario(SCENARIOS / "null-uninstall.toml"))
    (job,) = result.jobs
    assert job.destination_package_versions[0].endswith(":package/legacy-agent/version/$null")
    assert result.timeline[0].by_cause == {"missing_entry": result.timeline[0].inconsistent}
    assert result.timeline[0].inconsistent > 0
    statuses = latest(world, "retire-legacy-agent")
    assert statuses.values() and set(statuses.values()) <= {"SUCCEEDED", "FAILED"}
    for device in world.devices:
        shadow = package_versions(world, device.name)
        if statuses[device.name] == "SUCCEEDED":
            assert "legacy-agent" not in device.inventory
            assert "legacy-agent" not in shadow
        assert device.inventory.get("agent") == shadow.get("agent") == "1.2.0"
    assert result.shadow_consistent == result.devices


@pytest.mark.asyncio
async def test_a_continuous_job_on_a_dynamic_group_runs_on_the_devices_that_join_it() -> None:
    result, world = await run(load_scenario(SCENARIOS / "continuous-dynamic-group.toml"))
    continuous, snapshot = result.jobs
    assert (continuous.status, snapshot.status) == ("IN_PROGRESS", "COMPLETED")
    record = world.emulator.jobs.store.job(continuous.job_id)
    joiners = [
        thing
        for thing in record.by_thing
        if record.history(thing)[0].queued_at > world.start + snapshot.created_at_s
    ]
    assert len(joiners) == snapshot.executions["SUCCEEDED"] > 50  # every 0.9.0 device
    assert continuous.executions == {"SUCCEEDED": result.devices}
    assert all(d.inventory == {"agent": "1.2.0"} for d in world.devices)
    assert list(world.emulator.registry.members("agent-1-0-0", recursive=False)) == []


@pytest.mark.parametrize("name", ["exponential-abort", "null-uninstall"])
def test_feature_scenarios_are_reproducible(name: str) -> None:
    scenario = load_scenario(SCENARIOS / f"{name}.toml").with_devices(150)
    assert report(run_scenario(scenario)) == report(run_scenario(scenario))
