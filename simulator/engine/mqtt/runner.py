"""Run a scenario over a real MQTT broker, on the real clock, to the same report as in process.

One asyncio loop (uvloop) carries everything: the devices' connections (one
:class:`~simulator.transport.mqtt.ConnectionPool`), the embedded emulator's bridge or the
polling of a remote control plane, and the run's one
:class:`~simulator.engine.mqtt.clock.WallClockHeap` with every device timer, service timer, sample
and stop check. Messages are handled as they arrive, in the sockets' callbacks; the loop runs
what the heap has due and otherwise sleeps until the next entry (or an earlier one) is due.

The run stops as an in-process run does: every job of the scenario created and finished (all
executions terminal) and ``settle_s`` elapsed, ``max_duration_s`` reached, or SIGINT/SIGTERM.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import random
import resource
import signal
import time
from collections.abc import Callable
from pathlib import Path
from typing import Final

import msgspec
import numpy as np
import uvloop

from simulator.core.errors import UsageError
from simulator.engine.eventlog import EventLog
from simulator.engine.mqtt.link import DeviceTransport, TransportFactory
from simulator.engine.mqtt.options import AWS_CONNECT_RATE, MqttOptions
from simulator.engine.mqtt.plane import EmbeddedPlane, Plane, job_summary
from simulator.engine.mqtt.world import MqttWorld
from simulator.engine.run import Progress, snapshot
from simulator.engine.scenario import Scenario
from simulator.report import RunResult, Sample, WriterSummary
from simulator.transport.broker import Bridge
from simulator.transport.mqtt import ConnectionPool, raise_open_file_limit

__all__ = ["MqttRun", "real_clock", "run_mqtt_scenario"]

_BATCH: Final = 4096
_CHECK_S: Final = 0.5  # how often the stop condition is looked at
_IDLE_S: Final = 0.25  # longest sleep of the loop (progress and signals stay prompt)
_REFRESH_S: Final = 1.0  # how often a remote plane's job status is fetched


def real_clock(scenario: Scenario) -> Scenario:
    """The scenario on the real clock (MQTT runs cannot simulate time: the broker is real)."""
    if scenario.run.clock == "real":
        return scenario
    run = msgspec.structs.replace(scenario.spec.run, clock="real")
    return Scenario(msgspec.structs.replace(scenario.spec, run=run), scenario.path)


def _plane(scenario: Scenario, options: MqttOptions) -> Plane:
    if options.kind == "embedded":
        bridge = Bridge(options.bridge_config(), rng=random.Random(scenario.run.seed))
        world = MqttWorld(scenario, bridge, rollout_per_minute=options.rollout_per_minute)
        return EmbeddedPlane(world)
    from simulator.engine.remote import RemotePlane  # noqa: PLC0415 - boto3 only when needed

    return RemotePlane(scenario, options)


class MqttRun:
    """One run of a scenario over MQTT; :attr:`plane` stays readable after :meth:`run`.

    Args:
        scenario: the validated scenario (run on the real clock whatever it says).
        options: broker, control plane, TLS, pacing, shard.
        transport: the device-side client's constructor (``ConnectionPool``; benchmarks swap
            in a baseline client with the same signature).
        progress: called a few times a second with a :class:`~simulator.engine.run.Progress`.
        event_log: where to write the gzip event log; none if ``None``.
    """

    def __init__(
        self,
        scenario: Scenario,
        options: MqttOptions,
        *,
        transport: TransportFactory = ConnectionPool,
        progress: Callable[[Progress], None] | None = None,
        event_log: Path | None = None,
    ) -> None:
        self.wall_start = time.perf_counter()
        self.notes: list[str] = []
        if scenario.run.clock == "simulated":
            self.notes.append(
                "MQTT runs use the real clock: the scenario's simulated clock (and run.start) "
                "was replaced by the wall clock"
            )
        self.scenario = scenario = real_clock(scenario)
        self.options = options
        self.plane = _plane(scenario, options)
        self._factory = transport
        self._progress = progress
        self._log_path = event_log
        self.log: EventLog | None = None
        self.pool: DeviceTransport | None = None
        self.timeline: list[Sample] = []
        self.stop_reason: str | None = None
        self._finished_at: float | None = None
        self._connected = False
        if options.rollout_per_minute is not None:
            self.notes.append(
                f"the embedded emulator released up to {options.rollout_per_minute:,} "
                "executions per minute per job (--rollout-rate; AWS IoT: about 1,000)"
            )
        if options.kind == "aws":
            self.notes.append(
                f"connects paced at {options.rate:g}/s (AWS IoT CONNECT quota: 100/s in "
                f"smaller regions, 500/s in large ones; default here {AWS_CONNECT_RATE:g}/s)"
            )

    def stop(self, reason: str = "interrupted") -> None:
        """Ask the run to end at the next turn of its loop."""
        if self.stop_reason is None:
            self.stop_reason = reason

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Bring the plane up, connect the devices, run to the end, report, disconnect."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # non-main thread
                loop.add_signal_handler(signum, self.stop)
        plane = self.plane
        names = [device.name for device in plane.devices]
        self.options.check_credentials(names)
        raise_open_file_limit()  # a descriptor per device (ConnectionPool checks it fits)
        refresher: asyncio.Task[None] | None = None
        try:
            await plane.open()
            if self._log_path is not None:
                self.log = EventLog(self._log_path, plane.start)
            plane.link.log = self.log
            link = plane.link
            self.pool = pool = self._factory(
                self.options.broker,
                names,
                on_message=link.deliver,
                subscriptions=link.subscriptions,
                on_online=link.online,
                on_offline=link.offline,
                options=self.options.pool_options(names),
            )
            link.transport = pool
            await pool.start()
            heap = plane.heap
            heap.at(plane.start, self._sample, self.scenario.run.sample_interval_s)
            heap.at(plane.start, self._check)
            refresher = loop.create_task(self._refresh())
            await self._drive()
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await plane.refresh()
            if self.log is not None:
                self.log.flush()
            return await self._result()
        finally:
            if refresher is not None:
                refresher.cancel()
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
            if self.pool is not None:
                await self.pool.close()
            await plane.close()
            if self.log is not None:
                self.log.close()

    async def _drive(self) -> None:
        heap = self.plane.heap
        last_progress = 0.0
        while self.stop_reason is None:
            if heap.run_due(_BATCH) == _BATCH:
                await asyncio.sleep(0)  # more is due: let the sockets in, then go on
            else:
                await heap.idle(_IDLE_S)
            wall = time.perf_counter()
            if self._progress is not None and wall - last_progress > 0.25:
                last_progress = wall
                self._progress(self._snapshot(done=False))

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(_REFRESH_S)
            await self.plane.refresh()

    # -- sampling and stopping ----------------------------------------------------------------

    def executions(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for job in self.plane.jobs().values():
            for status, count in job.counts.items():
                totals[status] = totals.get(status, 0) + count
        return totals

    def _online(self) -> int:
        return 0 if self.pool is None else self.pool.stats().online

    def _sample(self, interval: float, _: object = None) -> None:
        plane = self.plane
        heap, tracker, link = plane.heap, plane.tracker, plane.link
        self.timeline.append(
            Sample(
                t=heap.now - plane.start,
                executions=self.executions(),
                consistent=tracker.consistent,
                inconsistent=tracker.inconsistent,
                by_cause=dict(tracker.by_cause),
                devices_online=self._online(),
                messages=link.sent + link.received,
            )
        )
        if self.stop_reason is None:
            heap.at(heap.now + interval, self._sample, interval)

    def _check(self, _a: object = None, _b: object = None) -> None:
        plane, run = self.plane, self.scenario.run
        now = plane.heap.now
        if not self._connected:
            self._check_connecting()
        if now - plane.start >= run.max_duration_s:
            self.stop("max_duration_s reached")
        elif self.scenario.jobs and not plane.jobs_pending(now):
            jobs = plane.jobs()
            if jobs and all(job.settled for job in jobs.values()):
                if self._finished_at is None:
                    self._finished_at = now
                if now - self._finished_at >= run.settle_s:
                    self.stop("every job finished")
            else:
                self._finished_at = None
        if self.stop_reason is None:
            plane.heap.at(now + _CHECK_S, self._check)

    def _check_connecting(self) -> None:
        """Until a first device is online: give up once every device has failed to connect
        (a certificate or an ACL the broker refuses never fixes itself by retrying)."""
        if self.pool is None:
            return
        stats = self.pool.stats()
        if stats.connects:
            self._connected = True
        elif stats.failures >= max(1, stats.devices) and stats.last_error is not None:
            raise UsageError(
                f"no device could connect to {self.options.broker.uri}; last error: "
                f"{stats.last_error}"
            )

    def _snapshot(self, *, done: bool) -> Progress:
        plane = self.plane
        return snapshot(
            plane.heap,
            plane.start,
            plane.tracker,
            self.executions(),
            max_t=self.scenario.run.max_duration_s,
            wall_start=self.wall_start,
            done=done,
        )

    # -- the result ---------------------------------------------------------------------------

    def _window(self) -> dict[str, object]:
        """The rollout as the devices saw it: first notify-next to last terminal answer."""
        ledger = self.plane.link.ledger
        first, last = ledger.first_notify_at, ledger.last_terminal_at
        if first is None or last is None or last <= first:
            return {}
        messages = ledger.messages_at_last_terminal - ledger.messages_at_first_notify
        return {
            "rollout_wall_s": last - first,
            "rollout_messages": messages,
            "rollout_messages_per_s": messages / (last - first),
        }

    async def _result(self) -> RunResult:
        plane = self.plane
        await plane.audit()
        latencies, statuses = await plane.terminal_executions()
        jobs = plane.jobs()
        tracker, link, heap = plane.tracker, plane.link, plane.heap
        ledger = link.ledger
        stats = None if self.pool is None else self.pool.stats()
        extra: dict[str, object] = {
            "transport": "mqtt",
            "broker": self.options.broker.uri,
            "control_plane": self.options.control_plane,
            "shard": f"{self.options.shard.index}/{self.options.shard.count}",
            "events": heap.events,
            "event_log_lines": 0 if self.log is None else self.log.count,
            "messages_up": link.sent,
            "messages_down": link.received,
            "terminal_answers": ledger.terminal_answers,
            "session_wakeups": ledger.wakeups,
            "devices_repeating_an_execution": len(ledger.repeated_runs()),
            **self._window(),
            **plane.extra(),
        }
        if stats is not None:
            extra.update(
                connects=stats.connects,
                reconnects=stats.reconnects,
                connect_failures=stats.failures,
                connection_drops=stats.drops,
                subscribe_failures=stats.subscribe_failures,
            )
            if stats.last_error:
                extra["last_connect_error"] = stats.last_error
        return RunResult(
            scenario=str(self.scenario.path),
            devices=len(plane.devices),
            seed=self.scenario.run.seed,
            clock="real",
            started_at=dt.datetime.fromtimestamp(plane.start, dt.UTC).isoformat(timespec="seconds"),
            duration_s=heap.now - plane.start,
            wall_s=time.perf_counter() - self.wall_start,
            peak_rss_mb=resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
            interrupted=self.stop_reason == "interrupted",
            stop_reason=self.stop_reason or "",
            executions=self.executions(),
            latencies_s=np.asarray(latencies, dtype=np.float64),
            latency_status=tuple(statuses),
            shadow_checked=tracker.checked,
            shadow_consistent=tracker.consistent,
            shadow_inconsistent=tracker.inconsistent,
            shadow_by_cause=dict(tracker.by_cause),
            timeline=tuple(self.timeline),
            jobs=tuple(job_summary(job, plane.start) for job in jobs.values()),
            writers=tuple(
                WriterSummary(
                    name=w.name, writes=w.writes, conflicts=w.conflicts, skipped=w.skipped
                )
                for w in plane.writers
            ),
            notes=(*self.notes, *plane.notes, *plane.job_errors),
            extra=extra,
        )


def run_mqtt_scenario(
    scenario: Scenario,
    options: MqttOptions,
    *,
    progress: Callable[[Progress], None] | None = None,
    event_log: Path | None = None,
) -> RunResult:
    """Run ``scenario`` over MQTT to its end (see :class:`MqttRun`); returns its result."""
    runner = MqttRun(scenario, options, progress=progress, event_log=event_log)
    result: RunResult = uvloop.run(runner.run())
    if progress is not None:
        progress(runner._snapshot(done=True))
    return result
