"""The seam between the one run loop and the control plane it plays a scenario against.

:class:`Plane` is everything :class:`~simulator.engine.runner.Runner` needs: the run's event heap
(its clock), the devices of this process and their ``$package`` tracker, the jobs' status (to
sample and to know when the rollout is over), the terminal executions (the latencies) and a
final ``$package`` audit. Three planes implement it:

* :class:`~simulator.engine.planes.local.InProcessPlane`: the emulator and the devices in this
  process, on the in-process bus (simulated or real clock);
* :class:`~simulator.engine.planes.embedded.EmbeddedPlane`: the same emulator, on a real MQTT
  broker through its bridge, the devices on their own connections;
* :class:`~simulator.engine.planes.remote.RemotePlane`: an external ``fleetsim serve`` or AWS IoT
  over boto3, the devices on their own connections.

Job status is one typed record, :class:`JobInfo`, whichever plane reports it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from simulator.core.device import Device
from simulator.core.jobs import TERMINAL
from simulator.core.substitution import SubstitutionSnapshot
from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.eventlog import EventLog
from simulator.engine.heap import EventHeap
from simulator.engine.scenario import Scenario
from simulator.engine.versions import VersionSampler
from simulator.engine.writers import ManualWriter
from simulator.report import JobSummary, WriterSummary

__all__ = [
    "COUNT_KEYS",
    "TERMINAL_NAMES",
    "JobInfo",
    "Plane",
    "epoch",
    "execution_totals",
    "job_info",
    "job_summary",
    "writer_summaries",
]

#: Terminal execution statuses by name (as DescribeJob and ListJobExecutions show them).
TERMINAL_NAMES: Final = frozenset(status.value for status in TERMINAL)
#: ``jobProcessDetails`` counters -> execution status.
COUNT_KEYS: Final = {
    "numberOfQueuedThings": "QUEUED",
    "numberOfInProgressThings": "IN_PROGRESS",
    "numberOfSucceededThings": "SUCCEEDED",
    "numberOfFailedThings": "FAILED",
    "numberOfTimedOutThings": "TIMED_OUT",
    "numberOfRejectedThings": "REJECTED",
    "numberOfRemovedThings": "REMOVED",
    "numberOfCanceledThings": "CANCELED",
}


def epoch(value: object) -> float | None:
    """A timestamp as epoch seconds: the emulator's floats, or boto3's datetimes."""
    if isinstance(value, dt.datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


@dataclass(frozen=True, slots=True)
class JobInfo:
    """One job as DescribeJob shows it, with times as epoch seconds."""

    job_id: str
    status: str
    created_at: float
    completed_at: float | None
    counts: Mapping[str, int]
    targets: int
    destinations: tuple[str, ...]
    continuous: bool

    @property
    def settled(self) -> bool:
        """No execution left to run, and the job over (or CONTINUOUS, which never ends, once
        it has started: a SCHEDULED job has all its work ahead of it)."""
        active = self.counts.get("QUEUED", 0) + self.counts.get("IN_PROGRESS", 0)
        started = self.continuous and self.status != "SCHEDULED"
        return active == 0 and (self.status in ("COMPLETED", "CANCELED") or started)


def job_summary(job: JobInfo, start: float) -> JobSummary:
    """A job as the report shows it, times from ``start``."""
    return JobSummary(
        job_id=job.job_id,
        status=job.status,
        created_at_s=job.created_at - start,
        completed_at_s=None if job.completed_at is None else job.completed_at - start,
        targets=job.targets,
        executions=dict(job.counts),
        destination_package_versions=job.destinations,
    )


def execution_totals(jobs: Iterable[JobInfo]) -> dict[str, int]:
    """Executions per status over ``jobs``."""
    totals: dict[str, int] = {}
    for job in jobs:
        for status, count in job.counts.items():
            totals[status] = totals.get(status, 0) + count
    return totals


def writer_summaries(writers: Iterable[ManualWriter]) -> tuple[WriterSummary, ...]:
    """The scenario's manual writers as the report shows them."""
    return tuple(
        WriterSummary(name=w.name, writes=w.writes, conflicts=w.conflicts, skipped=w.skipped)
        for w in writers
    )


def job_info(job: Mapping[str, Any], created_fallback: float) -> JobInfo:
    """A DescribeJob ``job`` member (the emulator's or boto3's) as :class:`JobInfo`."""
    details = job.get("jobProcessDetails") or {}
    return JobInfo(
        job_id=str(job.get("jobId")),
        status=str(job.get("status")),
        created_at=epoch(job.get("createdAt")) or created_fallback,
        completed_at=epoch(job.get("completedAt")),
        counts={
            status: int(details[key]) for key, status in COUNT_KEYS.items() if details.get(key)
        },
        targets=len(job.get("targets") or ()),
        destinations=tuple(job.get("destinationPackageVersions") or ()),
        continuous=job.get("targetSelection") == "CONTINUOUS",
    )


class Plane(Protocol):
    """A control plane with the devices of this process, as the run loop drives it."""

    scenario: Scenario
    heap: EventHeap
    devices: Sequence[Device]
    tracker: ConsistencyTracker
    writers: Sequence[ManualWriter]
    job_errors: list[str]
    notes: list[str]
    #: Samples the deployed packages' version distribution (None: the plane does not).
    versions: VersionSampler | None

    @property
    def start(self) -> float:
        """Run-clock time the run (and its jobs' ``at_s``) counts from."""
        ...

    @property
    def transport(self) -> str:
        """``"in-process"`` or ``"mqtt"`` (the report's ``extra.transport``)."""
        ...

    async def open(self) -> None:
        """Bring the plane up (and set the run's start)."""
        ...

    async def connect(self, log: EventLog | None) -> None:
        """Bring the devices online (in process: schedule their connects); ``log`` records
        every message from here on."""
        ...

    async def close(self) -> None:
        """Disconnect the devices and bring the plane down (also after a failed open)."""
        ...

    async def refresh(self) -> None:
        """Bring :meth:`jobs` up to date (a no-op in process)."""
        ...

    def check(self) -> None:
        """Raise :class:`~simulator.core.errors.UsageError` when the run cannot go on (no
        device can connect); called with every stop check."""
        ...

    def jobs(self) -> dict[str, JobInfo]:
        """The jobs created so far, as last seen."""
        ...

    def jobs_pending(self, now: float) -> bool:
        """Whether some job of the scenario is still to be created."""
        ...

    def online(self) -> int:
        """Devices online now."""
        ...

    def messages(self) -> tuple[int, int]:
        """Messages sent by the devices so far, and delivered to them."""
        ...

    async def terminal_executions(self) -> tuple[list[float], list[str]]:
        """Per terminal execution of this process's devices: seconds from job creation to its
        last update, and its status."""
        ...

    async def audit(self) -> None:
        """Re-check every device's ``$package`` against what it runs (the final verdict)."""
        ...

    def substitution(self) -> SubstitutionSnapshot:
        """What job-document substitution did in this plane (zeros when it is remote)."""
        ...

    def extra(self) -> dict[str, Any]:
        """Plane-specific numbers for the report's ``extra``."""
        ...
