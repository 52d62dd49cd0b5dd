"""Play a scenario over a :class:`~simulator.engine.planes.base.Plane`: drive the heap, sample,
stop, report. One run loop for every plane (in-process, embedded on a broker, remote).

The clock is injected. :class:`SimulatedClock` runs the heap's entries as fast as the CPU
allows (an hour of rollout in seconds), up to the next stop check only: a check is where the
run may stop, and nothing past a stop may run (it would change the report), which keeps a
seeded run reproducible. :class:`WallClock` runs what is due on the wall clock and otherwise
sleeps until the next entry is due (or an earlier one is scheduled by a message). Either way the
loop runs on asyncio (uvloop) and yields between batches, so sockets, progress updates and
signals are handled promptly; an interrupted run still returns the result of what ran.

A run stops when every job of the scenario was created and has finished (no execution queued
or in progress, the job completed, canceled, or CONTINUOUS) and ``settle_s`` has passed since,
when ``max_duration_s`` is reached, on SIGINT/SIGTERM, or (simulated) when nothing is left.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import resource
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final, Protocol

import numpy as np

from simulator.engine.eventlog import EventLog
from simulator.engine.heap import EventHeap, WallClockHeap
from simulator.engine.planes.base import Plane, execution_totals, job_summary, writer_summaries
from simulator.engine.scenario import Scenario
from simulator.report import RunResult, Sample

__all__ = ["Clock", "Progress", "Runner", "SimulatedClock", "WallClock", "clock_for"]

_BATCH: Final = 4096
_WALL_CHECK_S: Final = 0.5  # how often a wall-clock run looks at its stop condition
_IDLE_S: Final = 0.25  # longest sleep of a wall-clock loop (progress and signals stay prompt)
_REFRESH_S: Final = 1.0  # how often a plane's job status is brought up to date
_PROGRESS_S: Final = 0.25


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


class Clock(Protocol):
    """How a run advances its heap."""

    def check_interval(self, sample_interval: float) -> float:
        """Run-clock seconds between two stop checks."""
        ...

    async def step(self, heap: EventHeap, horizon: float) -> int:
        """Run entries that are due, none past ``horizon``; returns how many ran (0: nothing
        left before ``horizon``, the run is over)."""
        ...


class SimulatedClock:
    """Jump from entry to entry: time is what the heap says."""

    def check_interval(self, sample_interval: float) -> float:
        return sample_interval

    async def step(self, heap: EventHeap, horizon: float) -> int:
        ran = heap.run(horizon, _BATCH)
        await asyncio.sleep(0)
        return ran


class WallClock:
    """Follow the wall clock: run what is due, then sleep until the next entry is."""

    def check_interval(self, sample_interval: float) -> float:
        return min(_WALL_CHECK_S, sample_interval)

    async def step(self, heap: EventHeap, horizon: float) -> int:
        assert isinstance(heap, WallClockHeap), "the wall clock drives a WallClockHeap"
        if heap.run_due(_BATCH) == _BATCH:
            await asyncio.sleep(0)  # more is due: let the sockets in, then go on
        else:
            await heap.idle(_IDLE_S)
        return 1  # the wall clock always goes on


def clock_for(heap: EventHeap) -> Clock:
    """The clock that drives ``heap``."""
    return WallClock() if isinstance(heap, WallClockHeap) else SimulatedClock()


class Runner:
    """One run of a scenario over a plane; :attr:`plane` stays readable after :meth:`run`.

    Args:
        plane: the control plane and this process's devices (not yet open).
        clock: how the heap advances (default: the one :func:`clock_for` the plane's heap).
        progress: called a few times a second with a :class:`Progress` snapshot, and once at
            the end with ``done=True``.
        event_log: where to write the gzip event log (see :mod:`.eventlog`); none if ``None``.
        wall_start: ``time.perf_counter()`` when the run began (default: now), so that
            building the plane counts in ``wall_s``.
    """

    def __init__(
        self,
        plane: Plane,
        *,
        clock: Clock | None = None,
        progress: Callable[[Progress], None] | None = None,
        event_log: Path | None = None,
        wall_start: float | None = None,
    ) -> None:
        self.wall_start = time.perf_counter() if wall_start is None else wall_start
        self.plane = plane
        self.scenario: Scenario = plane.scenario
        self.clock = clock_for(plane.heap) if clock is None else clock
        self.progress = progress
        self._log_path = event_log
        self.log: EventLog | None = None
        self.timeline: list[Sample] = []
        self.stop_reason: str | None = None
        self._finished_at: float | None = None
        self._interval = self.clock.check_interval(self.scenario.run.sample_interval_s)
        self._horizon = plane.start

    def stop(self, reason: str = "interrupted") -> None:
        """Ask the run to end at the next turn of its loop."""
        if self.stop_reason is None:
            self.stop_reason = reason

    # -- the loop ---------------------------------------------------------------------------

    async def run(self) -> RunResult:
        """Open the plane, run to the end, report, close."""
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGINT, signal.SIGTERM):
            with contextlib.suppress(NotImplementedError, RuntimeError):  # non-main thread
                loop.add_signal_handler(signum, self.stop)
        plane = self.plane
        refresher: asyncio.Task[None] | None = None
        try:
            await plane.open()
            if self._log_path is not None:
                self.log = EventLog(self._log_path, plane.start)
            await plane.connect(self.log)
            heap = plane.heap
            heap.at(plane.start, self._sample, self.scenario.run.sample_interval_s)
            self._horizon = plane.start
            heap.at(plane.start, self._check)
            refresher = loop.create_task(self._refresh())
            await self._drive()
            refresher.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await refresher
            await plane.refresh()
            if self.log is not None:
                self.log.flush()
            result = await self._result()
        finally:
            if refresher is not None:
                refresher.cancel()
            for signum in (signal.SIGINT, signal.SIGTERM):
                with contextlib.suppress(NotImplementedError, RuntimeError):
                    loop.remove_signal_handler(signum)
            await plane.close()
            if self.log is not None:
                self.log.close()
        if self.progress is not None:
            self.progress(self.snapshot(done=True))
        return result

    async def _drive(self) -> None:
        heap, clock = self.plane.heap, self.clock
        last_progress = 0.0
        while self.stop_reason is None:
            if await clock.step(heap, self._horizon) == 0:
                self.stop("nothing left to simulate")
            wall = time.perf_counter()
            if self.progress is not None and wall - last_progress > _PROGRESS_S:
                last_progress = wall
                self.progress(self.snapshot(done=False))

    async def _refresh(self) -> None:
        while True:
            await asyncio.sleep(_REFRESH_S)
            await self.plane.refresh()

    # -- sampling and stopping ----------------------------------------------------------------

    def executions(self) -> dict[str, int]:
        """Count of executions per status over every created job."""
        return execution_totals(self.plane.jobs().values())

    def _sample(self, interval: float, _: object = None) -> None:
        plane = self.plane
        heap, tracker = plane.heap, plane.tracker
        self.timeline.append(
            Sample(
                t=heap.now - plane.start,
                executions=self.executions(),
                consistent=tracker.consistent,
                inconsistent=tracker.inconsistent,
                by_cause=dict(tracker.by_cause),
                devices_online=plane.online(),
                messages=sum(plane.messages()),
            )
        )
        if plane.versions is not None:
            plane.versions.tick(heap.now - plane.start)
        if self.stop_reason is None:
            heap.at(heap.now + interval, self._sample, interval)

    def _check(self, _a: object = None, _b: object = None) -> None:
        plane, run = self.plane, self.scenario.run
        now = plane.heap.now
        plane.check()
        if now - plane.start >= run.max_duration_s:
            self.stop("max_duration_s reached")
        elif self.scenario.jobs and not plane.jobs_pending(now):
            if all(job.settled for job in plane.jobs().values()):
                if self._finished_at is None:
                    self._finished_at = now
                if now - self._finished_at >= run.settle_s:
                    self.stop("every job finished")
            else:
                self._finished_at = None
        if self.stop_reason is None:
            # Nothing past the next check may run before it (a simulated run must not run
            # what a stop would have cut off).
            self._horizon = now + self._interval
            plane.heap.at(self._horizon, self._check)

    def snapshot(self, *, done: bool) -> Progress:
        """The run's :class:`Progress` now."""
        plane, tracker = self.plane, self.plane.tracker
        return Progress(
            t=plane.heap.now - plane.start,
            max_t=self.scenario.run.max_duration_s,
            wall_s=time.perf_counter() - self.wall_start,
            events=plane.heap.events,
            executions=self.executions(),
            consistent=tracker.consistent,
            inconsistent=tracker.inconsistent,
            by_cause=dict(tracker.by_cause),
            done=done,
        )

    # -- the result ---------------------------------------------------------------------------

    async def _result(self) -> RunResult:
        plane = self.plane
        await plane.audit()
        latencies, statuses = await plane.terminal_executions()
        tracker, heap = plane.tracker, plane.heap
        up, down = plane.messages()
        if plane.versions is not None:
            plane.versions.sample(heap.now - plane.start)  # the last point: the final one
        scenario = self.scenario
        return RunResult(
            scenario=str(scenario.path),
            devices=len(plane.devices),
            seed=scenario.run.seed,
            clock=scenario.run.clock,
            # The run clock's start: the scenario's for a simulated run (so reports of one seed
            # are identical), the wall clock's for a real one.
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
            shadow_examples=tracker.examples(),
            timeline=tuple(self.timeline),
            versions=() if plane.versions is None else tuple(plane.versions.timeline),
            jobs=tuple(job_summary(job, plane.start) for job in plane.jobs().values()),
            writers=writer_summaries(plane.writers),
            notes=(*plane.notes, *plane.job_errors),
            substitution=plane.substitution(),
            extra={
                "transport": plane.transport,
                "events": heap.events,
                "event_log_lines": 0 if self.log is None else self.log.count,
                "messages_up": up,
                "messages_down": down,
                **plane.extra(),
            },
        )
