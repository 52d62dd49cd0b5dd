"""What the Jobs operations return: typed results, never wire dicts.

The API layer (:mod:`simulator.api.wire.jobs`, :mod:`simulator.api.wire.jobs_data`) turns each
into its AWS shape. Results that name records (:class:`~.records.JobRecord`,
:class:`~.records.ExecutionRecord`) are views of the live store: encode them before the next
call into the service (the HTTP and MQTT APIs do so at once), and never change them. Copying
every execution into a frozen snapshot would cost the in-process fleet a second object per
device request.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from types import MappingProxyType

from simulator.core.jobs import ExecutionStatus, JobStatus, TargetSelection
from simulator.services.jobs.records import ExecutionRecord, JobRecord, TemplateRecord

__all__ = [
    "ExecutionDescription",
    "ExecutionPage",
    "ExecutionState",
    "ExecutionView",
    "JobDescription",
    "JobDocumentText",
    "JobPage",
    "JobRef",
    "JobState",
    "PendingExecutions",
    "TemplateDescription",
    "TemplatePage",
    "TemplateRef",
    "UpdateResult",
]


@dataclass(frozen=True, slots=True)
class JobState:
    """A snapshot of one job for drivers (the run loops): no wire keys to decode.

    Attributes:
        counts: things per status of their current execution (``jobProcessDetails``).
        targets: the job's target ARNs.
        destinations: ``destinationPackageVersions`` after substitution.
        waiting: targets the rollout has not released yet.
    """

    job_id: str
    status: JobStatus
    target_selection: TargetSelection
    created_at: float
    updated_at: float
    completed_at: float | None
    reason_code: str | None
    counts: Mapping[ExecutionStatus, int]
    targets: tuple[str, ...]
    destinations: tuple[str, ...]
    waiting: int

    @classmethod
    def of(cls, job: JobRecord) -> JobState:
        return cls(
            job_id=job.job_id,
            status=job.status,
            target_selection=job.target_selection,
            created_at=job.created,
            updated_at=job.updated,
            completed_at=job.completed,
            reason_code=job.reason_code,
            counts=MappingProxyType(dict(job.counts)),
            targets=tuple(job.targets),
            destinations=tuple(job.document.destinations_after),
            waiting=len(job.backlog),
        )


# -- control plane ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class JobRef:
    """CreateJob, CancelJob, AssociateTargetsWithJob."""

    job_arn: str
    job_id: str
    description: str | None


@dataclass(frozen=True, slots=True)
class JobDescription:
    """DescribeJob: the job, with its package versions before or after substitution, and its
    next maintenance-window openings (``scheduledJobRollouts``, ``YYYY-MM-DDTHH:MM``)."""

    job: JobRecord
    before_substitution: bool
    scheduled_rollouts: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class JobDocumentText:
    """GetJobDocument."""

    document: str


@dataclass(frozen=True, slots=True)
class JobPage:
    """ListJobs: each job with the id of its first existing target group, and the token."""

    jobs: tuple[tuple[JobRecord, str | None], ...]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class ExecutionPage:
    """ListJobExecutionsForJob (``thing_arns`` given) and ListJobExecutionsForThing."""

    executions: tuple[ExecutionRecord, ...]
    thing_arns: tuple[str, ...] | None
    next_token: str | None


@dataclass(frozen=True, slots=True)
class ExecutionDescription:
    """DescribeJobExecution of the control plane (no document)."""

    execution: ExecutionRecord
    thing_arn: str
    now: float


@dataclass(frozen=True, slots=True)
class TemplateRef:
    """CreateJobTemplate."""

    template_arn: str
    template_id: str


@dataclass(frozen=True, slots=True)
class TemplateDescription:
    """DescribeJobTemplate."""

    template: TemplateRecord


@dataclass(frozen=True, slots=True)
class TemplatePage:
    """ListJobTemplates."""

    templates: tuple[TemplateRecord, ...]
    next_token: str | None


# -- data plane ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PendingExecutions:
    """GetPendingJobExecutions: IN_PROGRESS ones, then QUEUED ones, in notification order."""

    in_progress: tuple[ExecutionRecord, ...]
    queued: tuple[ExecutionRecord, ...]


@dataclass(frozen=True, slots=True)
class ExecutionView:
    """StartNextPendingJobExecution and DescribeJobExecution of the data plane.

    ``execution`` is ``None`` when nothing is pending; ``document`` is the JSON of the job
    document as the device sees it at ``now`` (``None``: not asked for).
    """

    execution: ExecutionRecord | None
    now: float
    document: bytes | None


@dataclass(frozen=True, slots=True)
class ExecutionState:
    """``JobExecutionState``: status, details and version, copied at the time of the call."""

    status: ExecutionStatus
    details: Mapping[str, str] | None
    version: int

    @classmethod
    def of(cls, ex: ExecutionRecord) -> ExecutionState:
        details = ex.details
        return cls(ex.status, None if not details else dict(details), ex.version)


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """UpdateJobExecution: the state and the document when asked for."""

    state: ExecutionState | None
    document: bytes | None
