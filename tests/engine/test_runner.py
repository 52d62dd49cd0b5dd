"""The one run loop, on a scripted plane and the injected simulated clock: when a run stops, what
it samples, and that nothing past a stop runs.

The plane here is a script of job statuses over run-clock time (the thing under test is the
:class:`~simulator.engine.runner.Runner`; the real planes are tested end to end in
``test_run.py``, ``tests/fleet_mqtt`` and ``tests/locust``).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.device import Device
from simulator.core.errors import UsageError
from simulator.core.substitution import SubstitutionSnapshot
from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.eventlog import EventLog
from simulator.engine.heap import EventHeap, WallClockHeap
from simulator.engine.planes.base import JobInfo, Plane
from simulator.engine.runner import Runner, SimulatedClock, WallClock, clock_for
from simulator.engine.scenario import Scenario
from simulator.engine.writers import ManualWriter
from tests.engine.support import edited, load

START = 1_000.0


class ScriptedPlane:
    """A plane whose one job is created at ``at_s`` and settles at ``settles_at_s``."""

    transport = "scripted"

    def __init__(
        self,
        scenario: Scenario,
        *,
        settles_at_s: float | None,
        fail_check_at_s: float | None = None,
    ) -> None:
        self.scenario = scenario
        self.heap = EventHeap(START)
        self.devices: Sequence[Device] = ()
        self.tracker = ConsistencyTracker([], frozenset(), lambda _thing, _shadow: None)
        self.writers: Sequence[ManualWriter] = ()
        self.job_errors: list[str] = []
        self.notes: list[str] = ["scripted"]
        self.versions = None  # no version timeline
        self.settles_at_s = settles_at_s
        self.fail_check_at_s = fail_check_at_s
        self.opened = self.connected = self.closed = self.audited = False
        self.ran_after: list[float] = []  # run-clock times of the "late" entries that ran

    @property
    def start(self) -> float:
        return START

    async def open(self) -> None:
        self.opened = True

    async def connect(self, log: EventLog | None) -> None:
        self.connected = True

    async def close(self) -> None:
        self.closed = True

    async def refresh(self) -> None:
        return None

    def check(self) -> None:
        at = self.fail_check_at_s
        if at is not None and self.heap.now - START >= at:
            raise UsageError("no device could connect")

    def _t(self) -> float:
        return self.heap.now - START

    def jobs(self) -> dict[str, JobInfo]:
        job = self.scenario.jobs[0]
        if self._t() < job.at_s:
            return {}
        settled = self.settles_at_s is not None and self._t() >= self.settles_at_s
        counts = {"SUCCEEDED": 3} if settled else {"IN_PROGRESS": 3}
        info = JobInfo(
            job_id=job.id,
            status="COMPLETED" if settled else "IN_PROGRESS",
            created_at=START + job.at_s,
            completed_at=START + self.settles_at_s if settled and self.settles_at_s else None,
            counts=counts,
            targets=1,
            destinations=(),
            continuous=False,
        )
        return {job.id: info}

    def jobs_pending(self, now: float) -> bool:
        return now - START < self.scenario.jobs[0].at_s

    def online(self) -> int:
        return 3

    def messages(self) -> tuple[int, int]:
        return 10, 20

    async def terminal_executions(self) -> tuple[list[float], list[str]]:
        return [1.0, 2.0, 3.0], ["SUCCEEDED"] * 3

    async def audit(self) -> None:
        self.audited = True

    def substitution(self) -> SubstitutionSnapshot:
        return SubstitutionSnapshot(renders=7)

    def extra(self) -> dict[str, Any]:
        return {"scripted": True}

    def keep_busy(self, until_s: float) -> None:
        """An entry every second of run-clock time until ``until_s`` (a device's timers)."""

        def tick(t: float, _: object) -> None:
            self.ran_after.append(t)
            if t + 1 <= until_s:
                self.heap.at(START + t + 1, tick, t + 1)

        self.heap.at(START, tick, 0.0)


def scenario(tmp_path: Path, *, settle_s: float = 0, max_duration_s: float = 3600) -> Scenario:
    return load(
        tmp_path,
        edited(
            ("settle_s = 0", f"settle_s = {settle_s}"),
            ("max_duration_s = 3600", f"max_duration_s = {max_duration_s}"),
        ),
    )


def test_the_plane_a_runner_needs_is_the_protocol() -> None:
    def accepts(plane: Plane) -> None: ...

    accepts(ScriptedPlane.__new__(ScriptedPlane))  # mypy checks the protocol here


@pytest.mark.asyncio
async def test_a_run_stops_settle_s_after_every_job_finished(tmp_path: Path) -> None:
    plane = ScriptedPlane(scenario(tmp_path, settle_s=12), settles_at_s=100)
    plane.keep_busy(until_s=3000)
    result = await Runner(plane, clock=SimulatedClock()).run()
    assert result.stop_reason == "every job finished"
    # Checks every sample interval (5 s): settled seen at 100, stop at the first check >= 112.
    assert result.duration_s == 115
    assert max(plane.ran_after) == 115  # nothing past the stop ran
    assert plane.opened and plane.connected and plane.audited and plane.closed
    assert result.executions == {"SUCCEEDED": 3}
    assert [job.status for job in result.jobs] == ["COMPLETED"]
    assert result.notes == ("scripted",)
    assert result.extra["scripted"] is True
    assert result.extra["messages_up"] == 10 and result.extra["messages_down"] == 20
    assert list(result.latencies_s) == [1.0, 2.0, 3.0]
    assert result.substitution.renders == 7


@pytest.mark.asyncio
async def test_a_run_that_never_settles_stops_at_max_duration(tmp_path: Path) -> None:
    plane = ScriptedPlane(scenario(tmp_path, max_duration_s=60), settles_at_s=None)
    plane.keep_busy(until_s=3000)
    result = await Runner(plane).run()
    assert result.stop_reason == "max_duration_s reached"
    assert result.duration_s == 60
    assert max(plane.ran_after) == 60


@pytest.mark.asyncio
async def test_a_failing_check_ends_the_run_with_its_error_and_closes_the_plane(
    tmp_path: Path,
) -> None:
    plane = ScriptedPlane(scenario(tmp_path), settles_at_s=None, fail_check_at_s=20)
    plane.keep_busy(until_s=3000)
    with pytest.raises(UsageError, match="no device could connect"):
        await Runner(plane).run()
    assert plane.closed


@pytest.mark.asyncio
async def test_stop_from_inside_the_run_is_an_interruption(tmp_path: Path) -> None:
    plane = ScriptedPlane(scenario(tmp_path), settles_at_s=None)
    plane.keep_busy(until_s=3000)
    runner = Runner(plane)
    plane.heap.at(START + 33, lambda _a, _b: runner.stop())
    result = await runner.run()
    assert result.interrupted and result.stop_reason == "interrupted"
    assert result.duration_s == 35  # the stop is seen at the next check


@pytest.mark.asyncio
@settings(max_examples=15, deadline=None)
@given(
    interval=st.sampled_from([1, 2, 5, 7, 30]),
    settles=st.integers(min_value=10, max_value=400),
    settle_s=st.integers(min_value=0, max_value=60),
)
async def test_samples_and_stop_follow_the_sample_interval(
    tmp_path_factory: pytest.TempPathFactory, interval: int, settles: int, settle_s: int
) -> None:
    directory = tmp_path_factory.mktemp("scenario")
    text = edited(
        ("sample_interval_s = 5", f"sample_interval_s = {interval}"),
        ("settle_s = 0", f"settle_s = {settle_s}"),
    )
    plane = ScriptedPlane(load(directory, text), settles_at_s=settles)
    plane.keep_busy(until_s=5000)
    progress: list[float] = []
    result = await Runner(plane, progress=lambda p: progress.append(p.t)).run()
    times = [sample.t for sample in result.timeline]
    assert times == [i * interval for i in range(len(times))]
    first_settled = -(-settles // interval) * interval  # the first check at or after it
    stop = first_settled + -(-settle_s // interval) * interval
    assert result.duration_s == stop
    assert max(plane.ran_after) == stop
    assert progress[-1] == stop  # the final snapshot (done=True) is sent


def test_the_clock_follows_the_heap() -> None:
    assert isinstance(clock_for(EventHeap(0.0)), SimulatedClock)
    assert isinstance(clock_for(WallClockHeap(0.0)), WallClock)
