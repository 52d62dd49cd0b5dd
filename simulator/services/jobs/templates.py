"""Job-template operations of :class:`~.control.JobsService` (ConflictException on a used id)."""

from __future__ import annotations

import re
from typing import Any, Final

from simulator.core.errors import (
    ConflictException,
    InvalidRequestException,
    ResourceNotFoundException,
)
from simulator.core.jobs import parse_maintenance_windows
from simulator.core.paging import page
from simulator.services.jobs.checks import check_description, check_id
from simulator.services.jobs.create import check_destinations, check_document, parse_configs
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import TemplateRecord
from simulator.services.jobs.results import TemplateDescription, TemplatePage, TemplateRef
from simulator.services.jobs.store import JobsStore

__all__ = ["TemplateOps"]

_TEMPLATE_ARN_RE: Final = re.compile(r"arn:aws[a-z-]*:iot:[a-z0-9-]+:[0-9]{12}:jobtemplate/(.+)")


class TemplateOps:
    """CreateJobTemplate, DescribeJobTemplate, ListJobTemplates, DeleteJobTemplate."""

    store: JobsStore
    options: JobsOptions

    def _template_by_arn(self, arn: object) -> TemplateRecord:
        match = _TEMPLATE_ARN_RE.fullmatch(arn) if isinstance(arn, str) else None
        if match is None:
            raise InvalidRequestException(f"Invalid jobTemplateArn: {arn!r}")
        template = self.store.templates.get(match[1])
        if template is None or template.arn != arn:
            raise ResourceNotFoundException(f"Job template {match[1]} cannot be found.")
        return template

    def create_job_template(
        self,
        *,
        job_template_id: str,
        description: str,
        job_arn: str | None = None,
        document_source: str | None = None,
        document: str | None = None,
        presigned_url_config: dict[str, Any] | None = None,
        job_executions_rollout_config: dict[str, Any] | None = None,
        abort_config: dict[str, Any] | None = None,
        timeout_config: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
        job_executions_retry_config: dict[str, Any] | None = None,
        maintenance_windows: list[dict[str, Any]] | None = None,
        destination_package_versions: list[str] | None = None,
    ) -> TemplateRef:
        store = self.store
        check_id(job_template_id, "jobTemplateId")
        if description is None:
            raise InvalidRequestException("description is required")
        check_description(description)
        if job_template_id in store.templates:
            raise ConflictException(
                f"Job template {job_template_id} already exists.", resource_id=job_template_id
            )
        if sum(x is not None for x in (job_arn, document, document_source)) != 1:
            raise InvalidRequestException(
                "Specify exactly one of jobArn, document, documentSource."
            )
        if document is not None:
            check_document(document)
        if document_source is not None and (
            not isinstance(document_source, str) or not 1 <= len(document_source) <= 1350
        ):
            raise InvalidRequestException("documentSource must be 1 to 1350 characters")
        configs = parse_configs(
            None,
            now=store.now(),
            presigned_url_config=presigned_url_config,
            rollout=job_executions_rollout_config,
            abort=abort_config,
            timeout=timeout_config,
            retry=job_executions_retry_config,
            scheduling=None,
        )
        windows = (
            None
            if maintenance_windows is None
            else list(parse_maintenance_windows(maintenance_windows, "mw"))
        )
        dpv = (
            None
            if destination_package_versions is None
            else list(check_destinations(destination_package_versions))
        )
        template = TemplateRecord(
            template_id=job_template_id,
            arn=store.scope.arn(f"jobtemplate/{job_template_id}"),
            description=description,
            created=store.now(),
            document=document,
            document_source=document_source,
            presign=configs.presign,
            rollout=configs.rollout,
            abort=configs.abort,
            timeout=configs.timeout,
            retry=configs.retry,
            maintenance_windows=windows,
            destination_package_versions=dpv,
            tags=tags,
        )
        if job_arn is not None:
            job = store.job(str(job_arn).rsplit("/", 1)[-1])
            if job.arn != job_arn:
                raise ResourceNotFoundException(f"Job {job_arn} cannot be found.")
            template.document = job.document.before.decode()
            template.document_source = job.document_source
            template.presign = template.presign or job.presign
            template.rollout = template.rollout or job.rollout
            template.abort = template.abort or job.abort
            template.timeout = template.timeout or job.timeout
            template.retry = template.retry or job.retry
            if dpv is None and job.document.destinations_before:
                template.destination_package_versions = list(job.document.destinations_before)
        store.templates[job_template_id] = template
        return TemplateRef(template.arn, job_template_id)

    def describe_job_template(self, *, job_template_id: str) -> TemplateDescription:
        check_id(job_template_id, "jobTemplateId")
        template = self.store.templates.get(job_template_id)
        if template is None:
            raise ResourceNotFoundException(f"Job template {job_template_id} cannot be found.")
        return TemplateDescription(template)

    def list_job_templates(
        self, *, max_results: int | None = None, next_token: str | None = None
    ) -> TemplatePage:
        templates = list(self.store.templates.values())
        items, token = page(templates, max_results, next_token, limit=250)
        return TemplatePage(tuple(items), token)

    def delete_job_template(self, *, job_template_id: str) -> None:
        check_id(job_template_id, "jobTemplateId")
        if self.store.templates.pop(job_template_id, None) is None:
            raise ResourceNotFoundException(f"Job template {job_template_id} cannot be found.")
