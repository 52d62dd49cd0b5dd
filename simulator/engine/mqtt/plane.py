"""What an MQTT run needs of its control plane, embedded in the process or reached over HTTP.

The run loop (:mod:`simulator.engine.mqtt.runner`) drives devices the same way whichever plane
serves them; it asks the plane to come up and go down, for the jobs' status (to sample and to
know when the rollout is over), for the terminal executions (the latencies) and for a final
``$package`` audit. :class:`EmbeddedPlane` answers from the in-process services of an
:class:`~simulator.engine.mqtt.world.MqttWorld`; :class:`simulator.engine.remote.RemotePlane`
from an external ``fleetsim serve`` or AWS IoT through boto3.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Protocol

from simulator.core.device import Device
from simulator.core.errors import AwsError, UsageError
from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.mqtt.clock import WallClockHeap
from simulator.engine.mqtt.link import MqttDeviceLink
from simulator.engine.mqtt.world import MqttWorld
from simulator.engine.writers import ManualWriter
from simulator.report import JobSummary
from simulator.transport.broker import Bridge, BridgeStats

__all__ = [
    "COUNT_KEYS",
    "TERMINAL",
    "EmbeddedPlane",
    "JobInfo",
    "Plane",
    "epoch",
    "job_info",
    "job_summary",
]

TERMINAL: Final = frozenset({"SUCCEEDED", "FAILED", "TIMED_OUT", "REJECTED", "REMOVED", "CANCELED"})
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
        """No execution left to run, and the job over (or CONTINUOUS, which never ends)."""
        active = self.counts.get("QUEUED", 0) + self.counts.get("IN_PROGRESS", 0)
        return active == 0 and (self.status in ("COMPLETED", "CANCELED") or self.continuous)


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
    """A control plane as the MQTT run loop uses it, with the devices of this process."""

    heap: WallClockHeap
    devices: Sequence[Device]
    link: MqttDeviceLink
    tracker: ConsistencyTracker
    writers: Sequence[ManualWriter]
    job_errors: list[str]
    notes: list[str]

    @property
    def start(self) -> float:
        """Wall time the run (and its jobs' ``at_s``) counts from."""
        ...

    async def open(self) -> None:
        """Bring the plane up (and set the run's start); devices connect after this."""
        ...

    async def close(self) -> None: ...

    async def refresh(self) -> None:
        """Bring :meth:`jobs` up to date (a no-op in process)."""
        ...

    def jobs(self) -> dict[str, JobInfo]:
        """The jobs created so far, as last seen."""
        ...

    def jobs_pending(self, now: float) -> bool:
        """Whether some job of the scenario is still to be created."""
        ...

    async def terminal_executions(self) -> tuple[list[float], list[str]]:
        """Per terminal execution of this process's devices: seconds from job creation to its
        last update, and its status."""
        ...

    async def audit(self) -> None:
        """Re-check every device's ``$package`` against what it runs (the final verdict)."""
        ...

    def extra(self) -> dict[str, Any]:
        """Plane-specific numbers for the report's ``extra``."""
        ...


class EmbeddedPlane:
    """The emulator in this process, on the broker through its bridge."""

    def __init__(self, world: MqttWorld, *, open_timeout_s: float = 30.0) -> None:
        self.world = world
        self.open_timeout_s = open_timeout_s
        self.heap = world.wall_heap
        self.devices: Sequence[Device] = world.devices
        self.link = world.mqtt_link
        self.tracker = world.tracker
        self.writers: Sequence[ManualWriter] = world.writers
        self.job_errors = world.job_errors
        self.notes: list[str] = []
        self._bridge: Bridge = world.bridge

    @property
    def start(self) -> float:
        return self.world.start

    async def open(self) -> None:
        config = self._bridge.config
        try:
            async with asyncio.timeout(self.open_timeout_s):
                await self._bridge.start(self.world)
        except TimeoutError:
            raise UsageError(
                f"the emulator could not connect to the broker {config.broker.uri} within "
                f"{self.open_timeout_s:g} s"
            ) from None

    async def close(self) -> None:
        await self._bridge.close()

    async def refresh(self) -> None:
        return None

    def jobs(self) -> dict[str, JobInfo]:
        out = {}
        for job_id, created in self.world.job_created_at.items():
            try:
                job = self.world.emulator.jobs.describe_job(job_id=job_id)["job"]
            except AwsError:
                continue
            out[job_id] = job_info(job, created)
        return out

    def jobs_pending(self, now: float) -> bool:
        return any(self.world.start + job.at_s > now for job in self.world.scenario.jobs)

    async def terminal_executions(self) -> tuple[list[float], list[str]]:
        jobs = self.world.emulator.jobs
        latencies: list[float] = []
        statuses: list[str] = []
        for job_id, created in self.world.job_created_at.items():
            token: str | None = None
            while True:
                page = jobs.list_job_executions_for_job(
                    job_id=job_id, max_results=250, next_token=token
                )
                for item in page.get("executionSummaries", []):
                    summary = item["jobExecutionSummary"]
                    if summary["status"] in TERMINAL:
                        latencies.append(float(summary["lastUpdatedAt"]) - created)
                        statuses.append(summary["status"])
                token = page.get("nextToken")
                if not token:
                    break
        return latencies, statuses

    async def audit(self) -> None:
        self.tracker.audit()

    def extra(self) -> dict[str, Any]:
        stats: BridgeStats = self._bridge.stats
        return {
            "bridge_requests": stats.requests,
            "bridge_replies": stats.replies,
            "bridge_broadcasts": stats.broadcasts,
            "bridge_dropped": stats.dropped,
            "bridge_handler_errors": stats.handler_errors,
            "bridge_reconnects": stats.reconnects,
        }
