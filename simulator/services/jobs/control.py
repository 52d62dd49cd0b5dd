"""The Jobs control plane (``iot`` 2015-05-28): jobs, their executions and job templates.

Operation names and keyword arguments follow the service model (see
:mod:`simulator.services.catalog` for the convention); results are the typed records of
:mod:`.results`. The state lives in one :class:`~.store.JobsStore`, shared with
:class:`~.data.JobsDataService`, and its collaborators: :class:`~.rollout.Rollout`,
:class:`~.membership.Membership`, :class:`~.teardown.Teardown` and :class:`~.outcomes.Outcomes`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

from simulator.core.arn import parse_package_version_arn
from simulator.core.catalog import Catalog
from simulator.core.errors import (
    InvalidRequestException,
    ResourceAlreadyExistsException,
    ValidationException,
)
from simulator.core.jobs import (
    ExecutionStatus,
    JobEvent,
    JobStatus,
    TargetSelection,
    initial_job_status,
)
from simulator.core.paging import page
from simulator.core.substitution import Compiler, SubstitutionStats
from simulator.services.jobs.checks import (
    check_comment,
    check_description,
    check_id,
    check_reason_code,
    enum_value,
    flag,
)
from simulator.services.jobs.create import JobConfigs, parse_configs, prepare_document
from simulator.services.jobs.documents import DocumentRenderer
from simulator.services.jobs.executions import ExecutionOps
from simulator.services.jobs.membership import Membership
from simulator.services.jobs.notices import JobsNotices
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.outcomes import Outcomes, PackageShadows, PackageWriteListener
from simulator.services.jobs.records import ExecutionRecord, JobRecord
from simulator.services.jobs.results import (
    JobDescription,
    JobDocumentText,
    JobPage,
    JobRef,
    JobState,
)
from simulator.services.jobs.rollout import Rollout
from simulator.services.jobs.schedule import check_scheduling
from simulator.services.jobs.store import JobsStore
from simulator.services.jobs.teardown import Teardown
from simulator.services.jobs.templates import TemplateOps
from simulator.services.registry import Registry
from simulator.services.runtime import Runtime

__all__ = ["JobsService"]


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
        self.options = options = options or JobsOptions()
        self.runtime = runtime
        self.registry = registry
        self.catalog = catalog
        self.scope = scope = registry.scope
        self.store = store = JobsStore(
            runtime, scope, queued_to_terminal=options.allow_queued_to_terminal
        )
        #: Substitution's work: documents prepared and compiled, renders, URLs minted.
        self.substitution = SubstitutionStats(timer=runtime.stopwatch)
        self._compiler = Compiler()  # a document compiled once serves every job that uses it
        self.documents = DocumentRenderer(options, scope, self.substitution)
        self.teardown = teardown = Teardown(store, runtime.scheduler, options)
        self.rollout = rollout = Rollout(store, registry, runtime.scheduler, teardown, options)
        self.membership = Membership(store, registry, rollout, scope, options)
        self._outcomes = Outcomes(
            store, teardown, catalog, shadows, options, scheduler=runtime.scheduler
        )

    # -- for drivers and the API layer -------------------------------------------------------

    def notify_to(self, notices: JobsNotices) -> None:
        """Send the pending-list notifications to ``notices`` (the MQTT API) from now on."""
        self.store.pending.listen(notices)

    def job_state(self, job_id: str) -> JobState:
        """A typed snapshot of one job (ResourceNotFoundException if there is none)."""
        return self.store.job_state(job_id)

    def executions(self, job_id: str) -> Iterator[ExecutionRecord]:
        """Every execution of a job in ListJobExecutionsForJob's order (read-only records)."""
        return self.store.executions(job_id)

    def terminal_executions(self, job_id: str) -> Iterator[tuple[ExecutionStatus, float]]:
        """``(status, lastUpdatedAt)`` of each terminal execution of a job."""
        return self.store.terminal_executions(job_id)

    def on_package_write(self, listener: PackageWriteListener) -> None:
        """Call ``listener(thing, versions)`` just before each ``$package`` write Jobs makes for
        a SUCCEEDED execution (which may come later: ``package_write_delay_s``)."""
        self._outcomes.on_package_write(listener)

    @property
    def package_write_failures(self) -> int:
        """``$package`` writes that failed after a SUCCEEDED execution."""
        return self._outcomes.package_write_failures

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
    ) -> JobRef:
        store = self.store
        check_id(job_id, "jobId")
        existing = store.jobs.get(job_id)
        if existing is not None:
            raise ResourceAlreadyExistsException(
                f"Job {job_id} already exists.", resource_id=job_id, resource_arn=existing.arn
            )
        parsed = self.membership.parse_targets(targets)
        selection = enum_value(TargetSelection, target_selection, "targetSelection")
        selection = selection or TargetSelection(self.options.default_target_selection)
        check_description(description)
        if sum(x is not None for x in (document, document_source, job_template_arn)) > 1:
            raise InvalidRequestException(
                "Specify only one of document, documentSource and jobTemplateArn."
            )
        template = None if job_template_arn is None else self._template_by_arn(job_template_arn)
        now = store.now()
        configs = parse_configs(
            template,
            now=now,
            presigned_url_config=presigned_url_config,
            rollout=job_executions_rollout_config,
            abort=abort_config,
            timeout=timeout_config,
            retry=job_executions_retry_config,
            scheduling=scheduling_config,
            min_lead_s=self.options.schedule_min_lead_s,
            min_duration_s=self.options.schedule_min_duration_s,
        )
        if configs.scheduling is not None:
            check_scheduling(configs.scheduling, self.options)
        if document_parameters is not None and not (
            isinstance(document_parameters, dict)
            and all(isinstance(v, str) for v in document_parameters.values())
        ):
            raise InvalidRequestException("documentParameters must be a map of strings")
        destinations = destination_package_versions
        if destinations is None and template is not None:
            destinations = template.destination_package_versions
        prepared = prepare_document(
            self.catalog,
            self.scope,
            self.options.substitution,
            document=document if template is None else template.document,
            document_source=document_source if template is None else template.document_source,
            destinations=destinations or [],
            presign=configs.presign,
            parameters=document_parameters,
            compiler=self._compiler,
            stats=self.substitution,
        )
        # Every check passed: from here on the job exists.
        start = None if configs.scheduling is None else configs.scheduling.start
        job = JobRecord(
            job_id=job_id,
            arn=self.scope.arn(f"job/{job_id}"),
            status=initial_job_status(start, now),
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
                self.catalog.mark_deployed(pv.package, pv.version)
        store.add_job(job)
        self.membership.follow(job)
        self.rollout.start(job, list(self.membership.expand(parsed)), now)
        return JobRef(job.arn, job_id, description)

    # -- reading jobs ------------------------------------------------------------------------

    def describe_job(
        self, *, job_id: str, before_substitution: bool | None = None
    ) -> JobDescription:
        job = self.store.job(job_id)
        rollouts = self.rollout.scheduling.upcoming(job, self.store.now())
        return JobDescription(job, flag(before_substitution, "beforeSubstitution"), rollouts)

    def get_job_document(
        self, *, job_id: str, before_substitution: bool | None = None
    ) -> JobDocumentText:
        job = self.store.job(job_id)
        before = flag(before_substitution, "beforeSubstitution")
        raw = job.document.before if before else job.document.after
        return JobDocumentText(raw.decode())

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
    ) -> JobPage:
        wanted = enum_value(JobStatus, status, "status")
        selection = enum_value(TargetSelection, target_selection, "targetSelection")
        groups = self.registry.groups
        if thing_group_id is not None:
            names = [g.name for g in groups.values() if g.group_id == thing_group_id]
            thing_group_name = names[0] if names else f"\0{thing_group_id}"
        jobs = [
            job
            for job in self.store.jobs.values()
            if (wanted is None or job.status is wanted)
            and (selection is None or job.target_selection is selection)
            and (thing_group_name is None or thing_group_name in job.group_targets)
            and (namespace_id is None or job.namespace_id == namespace_id)
        ]
        items, token = page(jobs, max_results, next_token, limit=250)
        listed = []
        for job in items:
            group = next((groups[g] for g in sorted(job.group_targets) if g in groups), None)
            listed.append((job, None if group is None else group.group_id))
        return JobPage(tuple(listed), token)

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
    ) -> None:
        job = self.store.job(job_id, deleting_ok=False)
        check_description(description)
        now = self.store.now()
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

    def cancel_job(
        self,
        *,
        job_id: str,
        reason_code: str | None = None,
        comment: str | None = None,
        force: bool | None = None,
    ) -> JobRef:
        job = self.store.job(job_id)
        check_reason_code(reason_code)
        check_comment(comment)
        forced = flag(force, "force")
        event = JobEvent.FORCE_CANCEL if forced else JobEvent.CANCEL
        self.teardown.cancel_job(job, self.store.now(), event=event)
        job.reason_code = reason_code
        job.comment = comment
        return JobRef(job.arn, job.job_id, job.description)

    def delete_job(
        self, *, job_id: str, force: bool | None = None, namespace_id: str | None = None
    ) -> None:
        job = self.store.job(job_id)
        self.teardown.delete_job(job, self.store.now(), force=flag(force, "force"))

    def associate_targets_with_job(
        self,
        *,
        targets: list[str],
        job_id: str,
        comment: str | None = None,
        namespace_id: str | None = None,
    ) -> JobRef:
        job = self.store.job(job_id, deleting_ok=False)
        check_comment(comment)
        if job.target_selection is not TargetSelection.CONTINUOUS:
            raise InvalidRequestException("Targets can only be added to CONTINUOUS jobs.")
        if job.status is not JobStatus.IN_PROGRESS:
            raise InvalidRequestException(f"Job {job_id} is {job.status.value}, not IN_PROGRESS.")
        parsed = self.membership.parse_targets(targets)
        added = [arn for arn in dict.fromkeys(targets) if arn not in job.targets]
        if len(job.targets) + len(added) > self.options.max_targets:
            raise InvalidRequestException(
                f"A job can have at most {self.options.max_targets} targets"
            )
        job.targets.extend(added)
        job.thing_targets.update(parsed.things)
        job.group_targets.update(parsed.groups)
        waiting = set(job.backlog)
        expanded = self.membership.expand(parsed)
        self.rollout.add(job, [t for t in expanded if job.current(t) is None and t not in waiting])
        if comment is not None:
            job.comment = comment
        job.updated = self.store.now()
        return JobRef(job.arn, job.job_id, job.description)


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
