"""Behaviour of the Jobs emulator that AWS leaves undocumented, in one frozen options object.

Tags as in the reference: [B] botocore model, [AD:...] archived developer guide, [cur:...]
current docs, (mem) unverified memory, (inf) inference. Change an option rather than the code
when the real service turns out to differ.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from simulator.core.paging import SCAN_BUDGET
from simulator.core.substitution import SubstitutionOptions

__all__ = ["JobsOptions"]


@dataclass(frozen=True, slots=True)
class JobsOptions:
    """Undocumented or unverified choices of :class:`~simulator.services.jobs.JobsService`.

    Attributes:
        notify_limit: executions listed in a ``notify`` message: 15 [cur:jobs-comm-notifications]
            (10 in the 2023 docs [AD:jobs-comm-notifications]).
        default_rollout_per_minute: release rate without ``jobExecutionsRolloutConfig``:
            "roughly 1000 devices/minute" [AD:job-limits].
        max_rollout_per_minute: the ceiling an exponential rollout grows to (mem).
        rollout_tick_s: how often a job with a backlog looks at its rollout window; releases
            happen in batches per tick (inf: AWS publishes no granularity).
        deletion_delay_s: how long a job stays DELETION_IN_PROGRESS (inf: "may take time").
        max_concurrent_deletions: jobs that may be DELETION_IN_PROGRESS at once: 10 [B].
        max_targets: targets a job may have (AssociateTargetsWithJob: 100 [B]).
        retry_new_execution_number: a retry is a new QUEUED execution with
            ``executionNumber + 1`` (default) or keeps the failed one's number (mem: which one AWS
            does is unverified; ``retryAttempt`` goes up either way).
        allow_queued_to_terminal: a device may move QUEUED straight to SUCCEEDED, FAILED or
            REJECTED (mem).
        rejoin_reruns_terminal: a thing re-joining a CONTINUOUS job's group gets a new execution
            even when its last one ended SUCCEEDED/FAILED/REJECTED/TIMED_OUT/CANCELED; by
            default only absent or REMOVED executions are replaced (inf).
        package_write_delay_s: how long after an execution SUCCEEDS Jobs writes its package
            versions into ``$package``. AWS makes that update itself, assuming the configured
            role, as a shadow operation [SPC-prep]; whether it lands with the SUCCEEDED answer
            or some time after it is unverified (inf). Default 0: written as SUCCEEDED is
            applied. A scenario sets a lag with ``[emulator.jobs] package_write_delay_s``.
        abort_reason_code: ``reasonCode`` of a job canceled by its abort criteria (mem).
        abort_percentage_of: the denominator of ``thresholdPercentage``: things with a finished
            execution (``"executed"``, default) or things notified (``"notified"``) (mem).
        default_target_selection: ``targetSelection`` when CreateJob omits it (mem: SNAPSHOT).
        substitution: job-document substitution choices (see
            :class:`~simulator.core.substitution.SubstitutionOptions`).
        access_key: access key that signs presigned URLs (the emulator's test credentials).
        secret_key: secret key that signs presigned URLs.
        timestamp_unit: unit of the top-level ``timestamp`` of MQTT Jobs messages: seconds
            (mem) or milliseconds (the docs' examples show ms); summaries always use seconds.
        schedule_min_lead_s: how far ahead ``schedulingConfig.startTime`` / ``endTime`` must be:
            30 minutes [B]. Lower it (0) to schedule jobs seconds ahead in tests.
        schedule_min_duration_s: the least time from ``startTime`` to ``endTime``: 30 minutes
            [B].
        default_end_behavior: what ``endTime`` does when ``endBehavior`` is omitted (inf: the
            docs name no default; STOP_ROLLOUT is the mildest).
        max_maintenance_windows: how many ``maintenanceWindows`` a job may have (``None``: no
            limit; AWS documents none in the model, and a limit is unverified).
        scheduled_rollouts_shown: window openings listed in DescribeJob's
            ``scheduledJobRollouts``: "the next seven" [B].
        scan_budget: things ListJobExecutionsForJob looks at per call when a ``status`` filter
            rejects most: the page is then short (possibly empty) with a ``nextToken`` (inf:
            AWS pages may be short; after how much work is unverified).
    """

    notify_limit: int = 15
    default_rollout_per_minute: int = 1000
    max_rollout_per_minute: int = 1000
    rollout_tick_s: float = 1.0
    deletion_delay_s: float = 1.0
    max_concurrent_deletions: int = 10
    max_targets: int = 100
    retry_new_execution_number: bool = True
    allow_queued_to_terminal: bool = True
    rejoin_reruns_terminal: bool = False
    package_write_delay_s: float = 0.0
    abort_reason_code: str = "ABORTED"
    abort_percentage_of: Literal["executed", "notified"] = "executed"
    default_target_selection: Literal["SNAPSHOT", "CONTINUOUS"] = "SNAPSHOT"
    substitution: SubstitutionOptions = field(default_factory=SubstitutionOptions)
    access_key: str = "test"
    secret_key: str = "test"
    timestamp_unit: Literal["s", "ms"] = "s"
    schedule_min_lead_s: float = 1800.0
    schedule_min_duration_s: float = 1800.0
    default_end_behavior: Literal["STOP_ROLLOUT", "CANCEL", "FORCE_CANCEL"] = "STOP_ROLLOUT"
    max_maintenance_windows: int | None = None
    scheduled_rollouts_shown: int = 7
    scan_budget: int = SCAN_BUDGET
