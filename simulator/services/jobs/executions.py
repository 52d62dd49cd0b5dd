"""Control-plane job-execution operations of :class:`~.control.JobsService`."""

from __future__ import annotations

from simulator.core.errors import InvalidStateTransitionException, VersionConflictException
from simulator.core.jobs import Actor, ExecutionStatus, Refusal, check_transition
from simulator.core.paging import page
from simulator.services.jobs.checks import (
    check_id,
    check_thing_name,
    enum_value,
    flag,
    optional_int,
)
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import ExecutionRecord
from simulator.services.jobs.results import ExecutionDescription, ExecutionPage
from simulator.services.jobs.store import JobsStore
from simulator.services.jobs.teardown import Teardown

__all__ = ["ExecutionOps"]


class ExecutionOps:
    """ListJobExecutionsForJob/ForThing, DescribeJobExecution, Cancel/DeleteJobExecution."""

    store: JobsStore
    teardown: Teardown
    options: JobsOptions

    def list_job_executions_for_job(
        self,
        *,
        job_id: str,
        status: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> ExecutionPage:
        store = self.store
        store.job(job_id)
        wanted = enum_value(ExecutionStatus, status, "status")
        items: list[ExecutionRecord] = [
            ex for ex in store.executions(job_id) if wanted is None or ex.status is wanted
        ]
        chunk, token = page(items, max_results, next_token, limit=250)
        arns = tuple(store.thing_arn(ex.thing) for ex in chunk)
        return ExecutionPage(tuple(chunk), arns, token)

    def list_job_executions_for_thing(
        self,
        *,
        thing_name: str,
        status: str | None = None,
        namespace_id: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        job_id: str | None = None,
    ) -> ExecutionPage:
        check_thing_name(thing_name)
        wanted = enum_value(ExecutionStatus, status, "status")
        store = self.store
        items: list[ExecutionRecord] = []
        for jid in store.job_ids_of(thing_name):
            if job_id is not None and jid != job_id:
                continue
            job = store.jobs[jid]
            if namespace_id is not None and job.namespace_id != namespace_id:
                continue
            items.extend(
                ex for ex in job.history(thing_name) if wanted is None or ex.status is wanted
            )
        chunk, token = page(items, max_results, next_token, limit=250)
        return ExecutionPage(tuple(chunk), None, token)

    def describe_job_execution(
        self, *, job_id: str, thing_name: str, execution_number: int | None = None
    ) -> ExecutionDescription:
        check_id(job_id, "jobId")
        check_thing_name(thing_name)
        number = optional_int(execution_number, "executionNumber")
        store = self.store
        ex = store.execution(job_id, thing_name, number)
        return ExecutionDescription(ex, store.thing_arn(thing_name), store.now())

    def cancel_job_execution(
        self,
        *,
        job_id: str,
        thing_name: str,
        force: bool | None = None,
        expected_version: int | None = None,
        status_details: dict[str, str] | None = None,
    ) -> None:
        check_id(job_id, "jobId")
        check_thing_name(thing_name)
        forced = flag(force, "force")
        expected = optional_int(expected_version, "expectedVersion")
        store = self.store
        details = None if status_details is None else store.check_details(status_details)
        store.job(job_id, deleting_ok=False)
        ex = store.execution(job_id, thing_name)
        if expected is not None and expected != ex.version:
            raise VersionConflictException(
                f"expectedVersion {expected} does not match the job execution's version "
                f"{ex.version}."
            )
        actor = Actor.FORCE_CANCEL if forced else Actor.CANCEL
        refusal = store.move(ex, actor, ExecutionStatus.CANCELED, store.now(), details=details)
        if refusal is not None:
            raise InvalidStateTransitionException(
                f"Cannot cancel the job execution of {job_id} on {thing_name} "
                f"({ex.status.value}): {refusal.value}."
            )

    def delete_job_execution(
        self,
        *,
        job_id: str,
        thing_name: str,
        execution_number: int,
        force: bool | None = None,
        namespace_id: str | None = None,
    ) -> None:
        check_id(job_id, "jobId")
        check_thing_name(thing_name)
        number = optional_int(execution_number, "executionNumber")
        forced = flag(force, "force")
        store = self.store
        ex = store.execution(job_id, thing_name, number)
        if not ex.status.terminal and not forced:
            refusal = check_transition(ex.status, Actor.CANCEL, ExecutionStatus.CANCELED)
            reason = "force is required" if refusal is not Refusal.TERMINAL else refusal.value
            raise InvalidStateTransitionException(
                f"The job execution is {ex.status.value} and not terminal: {reason}."
            )
        self.teardown.delete_execution(ex, store.now())
