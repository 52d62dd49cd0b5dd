"""(b) The broker dies (SIGKILL) in the middle of a 2,000-device rollout and comes back on the
same port a few seconds later: every device reconnects, every execution still ends, no device
runs its job twice, no execution is lost."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from simulator.engine.runner import Runner
from simulator.transport.mqtt import ConnectionPool
from tests.fleet_mqtt.support import (
    check_rollout,
    embedded,
    load,
    mqtt_run,
    options,
    quick_scenario,
    run_in_process,
)
from tests.mqtt_broker import Mosquitto

pytestmark = pytest.mark.slow  # end to end, at scale

DEVICES = 2000


@pytest.mark.asyncio
async def test_broker_killed_and_restarted_mid_rollout(tmp_path: Path) -> None:
    # Devices connect at 100/s and the job targets all of them at once: when the broker dies
    # some executions have succeeded, some are running, and the devices not connected yet have
    # theirs QUEUED (the kill also interrupts the connection ramp).
    scenario = load(
        quick_scenario(tmp_path / "scenario", devices=DEVICES, step="uniform(0.5, 1.5)")
    )
    seen: dict[str, object] = {}
    with Mosquitto(tmp_path / "broker") as broker:

        async def kill_and_restart(run: Runner) -> None:
            plane = embedded(run)
            while True:
                counts = run.executions()
                if counts.get("SUCCEEDED", 0) >= DEVICES // 10:
                    break
                await asyncio.sleep(0.05)
            seen["at_kill"] = counts
            assert embedded(run).broker.pool is not None
            at_kill = embedded(run).broker.pool.stats()
            seen["online_at_kill"], seen["open_at_kill"] = at_kill.online, at_kill.open
            broker.kill()
            await asyncio.sleep(3.0)
            await asyncio.to_thread(broker.restart)
            seen["drops"] = plane.link.ledger.offline
            assert embedded(run).broker.pool is not None
            pool = embedded(run).broker.pool
            while pool.stats().online < DEVICES:  # every device back (or there at last)
                await asyncio.sleep(0.1)
            seen["all_back"] = True

        run = mqtt_run(scenario, options(broker.uri, rollout_per_minute=60_000, connect_rate=100.0))
        result = await run_in_process(run, kill_and_restart, timeout=240)
        stats = embedded(run).broker.pool.stats() if embedded(run).broker.pool else None

    at_kill = seen["at_kill"]
    assert isinstance(at_kill, dict)
    assert at_kill.get("IN_PROGRESS", 0) > 0 and at_kill.get("QUEUED", 0) > 0, at_kill
    online, sockets = seen["online_at_kill"], seen["open_at_kill"]
    assert isinstance(online, int) and isinstance(sockets, int) and 0 < online < DEVICES
    # Every connected device lost its connection... (and those whose CONNACK or SUBACK was on
    # its way when the broker died came online just before they noticed: at most every socket)
    drops = seen["drops"]
    assert isinstance(drops, int) and online <= drops <= sockets, (online, drops, sockets)
    assert seen.get("all_back")
    assert stats is not None and stats.reconnects >= online  # ...and came back
    assert stats.online == 0 and stats.connects >= DEVICES + online  # (closed at the end)
    assert result.extra["bridge_reconnects"] >= 1
    check_rollout(run, result)


@pytest.mark.asyncio
async def test_notifications_lost_while_the_broker_was_down(tmp_path: Path) -> None:
    """The job is created while the broker is down: its notify-next messages are lost with the
    devices' sessions. Reconnected idle devices look for pending jobs, as the Device Client
    does when its connection resumes, and the rollout completes."""
    devices = 300
    scenario = load(quick_scenario(tmp_path / "scenario", devices=devices, at_s=3.0))
    with Mosquitto(tmp_path / "broker") as broker:

        async def kill_before_the_job(run: Runner) -> None:
            plane = embedded(run)
            while not (
                embedded(run).broker.pool is not None
                and embedded(run).broker.pool.stats().online == devices
                and all(d.state.value == "idle" for d in plane.devices)
            ):
                await asyncio.sleep(0.02)
            assert not plane.world.job_created_at, "the job came before the fleet was idle"
            broker.kill()
            while not plane.world.job_created_at:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.5)
            await asyncio.to_thread(broker.restart)

        run = mqtt_run(scenario, options(broker.uri))
        result = await run_in_process(run, kill_before_the_job, timeout=240)
    assert result.extra["bridge_dropped"] >= devices  # every notify-next was lost
    assert embedded(run).link.ledger.wakeups == devices
    check_rollout(run, result)


@pytest.mark.asyncio
async def test_dropped_device_connections_resume_their_sessions(tmp_path: Path) -> None:
    """Every device's socket drops mid-rollout while the broker stays up: the devices reconnect
    to the sessions the broker kept (persistent sessions), get the replies it queued for them
    meanwhile, and the rollout completes without any device asking again."""
    devices = 500
    scenario = load(
        quick_scenario(tmp_path / "scenario", devices=devices, step="uniform(0.5, 1.5)")
    )
    with Mosquitto(tmp_path / "broker") as broker:

        async def drop_every_socket(run: Runner) -> None:
            while run.executions().get("SUCCEEDED", 0) < devices // 10:
                await asyncio.sleep(0.02)
            pool = embedded(run).broker.pool
            assert isinstance(pool, ConnectionPool)
            assert all(conn.abort() for conn in pool.connections)

        run = mqtt_run(scenario, options(broker.uri, rollout_per_minute=60_000))
        result = await run_in_process(run, drop_every_socket, timeout=240)
    pool = embedded(run).broker.pool
    assert isinstance(pool, ConnectionPool)
    assert all(conn.session_present for conn in pool.connections)  # resumed, not re-subscribed
    assert result.extra["reconnects"] == devices
    assert result.extra["session_wakeups"] == 0
    check_rollout(run, result)
