"""The report's input: what one ``fleetsim run`` measured, as plain immutable data.

The engine fills a :class:`RunResult` at the end of a run (or on interruption) and hands it to
:func:`simulator.report.write_report`. Nothing here computes statistics or touches files; the
only work done on construction is checking that the per-execution arrays line up and freezing
them, so a report can never be rendered from arrays that changed underneath it.

Times are seconds on the run's clock (simulated or real) unless a name says otherwise
(``wall_s`` is always real elapsed time). Execution statuses are AWS IoT Jobs'
``JobExecutionStatus`` strings; :data:`EXECUTION_STATUSES` gives the order reports show them in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Final, Literal

import numpy as np
import numpy.typing as npt

from simulator.core.substitution.stats import SubstitutionSnapshot

__all__ = [
    "EXECUTION_STATUSES",
    "TERMINAL_STATUSES",
    "JobSummary",
    "RunResult",
    "Sample",
    "VersionSample",
    "WriterSummary",
    "status_order",
]

#: Every AWS IoT Jobs execution status, in the order a rollout moves through them.
EXECUTION_STATUSES: Final[tuple[str, ...]] = (
    "QUEUED",
    "IN_PROGRESS",
    "SUCCEEDED",
    "FAILED",
    "TIMED_OUT",
    "REJECTED",
    "REMOVED",
    "CANCELED",
)
#: The statuses an execution never leaves; a completion latency ends in one of these.
TERMINAL_STATUSES: Final[frozenset[str]] = frozenset(EXECUTION_STATUSES[2:])


def status_order(statuses: Iterable[str]) -> list[str]:
    """Sort status names: known statuses in rollout order, then any others alphabetically.

    Args:
        statuses: An iterable of status names (duplicates are dropped).

    Returns:
        The distinct names, known ones first in :data:`EXECUTION_STATUSES` order.
    """
    names = set(statuses)
    known = [s for s in EXECUTION_STATUSES if s in names]
    return known + sorted(names - set(EXECUTION_STATUSES))


@dataclass(frozen=True, slots=True)
class Sample:
    """One point of the run's timeline.

    Attributes:
        t: Seconds since the run started, on the run's clock.
        executions: Count of job executions per status; only statuses present are listed.
        consistent: Devices whose ``$package`` shadow matched what they run, at ``t``.
        inconsistent: Devices whose ``$package`` shadow disagreed, at ``t``.
        by_cause: The inconsistent devices split by cause (cause name -> count).
        devices_online: Devices connected at ``t``.
        messages: Messages delivered since the run started (cumulative).
    """

    t: float
    executions: dict[str, int]
    consistent: int
    inconsistent: int
    by_cause: dict[str, int]
    devices_online: int
    messages: int


@dataclass(frozen=True, slots=True)
class VersionSample:
    """One package's version distribution at one time, as fleet indexing answered it.

    Attributes:
        t: Seconds since the run started, on the run's clock.
        package: The package (one the run's jobs deploy).
        things: Things the index held (GetBucketsAggregation's ``totalCount`` for ``*``).
        buckets: Reported version (as the index holds it: lower-cased) -> things reporting it,
            in the ``$package`` shadow; things without the package are in no bucket.
    """

    t: float
    package: str
    things: int
    buckets: dict[str, int]


@dataclass(frozen=True, slots=True)
class JobSummary:
    """One IoT job of the rollout, as it stood when the run ended.

    Attributes:
        job_id: The job's id.
        status: The job's status (``IN_PROGRESS``, ``COMPLETED``, ``CANCELED``, ...).
        created_at_s: When the job was created, seconds since run start on the run's clock.
        completed_at_s: When the job completed, or ``None`` if it had not.
        targets: Number of things the job targeted (after group expansion).
        executions: Count of the job's executions per status.
        destination_package_versions: The job's ``destinationPackageVersions`` ARNs.
    """

    job_id: str
    status: str
    created_at_s: float
    completed_at_s: float | None
    targets: int
    executions: dict[str, int]
    destination_package_versions: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class WriterSummary:
    """One writer of the ``$package`` shadow (a device agent, a job hook, an operator script).

    Attributes:
        name: The writer's name.
        writes: Shadow updates it attempted.
        conflicts: Updates refused with a version conflict (HTTP 409).
        skipped: Updates it decided not to send (e.g. nothing changed).
    """

    name: str
    writes: int
    conflicts: int
    skipped: int


def _frozen_array(values: object, dtype: type[np.generic]) -> npt.NDArray[np.generic]:
    array = np.array(values, dtype=dtype, copy=True).reshape(-1)
    array.flags.writeable = False
    return array


@dataclass(frozen=True, slots=True, eq=False)
class RunResult:
    """Everything one run measured; the single input of the JSON and HTML reports.

    ``latencies_s`` and ``latency_status`` are copied into read-only numpy arrays on
    construction (any sequence of numbers / strings is accepted at run time). Equality is
    identity: arrays have no single truth value to compare by.

    Attributes:
        scenario: The scenario's path or name.
        devices: Number of simulated devices.
        seed: The run's random seed.
        clock: ``"simulated"`` or ``"real"``.
        started_at: ISO 8601 timestamp of the run start.
        duration_s: Length of the run on the run's clock.
        wall_s: Real elapsed time of the run.
        peak_rss_mb: Peak resident memory of the process, in MiB.
        interrupted: Whether the run was stopped before its scenario finished.
        stop_reason: Why the run stopped (``"completed"``, ``"SIGINT"``, ``"deadline"``, ...).
        executions: Final count of job executions per status.
        latencies_s: Per terminal execution, job creation to terminal state (float64 seconds).
        latency_status: The terminal status of each entry of ``latencies_s`` (same length).
        shadow_checked: Devices whose ``$package`` shadow was checked at the end.
        shadow_consistent: Of those, shadows that matched what the device runs.
        shadow_inconsistent: Of those, shadows that disagreed.
        shadow_by_cause: The inconsistent shadows split by cause.
        timeline: Samples in time order.
        jobs: The rollout's jobs.
        writers: The ``$package`` shadow writers.
        notes: Warnings for the reader, e.g. AWS quota exceedances.
        extra: Engine-specific numbers, copied into the JSON under ``"extra"``.
        substitution: What job-document substitution did during the run (documents prepared
            and compiled, renders, URLs served and minted, seconds in each phase); zeros when
            the engine does not collect it.
        shadow_examples: Up to 10 inconsistent devices' names per cause (what ``fleetsim
            explain --device`` takes).
        versions: The version distribution of each deployed package over the run, in time
            order (empty when the engine does not sample it).

    Raises:
        ValueError: ``latencies_s`` and ``latency_status`` differ in length.
    """

    scenario: str
    devices: int
    seed: int
    clock: Literal["simulated", "real"]
    started_at: str
    duration_s: float
    wall_s: float
    peak_rss_mb: float
    interrupted: bool
    stop_reason: str
    executions: dict[str, int]
    latencies_s: npt.NDArray[np.float64]
    latency_status: npt.NDArray[np.str_] | tuple[str, ...]
    shadow_checked: int
    shadow_consistent: int
    shadow_inconsistent: int
    shadow_by_cause: dict[str, int]
    timeline: tuple[Sample, ...] = ()
    jobs: tuple[JobSummary, ...] = ()
    writers: tuple[WriterSummary, ...] = ()
    notes: tuple[str, ...] = ()
    extra: dict[str, object] = field(default_factory=dict)
    substitution: SubstitutionSnapshot = field(default_factory=SubstitutionSnapshot)
    shadow_examples: dict[str, list[str]] = field(default_factory=dict)
    versions: tuple[VersionSample, ...] = ()

    def __post_init__(self) -> None:
        latencies = _frozen_array(self.latencies_s, np.float64)
        statuses = _frozen_array(self.latency_status, np.str_)
        if latencies.shape != statuses.shape:
            raise ValueError(
                f"latencies_s has {latencies.size} entries but latency_status has {statuses.size}"
            )
        # Frozen dataclass: the normalised arrays replace the inputs exactly once, here.
        object.__setattr__(self, "latencies_s", latencies)
        object.__setattr__(self, "latency_status", statuses)
