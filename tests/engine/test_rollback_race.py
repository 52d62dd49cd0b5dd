"""Jobs' delayed ``$package`` write (``[emulator.jobs] package_write_delay_s``) and the devices'
post-update health check (``rollback_after_success_*``, ``health_check``), in whole runs on the
simulated clock."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.engine.support import edited, lines, load, run

DELAY = "[emulator.jobs]\npackage_write_delay_s = 30\n"
#: The run settles past the last delayed write (a run that ends before it never sees it).
SETTLE = ("settle_s = 0", "settle_s = 60")
CHECK = (
    "[device]\nreports_package_shadow = 1.0\nrollback_after_success_probability = 0.5\n"
    'rollback_after_success_delay = "uniform(1, 10)"\n'
)


@pytest.mark.asyncio
async def test_jobs_writes_package_the_configured_delay_after_each_succeeded(
    tmp_path: Path,
) -> None:
    log = tmp_path / "events.jsonl.gz"
    result, world = await run(load(tmp_path, edited(SETTLE, extra=DELAY)), event_log=log)
    assert result.executions == {"SUCCEEDED": 20}
    assert (result.shadow_consistent, result.shadow_by_cause) == (20, {})
    history = lines(log)
    succeeded = {
        e["dev"]: e["t"] for e in history if e.get("k") == "exec" and e["to"] == "SUCCEEDED"
    }
    written = {e["dev"]: e["t"] for e in history if e.get("k") == "write" and e["by"] == "jobs"}
    assert succeeded.keys() == written.keys() == {d.name for d in world.devices}
    assert all(written[t] == pytest.approx(succeeded[t] + 30) for t in succeeded)


@pytest.mark.asyncio
async def test_a_rollback_after_succeeded_reported_before_jobs_late_write_is_a_phantom(
    tmp_path: Path,
) -> None:
    result, world = await run(load(tmp_path, edited(SETTLE, extra=DELAY + CHECK)))
    assert result.executions == {"SUCCEEDED": 20}
    rolled_back = [d for d in world.devices if d.inventory == {"agent": "1.0.0"}]
    # Every check that fails within the 30 s delay (all do: at most 10 s + latency) is lost.
    assert rolled_back
    assert dict(result.shadow_by_cause) == {"phantom_version": len(rolled_back)}
    assert all(world.tracker.reported(d.name) == {"agent": "1.2.0"} for d in rolled_back)


@pytest.mark.asyncio
async def test_without_jobs_delay_the_rollback_report_lands_last_and_tells_the_truth(
    tmp_path: Path,
) -> None:
    result, world = await run(load(tmp_path, edited(SETTLE, extra=CHECK)))
    assert any(d.inventory == {"agent": "1.0.0"} for d in world.devices)
    assert (result.shadow_consistent, result.shadow_by_cause) == (20, {})


@pytest.mark.asyncio
async def test_a_health_check_before_the_terminal_update_fails_the_execution_instead(
    tmp_path: Path,
) -> None:
    text = edited(SETTLE, extra=DELAY + CHECK + 'health_check = "before_success"\n')
    result, world = await run(load(tmp_path, text))
    failed = result.executions.get("FAILED", 0)
    assert failed > 0 and failed + result.executions["SUCCEEDED"] == 20
    assert sum(d.inventory == {"agent": "1.0.0"} for d in world.devices) == failed
    assert (result.shadow_consistent, result.shadow_by_cause) == (20, {})
