"""The emulator in this process: :class:`InProcessPlane`, and what the embedded plane shares.

Both planes read the emulator's services directly: the jobs' status from DescribeJob as the
control plane answers it, the terminal executions from the Jobs store (paging through
ListJobExecutionsForJob would cost a page per 250 executions), and ``$package`` from the
consistency tracker that follows every shadow change as it happens.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator.core.device import Device
from simulator.core.errors import AwsError
from simulator.core.jobs import TargetSelection
from simulator.core.substitution import SubstitutionSnapshot
from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.eventlog import EventLog
from simulator.engine.heap import EventHeap
from simulator.engine.planes.base import JobInfo
from simulator.engine.scenario import Scenario
from simulator.engine.versions import VersionSampler
from simulator.engine.world import World
from simulator.engine.writers import ManualWriter

__all__ = ["InProcessPlane", "WorldPlane"]


class WorldPlane:
    """What a plane built on a :class:`~simulator.engine.world.World` answers from it."""

    def __init__(self, world: World) -> None:
        self.world = world
        self.scenario: Scenario = world.scenario
        self.heap: EventHeap = world.heap
        self.devices: Sequence[Device] = world.devices
        self.tracker: ConsistencyTracker = world.tracker
        self.writers: Sequence[ManualWriter] = world.writers
        self.job_errors: list[str] = world.job_errors
        self.notes: list[str] = []
        self.versions: VersionSampler | None = world.versions

    @property
    def start(self) -> float:
        return self.world.start

    async def refresh(self) -> None:
        return None

    def jobs(self) -> dict[str, JobInfo]:
        out = {}
        jobs = self.world.emulator.jobs
        for job_id, created in self.world.job_created_at.items():
            try:
                state = jobs.job_state(job_id)
            except AwsError:  # deleted since
                continue
            out[job_id] = JobInfo(
                job_id=job_id,
                status=state.status.value,
                created_at=state.created_at or created,
                completed_at=state.completed_at,
                counts={status.value: n for status, n in state.counts.items() if n},
                targets=len(state.targets),
                destinations=state.destinations,
                continuous=state.target_selection is TargetSelection.CONTINUOUS,
            )
        return out

    def jobs_pending(self, now: float) -> bool:
        return any(self.world.start + job.at_s > now for job in self.world.scenario.jobs)

    async def terminal_executions(self) -> tuple[list[float], list[str]]:
        jobs = self.world.emulator.jobs
        latencies: list[float] = []
        statuses: list[str] = []
        for job_id, created in self.world.job_created_at.items():
            for status, updated_at in jobs.terminal_executions(job_id):
                latencies.append(updated_at - created)
                statuses.append(status._value_)
        return latencies, statuses

    async def audit(self) -> None:
        self.tracker.audit()

    def substitution(self) -> SubstitutionSnapshot:
        return self.world.emulator.jobs.substitution.snapshot()


class InProcessPlane(WorldPlane):
    """The emulator and the devices in this process, on the in-process bus.

    Args:
        scenario: the validated scenario; its ``run.clock`` picks the heap (simulated or real).
    """

    def __init__(self, scenario: Scenario) -> None:
        super().__init__(World(scenario))

    @property
    def transport(self) -> str:
        return "in-process"

    async def open(self) -> None:
        return None

    async def connect(self, log: EventLog | None) -> None:
        # Devices connect and jobs start on the heap, as the world scheduled them.
        world = self.world
        world.link.log = world.cloud.log = log
        if log is not None:
            world.record_history(log)

    async def close(self) -> None:
        return None

    def check(self) -> None:
        return None

    def online(self) -> int:
        return self.world.profile.online

    def messages(self) -> tuple[int, int]:
        return self.world.link.sent, self.world.cloud.delivered

    def extra(self) -> dict[str, Any]:
        # Executions that asked a device to install what it already ran (sweep.json's
        # redundant_executions): a device re-targeted after it updated.
        extra: dict[str, Any] = {"redundant_executions": self.world.profile.redundant_runs}
        faults = self.world.faults
        if faults is not None:
            # $package reports a dropped connection delivered late (the [[faults]] schedule).
            extra["redelivered_reports"] = faults.held
        return extra
