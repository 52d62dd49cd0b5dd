"""Run a scenario: drive the event heap on the simulated or the real clock, sample, stop, report.

The simulated clock runs events as fast as the CPU allows (an hour of rollout in seconds) and is
reproducible for a seed. The real clock sleeps until each event is due. Either way the loop runs
on asyncio (uvloop where available) and yields between batches of events, so progress updates and
Ctrl-C are handled promptly; an interrupted run still returns the result of what ran.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import gc
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

import numpy as np
import uvloop

from simulator.core.errors import AwsError
from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.eventlog import EventLog
from simulator.engine.world import World
from simulator.engine.heap import EventHeap
from simulator.engine.scenario import Scenario
from simulator.report import JobSummary, RunResult, Sample, WriterSummary

__all__ = ["Progress", "run_scenario", "snapshot"]


_BATCH: Final = 4096
_TERMINAL: Final = frozenset(
    {"SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"}
)
_COUNT_KEYS: Final = {
    "numberOfQueuedThings": "QUEUED",
    "numberOfInProgressThings": "IN_PROGRESS",
    "numberOfSucceededThings": "SUCCEEDED",
    "numberOfFailedThings": "FAILED",
    "numberOfTimedOutThings": "TIMED_OUT",
    "numberOfRejectedThings": "REJECTED",
    "numberOfRemovedThings": "REMOVED",
    "numberOfCanceledThings": "CANCELED",
}


@dataclass(frozen=True, slots=True)
class Progress:
    """What the live display shows, sent a few times a second."""

    t: float
    max_t: float
    wall_s: float
    events: int
    executions: dict[str, int]
    consistent: int
    inconsistent: int
    by_cause: dict[str, int]
    done: bool


def snapshot(
    heap: EventHeap,
    start: float,
    tracker: ConsistencyTracker,
    executions: dict[str, int],
    *,
    max_t: float,
    wall_start: float,
    done: bool,
) -> Progress:
    """A :class:`Progress` of a run (in-process or over MQTT) from its heap and tracker."""
    return Progress(
        t=heap.now - start,
        max_t=max_t,
        wall_s=time.perf_counter() - wall_start,
        events=heap.events,
        executions=executions,
        consistent=tracker.consistent,
        inconsistent=tracker.inconsistent,
        by_cause=dict(tracker.by_cause),
        done=done,
    )


class _Runner:
    def __init__(
        self,
        scenario: Scenario,
        progress: Callable[[Progress], None] | None,
        event_log: Path | None,
    ) -> None:
        self.wall_start = time.perf_counter()
        self.scenario = scenario
        self.world = World(scenario)
        self.log = None if event_log is None else EventLog(event_log, self.world.start)
        self.world.link.log = self.world.cloud.log = self.log
        self.progress = progress
        self.timeline: list[Sample] = []
        self.stop_reason: str | None = None
        self.finished_at: float | None = None
        world = self.world
        interval = scenario.run.sample_interval_s
        # The loop runs events up to the next sample only: a sample is where the run may stop,
        # and nothing past the stop may run (it would change the report).
        self.horizon = world.start
        world.heap.at(world.start, self._sample, interval)

    # -- sampling and stopping --------------------------------------------------------------

    def executions(self) -> dict[str, int]:
        """Count of executions per status over every created job."""
        totals: dict[str, int] = {}
        for job_id in self.world.job_created_at:
            details = self._job(job_id).get("jobProcessDetails", {})
            assert isinstance(details, dict)
            for key, status in _COUNT_KEYS.items():
                count = int(details.get(key, 0))
                if count:
                    totals[status] = totals.get(status, 0) + count
        return totals

    def _job(self, job_id: str) -> dict[str, object]:
        try:
            job: dict[str, object] = self.world.emulator.jobs.describe_job(job_id=job_id)["job"]
        except AwsError:
            return {}
        return job

    def _sample(self, interval: float, _: object = None) -> None:
        world = self.world
        now = world.heap.now
        tracker = world.tracker
        executions = self.executions()
        self.timeline.append(
            Sample(
                t=now - world.start,
                executions=executions,
                consistent=tracker.consistent,
                inconsistent=tracker.inconsistent,
                by_cause=dict(tracker.by_cause),
                devices_online=world.profile.online,
                messages=world.link.sent + world.cloud.delivered,
            )
        )
        self._check_stop(now, executions)
        if self.stop_reason is None:
            self.horizon = now + interval
            world.heap.at(self.horizon, self._sample, interval)

    def _check_stop(self, now: float, executions: dict[str, int]) -> None:
        world, run = self.world, self.scenario.run
        elapsed = now - world.start
        if elapsed >= run.max_duration_s:
            self.stop_reason = "max_duration_s reached"
            return
        pending_jobs = any(world.start + j.at_s > now for j in self.scenario.jobs)
        if pending_jobs or not self.scenario.jobs:
            return
        active = executions.get("QUEUED", 0) + executions.get("IN_PROGRESS", 0)
        statuses = [str(self._job(job_id).get("status")) for job_id in world.job_created_at]
        settled = active == 0 and all(
            s in ("COMPLETED", "CANCELED") or self._continuous(job_id)
            for s, job_id in zip(statuses, world.job_created_at, strict=True)
        )
        if not settled:
            self.finished_at = None
            return
        if self.finished_at is None:
            self.finished_at = now
        if now - self.finished_at >= run.settle_s:
            self.stop_reason = "every job finished"

    def _continuous(self, job_id: str) -> bool:
        return self._job(job_id).get("targetSelection") == "CONTINUOUS"

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> RunResult:
        loop = asyncio.get_running_loop()
        with contextlib.suppress(NotImplementedError, RuntimeError):  # non-main thread
            loop.add_signal_handler(signal.SIGINT, self._interrupt)
        heap = self.world.heap
        real = self.scenario.run.clock == "real"
        last_progress = 0.0
        try:
            while self.stop_reason is None:
                if real:
                    due = heap.next_time()
                    if due is not None and due > time.time():
                        await asyncio.sleep(min(due - time.time(), 0.2))
                    heap.run(min(time.time(), self.horizon), _BATCH)
                elif heap.run(self.horizon, _BATCH) == 0:
                    self.stop_reason = "nothing left to simulate"
                await asyncio.sleep(0)
                wall = time.perf_counter()
                if self.progress is not None and wall - last_progress > 0.25:
                    last_progress = wall
                    self.progress(self._progress(done=False))
        finally:
            with contextlib.suppress(NotImplementedError, RuntimeError):
                loop.remove_signal_handler(signal.SIGINT)
            if self.log is not None:
                self.log.close()
        result = self.result()
        if self.progress is not None:
            self.progress(self._progress(done=True))
        return result

    def _interrupt(self) -> None:
        self.stop_reason = "interrupted"

    def _progress(self, *, done: bool) -> Progress:
        world = self.world
        return snapshot(
            world.heap,
            world.start,
            world.tracker,
            self.executions(),
            max_t=self.scenario.run.max_duration_s,
            wall_start=self.wall_start,
            done=done,
        )

    # -- the result -------------------------------------------------------------------------

    def _latencies(self) -> tuple[list[float], list[str]]:
        # The Jobs store read directly, in ListJobExecutionsForJob's order: paging through that
        # API rebuilds the whole execution list for every page of 250 (O(n^2): 7.7 s at 100k).
        jobs = self.world.emulator.jobs.engine.jobs
        latencies: list[float] = []
        statuses: list[str] = []
        for job_id, created in self.world.job_created_at.items():
            job = jobs.get(job_id)
            if job is None:
                continue
            for history in job.executions.values():
                for ex in history:
                    status = ex.status._value_
                    if status in _TERMINAL:
                        latencies.append(ex.updated_at - created)
                        statuses.append(status)
        return latencies, statuses

    def result(self) -> RunResult:
        world = self.world
        world.tracker.audit()
        latencies, statuses = self._latencies()
        jobs = []
        for job_id, created in world.job_created_at.items():
            job = self._job(job_id)
            details = job.get("jobProcessDetails", {})
            assert isinstance(details, dict)
            completed = job.get("completedAt")
            jobs.append(
                JobSummary(
                    job_id=job_id,
                    status=str(job.get("status")),
                    created_at_s=created - world.start,
                    completed_at_s=None
                    if completed is None
                    else float(str(completed)) - world.start,
                    targets=len(job.get("targets", [])),  # type: ignore[arg-type]
                    executions={
                        status: int(details.get(key, 0))
                        for key, status in _COUNT_KEYS.items()
                        if details.get(key)
                    },
                    destination_package_versions=tuple(
                        job.get("destinationPackageVersions", [])  # type: ignore[arg-type]
                    ),
                )
            )
        tracker = world.tracker
        wall = time.perf_counter() - self.wall_start
        return RunResult(
            scenario=str(self.scenario.path),
            devices=len(world.devices),
            seed=self.scenario.run.seed,
            clock=self.scenario.run.clock,
            # The run clock's start: the scenario's for a simulated run (so reports of one seed
            # are identical), the wall clock's for a real one.
            started_at=dt.datetime.fromtimestamp(world.start, dt.UTC).isoformat(timespec="seconds"),
            duration_s=world.heap.now - world.start,
            wall_s=wall,
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
            jobs=tuple(jobs),
            writers=tuple(
                WriterSummary(
                    name=w.name, writes=w.writes, conflicts=w.conflicts, skipped=w.skipped
                )
                for w in world.writers
            ),
            notes=tuple(world.job_errors),
            extra={
                "events": world.heap.events,
                "event_log_lines": 0 if self.log is None else self.log.count,
                "messages_up": world.link.sent,
                "messages_down": world.cloud.delivered,
            },
        )


def run_scenario(
    scenario: Scenario,
    *,
    progress: Callable[[Progress], None] | None = None,
    event_log: Path | None = None,
) -> RunResult:
    """Build and run a scenario to its end; returns the result (also when interrupted).

    Args:
        scenario: the validated scenario.
        progress: called a few times a second with a :class:`Progress` snapshot.
        event_log: where to write the gzip event log (see :mod:`.eventlog`); none if ``None``.
    """
    # A run allocates millions of short-lived objects and hardly any cycles; full collections
    # over 100k devices' state would cost more than the simulation itself. So the collector is
    # off while the world is built and run, and what setup built is frozen out of its way.
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        runner = _Runner(scenario, progress, event_log)
        gc.freeze()
        return uvloop.run(runner.run())
    finally:
        gc.unfreeze()
        if was_enabled:
            gc.enable()
