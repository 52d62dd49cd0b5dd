"""The Jobs control plane (``iot`` 2015-05-28): jobs, their executions and job templates.

Operation names, keyword arguments and results follow the service model (see
:mod:`simulator.services.catalog` for the convention). The state lives in one
:class:`~.engine.JobsEngine`, shared with :class:`~.data.JobsDataService`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from simulator.core.arn import parse_package_version_arn
from simulator.core.catalog import Catalog
from simulator.core.errors import (
    InvalidRequestException,
    ResourceAlreadyExistsException,
    ValidationException,
)
from simulator.core.jobs import JobEvent, JobStatus, TargetSelection
from simulator.core.paging import page
from simulator.services.jobs.checks import (
    check_comment,
    check_description,
    check_id,
    check_reason_code,
    enum_value,
    flag,
)
from simulator.services.jobs.create import JobConfigs, parse_configs, prepare_document
from simulator.services.jobs.engine import JobsEngine, PackageShadows
from simulator.services.jobs.executions import ExecutionOps
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import JobRecord
from simulator.services.jobs.templates import TemplateOps
from simulator.services.jobs.wire import process_details
from simulator.services.registry import Registry
from simulator.services.runtime import Runtime

__all__ = ["JobsService"]


def _drop_none(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v is not None}


class JobsService(TemplateOps, ExecutionOps):
    """CreateJob, DescribeJob, ... and the job-execution and job-template operations."""

    def __init__(
        self,
        runtime: Runtime,
        registry: Registry,
        catalog: Catalog,
        shadows: PackageShadows,
        options: JobsOptions | None = None,
    ) -> None:
        self.options = options or JobsOptions()
        self.engine = JobsEngine(runtime, registry, catalog, shadows, self.options)

    # -- CreateJob ---------------------------------------------------------------------------

    def create_job(
        self,
        *,
        job_id: str,
        targets: list[str],
        document_source: str | None = None,
        document: str | None = None,
        description: str | None = None,
        presigned_url_config: dict[str, Any] | None = None,
        target_selection: str | None = None,
        job_executions_rollout_config: dict[str, Any] | None = None,
        abort_config: dict[str, Any] | None = None,
        timeout_config: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
        namespace_id: str | None = None,
        job_template_arn: str | None = None,
        job_executions_retry_config: dict[str, Any] | None = None,
        document_parameters: dict[str, str] | None = None,
        scheduling_config: dict[str, Any] | None = None,
        destination_package_versions: list[str] | None = None,
    ) -> dict[str, Any]:
        engine = self.engine
        check_id(job_id, "jobId")
        existing = engine.jobs.get(job_id)
        if existing is not None:
            raise ResourceAlreadyExistsException(
                f"Job {job_id} already exists.", resource_id=job_id, resource_arn=existing.arn
            )
        parsed = engine.parse_targets(targets)
        selection = enum_value(TargetSelection, target_selection, "targetSelection")
        selection = selection or TargetSelection(self.options.default_target_selection)
        check_description(description)
        if sum(x is not None for x in (document, document_source, job_template_arn)) > 1:
            raise InvalidRequestException(
                "Specify only one of document, documentSource and jobTemplateArn."
            )
        template = None if job_template_arn is None else self._template_by_arn(job_template_arn)
        now = engine.now()
        configs = parse_configs(
            template,
            now=now,
            presigned_url_config=presigned_url_config,
            rollout=job_executions_rollout_config,
            abort=abort_config,
            timeout=timeout_config,
            retry=job_executions_retry_config,
            scheduling=scheduling_config,
        )
        if document_parameters is not None and not (
            isinstance(document_parameters, dict)
            and all(isinstance(v, str) for v in document_parameters.values())
        ):
            raise InvalidRequestException("documentParameters must be a map of strings")
        destinations = destination_package_versions
        if destinations is None and template is not None:
            destinations = template.destination_package_versions
        prepared = prepare_document(
            engine,
            document=document if template is None else template.document,
            document_source=document_source if template is None else template.document_source,
            destinations=destinations or [],
            presign=configs.presign,
            parameters=document_parameters,
        )
        # Every check passed: from here on the job exists.
        job = JobRecord(
            job_id=job_id,
            arn=engine.scope.arn(f"job/{job_id}"),
            status=JobStatus.IN_PROGRESS,
            target_selection=selection,
            targets=list(targets),
            document=prepared,
            static_document=prepared.after if prepared.fetch_template.is_static else None,
            created=now,
            updated=now,
            description=description,
            presign=configs.presign,
            rollout=configs.rollout,
            abort=configs.abort,
            timeout=configs.timeout,
            retry=configs.retry,
            scheduling=configs.scheduling,
            template_arn=job_template_arn,
            namespace_id=namespace_id,
            document_parameters=document_parameters,
            tags=tags,
            package_update=_package_update(prepared.destinations_after),
            thing_targets=set(parsed.things),
            group_targets=set(parsed.groups),
        )
        for arn in prepared.destinations_after:
            pv = parse_package_version_arn(arn)
            if not pv.is_null:
                engine.catalog.mark_deployed(pv.package, pv.version)
        engine.jobs[job_id] = job
        if selection is TargetSelection.CONTINUOUS:
            engine.continuous[job_id] = job
        engine.start_job(job, list(engine.expand(parsed)), now)
        return _drop_none({"jobArn": job.arn, "jobId": job_id, "description": description})

    # -- reading jobs ------------------------------------------------------------------------

    def describe_job(
        self, *, job_id: str, before_substitution: bool | None = None
    ) -> dict[str, Any]:
        job = self.engine.job(job_id)
        before = flag(before_substitution, "beforeSubstitution")
        doc = job.document
        dpv = doc.destinations_before if before else doc.destinations_after
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
                "presignedUrlConfig": None if job.presign is None else job.presign.to_wire(),
                "jobExecutionsRolloutConfig": None
                if job.rollout is None
                else job.rollout.to_wire(),
                "abortConfig": None if job.abort is None else job.abort.to_wire(),
                "createdAt": job.created,
                "lastUpdatedAt": job.updated,
                "completedAt": job.completed,
                "jobProcessDetails": process_details(job),
                "timeoutConfig": None if job.timeout is None else job.timeout.to_wire(),
                "namespaceId": job.namespace_id,
                "jobTemplateArn": job.template_arn,
                "jobExecutionsRetryConfig": None if job.retry is None else job.retry.to_wire(),
                "documentParameters": job.document_parameters,
                "isConcurrent": bool(job.backlog),
                "schedulingConfig": None if job.scheduling is None else job.scheduling.to_wire(),
                "destinationPackageVersions": list(dpv) if dpv else None,
            }
        )
        return _drop_none({"documentSource": job.document_source, "job": body})

    def get_job_document(
        self, *, job_id: str, before_substitution: bool | None = None
    ) -> dict[str, Any]:
        job = self.engine.job(job_id)
        before = flag(before_substitution, "beforeSubstitution")
        raw = job.document.before if before else job.document.after
        return {"document": raw.decode()}

    def list_jobs(
        self,
        *,
        status: str | None = None,
        target_selection: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        thing_group_name: str | None = None,
        thing_group_id: str | None = None,
        namespace_id: str | None = None,
    ) -> dict[str, Any]:
        wanted = enum_value(JobStatus, status, "status")
        selection = enum_value(TargetSelection, target_selection, "targetSelection")
        groups = self.engine.registry.groups
        if thing_group_id is not None:
            names = [g.name for g in groups.values() if g.group_id == thing_group_id]
            thing_group_name = names[0] if names else f"\0{thing_group_id}"
        jobs = [
            job
            for job in self.engine.jobs.values()
            if (wanted is None or job.status is wanted)
            and (selection is None or job.target_selection is selection)
            and (thing_group_name is None or thing_group_name in job.group_targets)
            and (namespace_id is None or job.namespace_id == namespace_id)
        ]
        items, token = page(jobs, max_results, next_token, limit=250)
        summaries = []
        for job in items:
            group = next((groups[g] for g in sorted(job.group_targets) if g in groups), None)
            summaries.append(
                _drop_none(
                    {
                        "jobArn": job.arn,
                        "jobId": job.job_id,
                        "thingGroupId": None if group is None else group.group_id,
                        "targetSelection": job.target_selection.value,
                        "status": job.status.value,
                        "createdAt": job.created,
                        "lastUpdatedAt": job.updated,
                        "completedAt": job.completed,
                        "isConcurrent": bool(job.backlog),
                    }
                )
            )
        return _drop_none({"jobs": summaries, "nextToken": token})

    # -- changing jobs -----------------------------------------------------------------------

    def update_job(
        self,
        *,
        job_id: str,
        description: str | None = None,
        presigned_url_config: dict[str, Any] | None = None,
        job_executions_rollout_config: dict[str, Any] | None = None,
        abort_config: dict[str, Any] | None = None,
        timeout_config: dict[str, Any] | None = None,
        namespace_id: str | None = None,
        job_executions_retry_config: dict[str, Any] | None = None,
    ) -> dict[str, Any]:
        job = self.engine.job(job_id, deleting_ok=False)
        check_description(description)
        now = self.engine.now()
        configs = parse_configs(
            None,
            now=now,
            presigned_url_config=presigned_url_config,
            rollout=job_executions_rollout_config,
            abort=abort_config,
            timeout=timeout_config,
            retry=job_executions_retry_config,
            scheduling=None,
        )
        _apply_update(job, configs, description)
        job.updated = now
        return {}

    def cancel_job(
        self,
        *,
        job_id: str,
        reason_code: str | None = None,
        comment: str | None = None,
        force: bool | None = None,
    ) -> dict[str, Any]:
        job = self.engine.job(job_id)
        check_reason_code(reason_code)
        check_comment(comment)
        forced = flag(force, "force")
        event = JobEvent.FORCE_CANCEL if forced else JobEvent.CANCEL
        self.engine.cancel_job(job, self.engine.now(), event=event)
        job.reason_code = reason_code
        job.comment = comment
        return _drop_none({"jobArn": job.arn, "jobId": job.job_id, "description": job.description})

    def delete_job(
        self, *, job_id: str, force: bool | None = None, namespace_id: str | None = None
    ) -> dict[str, Any]:
        job = self.engine.job(job_id)
        self.engine.delete_job(job, self.engine.now(), force=flag(force, "force"))
        return {}

    def associate_targets_with_job(
        self,
        *,
        targets: list[str],
        job_id: str,
        comment: str | None = None,
        namespace_id: str | None = None,
    ) -> dict[str, Any]:
        engine = self.engine
        job = engine.job(job_id, deleting_ok=False)
        check_comment(comment)
        if job.target_selection is not TargetSelection.CONTINUOUS:
            raise InvalidRequestException("Targets can only be added to CONTINUOUS jobs.")
        if job.status is not JobStatus.IN_PROGRESS:
            raise InvalidRequestException(f"Job {job_id} is {job.status.value}, not IN_PROGRESS.")
        parsed = engine.parse_targets(targets)
        added = [arn for arn in dict.fromkeys(targets) if arn not in job.targets]
        if len(job.targets) + len(added) > self.options.max_targets:
            raise InvalidRequestException(
                f"A job can have at most {self.options.max_targets} targets"
            )
        job.targets.extend(added)
        job.thing_targets.update(parsed.things)
        job.group_targets.update(parsed.groups)
        waiting = set(job.backlog)
        fresh = [t for t in engine.expand(parsed) if job.current(t) is None and t not in waiting]
        job.backlog.extend(fresh)
        if fresh and job.rollout_timer is None:
            engine.release(job)
        if comment is not None:
            job.comment = comment
        job.updated = engine.now()
        return _drop_none({"jobArn": job.arn, "jobId": job.job_id, "description": job.description})


def _package_update(destinations: Sequence[str]) -> dict[str, str | None]:
    out: dict[str, str | None] = {}
    for arn in destinations:
        try:
            pv = parse_package_version_arn(arn)
        except ValidationException:  # already validated by substitution
            continue
        out[pv.package] = None if pv.is_null else pv.version
    return out


def _apply_update(job: JobRecord, configs: JobConfigs, description: str | None) -> None:
    if description is not None:
        job.description = description
    if configs.presign is not None:
        job.presign = configs.presign
    if configs.rollout is not None:
        job.rollout = configs.rollout
    if configs.abort is not None:
        job.abort = configs.abort
    if configs.timeout is not None:
        job.timeout = configs.timeout
    if configs.retry is not None:
        job.retry = configs.retry
