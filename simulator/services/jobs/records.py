"""The mutable records the Jobs store keeps: jobs, executions and templates.

Records are slotted and mutated in place (no copies on the hot path). Only the Jobs store and its
collaborators change them; the API layer (:mod:`simulator.api.wire`) reads them to build the
wire shapes, and nothing outside this package writes them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Final

from simulator.core.jobs import (
    AbortConfig,
    ExecutionStatus,
    JobStatus,
    MaintenanceWindow,
    PresignedUrlConfig,
    RetryConfig,
    RolloutConfig,
    SchedulingConfig,
    TargetSelection,
    TimeoutConfig,
)
from simulator.core.paging import OrderLog
from simulator.core.substitution import JobDocument
from simulator.services.runtime import TimerHandle

__all__ = ["ExecutionRecord", "JobRecord", "TemplateRecord"]

#: Sort rank in a thing's pending list: IN_PROGRESS first, then QUEUED [AD:jobs-mqtt-api].
RANK_IN_PROGRESS = 0
RANK_QUEUED = 1
_QUEUED: Final = ExecutionStatus.QUEUED  # a global: enum member lookups are slow on 3.11
_IN_PROGRESS: Final = ExecutionStatus.IN_PROGRESS


@dataclass(slots=True, eq=False)
class ExecutionRecord:
    """One job execution (one per job, thing and execution number).

    A million devices hold a million of these, so what can be derived is (:attr:`key`,
    :attr:`deadline`) and what many share is shared (:attr:`details`).
    """

    job: JobRecord
    thing: str
    number: int
    queued_at: float
    seq: int
    retry_attempt: int = 0
    status: ExecutionStatus = ExecutionStatus.QUEUED
    #: ``statusDetails``: shared between executions, never changed in place (replaced).
    details: Mapping[str, str] | None = None
    started_at: float | None = None
    updated_at: float = 0.0
    version: int = 1
    force_canceled: bool = False
    #: The job's ``inProgressTimeoutInMinutes`` when this execution started (fixed then: an
    #: UpdateJob changes only the executions that start later).
    timeout_minutes: int | None = None
    #: Step deadline, epoch seconds.
    step_deadline: float | None = None
    timer: TimerHandle | None = None

    @property
    def key(self) -> tuple[int, float, int]:
        """Position in the thing's pending list: (rank, queuedAt, creation sequence)."""
        rank = RANK_QUEUED if self.started_at is None else RANK_IN_PROGRESS
        return (rank, self.queued_at, self.seq)

    @property
    def deadline(self) -> float | None:
        """The in-progress deadline (epoch seconds), from the start and the timeout then."""
        minutes, started = self.timeout_minutes, self.started_at
        if minutes is None or started is None:
            return None
        return started + 60.0 * minutes

    def timeout_at(self) -> float | None:
        """When this execution times out, if it can."""
        deadline = self.deadline
        step = self.step_deadline
        if step is None:
            return deadline
        if deadline is None:
            return step
        return min(deadline, step)


@dataclass(slots=True, eq=False)
class JobRecord:
    """A job, its configuration, its executions and the bookkeeping of its rollout."""

    job_id: str
    arn: str
    status: JobStatus
    target_selection: TargetSelection
    targets: list[str]
    document: JobDocument
    created: float
    description: str | None = None
    document_source: str | None = None
    presign: PresignedUrlConfig | None = None
    rollout: RolloutConfig | None = None
    abort: AbortConfig | None = None
    timeout: TimeoutConfig | None = None
    retry: RetryConfig | None = None
    scheduling: SchedulingConfig | None = None
    template_arn: str | None = None
    namespace_id: str | None = None
    document_parameters: dict[str, str] | None = None
    tags: list[dict[str, str]] | None = None
    updated: float = 0.0
    completed: float | None = None
    force_canceled: bool = False
    reason_code: str | None = None
    comment: str | None = None
    #: The document bytes when no presigned URL needs minting per fetch (the common case).
    static_document: bytes | None = None
    #: ``reported`` versions to merge into ``$package`` on SUCCEEDED (None: ``$null``).
    package_update: dict[str, str | None] = field(default_factory=dict)
    #: Direct thing targets and group targets (names).
    thing_targets: set[str] = field(default_factory=set)
    group_targets: set[str] = field(default_factory=set)
    #: thing -> its execution of this job, or its executions oldest first once it has more
    #: than one (a list costs ~90 bytes a thing, and most things run a job once). Read it with
    #: :meth:`current`, :meth:`history`, :meth:`latest` and :meth:`all_executions`.
    by_thing: dict[str, ExecutionRecord | list[ExecutionRecord]] = field(default_factory=dict)
    #: The keys of :attr:`by_thing` in its order, for ListJobExecutionsForJob's tokens (the
    #: store adds and removes a thing with its first and last execution).
    order: OrderLog[str] = field(default_factory=OrderLog)
    #: Things whose current execution has each status.
    counts: dict[ExecutionStatus, int] = field(
        default_factory=lambda: dict.fromkeys(ExecutionStatus, 0)
    )
    #: Things waiting for an execution, in release order (only :class:`~.rollout.Rollout`
    #: changes it; its window and timers are the rollout's own).
    backlog: deque[str] = field(default_factory=deque)
    #: Things notified (given an execution) and cumulative SUCCEEDED results (rollout criteria).
    notified: int = 0
    succeeded: int = 0
    #: Cumulative finished results by status, for the abort criteria.
    results: dict[ExecutionStatus, int] = field(default_factory=dict)
    #: thing -> retries used [FAILED, TIMED_OUT].
    retries: dict[str, list[int]] = field(default_factory=dict)

    @property
    def active(self) -> int:
        """Executions not yet finished plus targets still waiting in the rollout."""
        counts = self.counts
        return counts[_QUEUED] + counts[_IN_PROGRESS] + len(self.backlog)

    def current(self, thing: str) -> ExecutionRecord | None:
        """The thing's latest execution of this job."""
        runs = self.by_thing.get(thing)
        return runs[-1] if isinstance(runs, list) else runs

    def history(self, thing: str) -> Sequence[ExecutionRecord]:
        """The thing's executions of this job, oldest first (do not mutate)."""
        runs = self.by_thing.get(thing)
        if runs is None:
            return ()
        return runs if isinstance(runs, list) else (runs,)

    def latest(self) -> Iterator[ExecutionRecord]:
        """Each thing's latest execution, things in the order they got their first."""
        for runs in self.by_thing.values():
            yield runs[-1] if isinstance(runs, list) else runs

    def all_executions(self) -> Iterator[ExecutionRecord]:
        """Every execution, thing by thing, each thing's oldest first."""
        for runs in self.by_thing.values():
            if isinstance(runs, list):
                yield from runs
            else:
                yield runs


@dataclass(slots=True, eq=False)
class TemplateRecord:
    """A job template (CreateJobTemplate)."""

    template_id: str
    arn: str
    description: str
    created: float
    document: str | None = None
    document_source: str | None = None
    presign: PresignedUrlConfig | None = None
    rollout: RolloutConfig | None = None
    abort: AbortConfig | None = None
    timeout: TimeoutConfig | None = None
    retry: RetryConfig | None = None
    maintenance_windows: list[MaintenanceWindow] | None = None
    destination_package_versions: list[str] | None = None
    tags: list[dict[str, str]] | None = None
