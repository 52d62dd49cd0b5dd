"""Wire shapes of the Jobs control plane (``iot``): one encoder per operation.

Control-plane timestamps are float epoch seconds. Members that are ``None`` are left out, as
AWS leaves unset members out.
"""

from __future__ import annotations

from typing import Any

from simulator.api.wire.jobs_data import seconds_left
from simulator.core.jobs import ExecutionStatus as S
from simulator.core.jobs import JobStatus
from simulator.services.jobs.records import ExecutionRecord, JobRecord, TemplateRecord
from simulator.services.jobs.results import (
    ExecutionDescription,
    ExecutionPage,
    JobDescription,
    JobDocumentText,
    JobPage,
    JobRef,
    TemplateDescription,
    TemplatePage,
    TemplateRef,
)

__all__ = [
    "describe_job",
    "describe_job_execution",
    "describe_job_template",
    "execution_summary",
    "executions_for_job",
    "executions_for_thing",
    "job_document",
    "job_ref",
    "list_job_templates",
    "list_jobs",
    "process_details",
    "template_ref",
]


def _drop_none(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v is not None}


def _wire(config: Any) -> Any:
    return None if config is None else config.to_wire()


def job_ref(result: JobRef) -> dict[str, Any]:
    """CreateJob, CancelJob, AssociateTargetsWithJob."""
    return _drop_none(
        {"jobArn": result.job_arn, "jobId": result.job_id, "description": result.description}
    )


def process_details(job: JobRecord) -> dict[str, Any]:
    """``jobProcessDetails``: things per status of their current execution."""
    counts = job.counts
    out: dict[str, Any] = {
        "numberOfCanceledThings": counts[S.CANCELED],
        "numberOfSucceededThings": counts[S.SUCCEEDED],
        "numberOfFailedThings": counts[S.FAILED],
        "numberOfRejectedThings": counts[S.REJECTED],
        "numberOfQueuedThings": counts[S.QUEUED],
        "numberOfInProgressThings": counts[S.IN_PROGRESS],
        "numberOfRemovedThings": counts[S.REMOVED],
        "numberOfTimedOutThings": counts[S.TIMED_OUT],
    }
    if job.backlog:
        out["processingTargets"] = list(job.targets)
    return out


def describe_job(result: JobDescription) -> dict[str, Any]:
    """DescribeJob."""
    job = result.job
    doc = job.document
    dpv = doc.destinations_before if result.before_substitution else doc.destinations_after
    body = _drop_none(
        {
            "jobArn": job.arn,
            "jobId": job.job_id,
            "targetSelection": job.target_selection.value,
            "status": job.status.value,
            "forceCanceled": job.force_canceled if job.status is JobStatus.CANCELED else None,
            "reasonCode": job.reason_code,
            "comment": job.comment,
            "targets": list(job.targets),
            "description": job.description,
            "presignedUrlConfig": _wire(job.presign),
            "jobExecutionsRolloutConfig": _wire(job.rollout),
            "abortConfig": _wire(job.abort),
            "createdAt": job.created,
            "lastUpdatedAt": job.updated,
            "completedAt": job.completed,
            "jobProcessDetails": process_details(job),
            "timeoutConfig": _wire(job.timeout),
            "namespaceId": job.namespace_id,
            "jobTemplateArn": job.template_arn,
            "jobExecutionsRetryConfig": _wire(job.retry),
            "documentParameters": job.document_parameters,
            "isConcurrent": bool(job.backlog),
            "schedulingConfig": _wire(job.scheduling),
            "scheduledJobRollouts": [{"startTime": t} for t in result.scheduled_rollouts] or None,
            "destinationPackageVersions": list(dpv) if dpv else None,
        }
    )
    return _drop_none({"documentSource": job.document_source, "job": body})


def job_document(result: JobDocumentText) -> dict[str, Any]:
    """GetJobDocument."""
    return {"document": result.document}


def list_jobs(result: JobPage) -> dict[str, Any]:
    """ListJobs."""
    summaries = [
        _drop_none(
            {
                "jobArn": job.arn,
                "jobId": job.job_id,
                "thingGroupId": group_id,
                "targetSelection": job.target_selection.value,
                "status": job.status.value,
                "createdAt": job.created,
                "lastUpdatedAt": job.updated,
                "completedAt": job.completed,
                "isConcurrent": bool(job.backlog),
            }
        )
        for job, group_id in result.jobs
    ]
    return _drop_none({"jobs": summaries, "nextToken": result.next_token})


# -- executions ------------------------------------------------------------------------------


def execution_summary(ex: ExecutionRecord) -> dict[str, Any]:
    """``JobExecutionSummary`` of the control plane (ListJobExecutionsFor*)."""
    out: dict[str, Any] = {
        "status": ex.status.value,
        "queuedAt": ex.queued_at,
        "lastUpdatedAt": ex.updated_at,
        "executionNumber": ex.number,
        "retryAttempt": ex.retry_attempt,
    }
    if ex.started_at is not None:
        out["startedAt"] = ex.started_at
    return out


def executions_for_job(result: ExecutionPage) -> dict[str, Any]:
    """ListJobExecutionsForJob."""
    arns = result.thing_arns or ()
    out: dict[str, Any] = {
        "executionSummaries": [
            {"thingArn": arn, "jobExecutionSummary": execution_summary(ex)}
            for ex, arn in zip(result.executions, arns, strict=True)
        ]
    }
    if result.next_token:
        out["nextToken"] = result.next_token
    return out


def executions_for_thing(result: ExecutionPage) -> dict[str, Any]:
    """ListJobExecutionsForThing."""
    out: dict[str, Any] = {
        "executionSummaries": [
            {"jobId": ex.job.job_id, "jobExecutionSummary": execution_summary(ex)}
            for ex in result.executions
        ]
    }
    if result.next_token:
        out["nextToken"] = result.next_token
    return out


def describe_job_execution(result: ExecutionDescription) -> dict[str, Any]:
    """DescribeJobExecution of the control plane: no document."""
    ex = result.execution
    out: dict[str, Any] = {
        "jobId": ex.job.job_id,
        "status": ex.status.value,
        "forceCanceled": ex.force_canceled,
        "statusDetails": {"detailsMap": dict(ex.details or {})},
        "thingArn": result.thing_arn,
        "queuedAt": ex.queued_at,
        "lastUpdatedAt": ex.updated_at,
        "executionNumber": ex.number,
        "versionNumber": ex.version,
    }
    if ex.started_at is not None:
        out["startedAt"] = ex.started_at
    left = seconds_left(ex, result.now)
    if left is not None:
        out["approximateSecondsBeforeTimedOut"] = left
    return {"execution": out}


# -- templates -------------------------------------------------------------------------------


def template_ref(result: TemplateRef) -> dict[str, Any]:
    """CreateJobTemplate."""
    return {"jobTemplateArn": result.template_arn, "jobTemplateId": result.template_id}


def describe_job_template(result: TemplateDescription) -> dict[str, Any]:
    """DescribeJobTemplate."""
    template: TemplateRecord = result.template
    windows = template.maintenance_windows
    return _drop_none(
        {
            "jobTemplateArn": template.arn,
            "jobTemplateId": template.template_id,
            "description": template.description,
            "documentSource": template.document_source,
            "document": template.document,
            "createdAt": template.created,
            "presignedUrlConfig": _wire(template.presign),
            "jobExecutionsRolloutConfig": _wire(template.rollout),
            "abortConfig": _wire(template.abort),
            "timeoutConfig": _wire(template.timeout),
            "jobExecutionsRetryConfig": _wire(template.retry),
            "maintenanceWindows": None if windows is None else [w.to_wire() for w in windows],
            "destinationPackageVersions": template.destination_package_versions,
        }
    )


def list_job_templates(result: TemplatePage) -> dict[str, Any]:
    """ListJobTemplates."""
    return _drop_none(
        {
            "jobTemplates": [
                {
                    "jobTemplateArn": t.arn,
                    "jobTemplateId": t.template_id,
                    "description": t.description,
                    "createdAt": t.created,
                }
                for t in result.templates
            ],
            "nextToken": result.next_token,
        }
    )
