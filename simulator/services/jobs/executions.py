"""Control-plane job-execution operations of :class:`~.control.JobsService`."""

from __future__ import annotations

from typing import Any

from simulator.core.errors import InvalidStateTransitionException, VersionConflictException
from simulator.core.jobs import (
    Actor,
    ExecutionStatus,
    Refusal,
    check_status_details,
    check_transition,
)
from simulator.core.paging import page
from simulator.services.jobs.checks import (
    check_id,
    check_thing_name,
    enum_value,
    flag,
    optional_int,
)
from simulator.services.jobs.engine import JobsEngine
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import ExecutionRecord
from simulator.services.jobs.wire import cp_execution, cp_execution_summary

__all__ = ["ExecutionOps"]


class ExecutionOps:
    """ListJobExecutionsForJob/ForThing, DescribeJobExecution, Cancel/DeleteJobExecution."""

    engine: JobsEngine
    options: JobsOptions

    def list_job_executions_for_job(
        self,
        *,
        job_id: str,
        status: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        job = self.engine.job(job_id)
        wanted = enum_value(ExecutionStatus, status, "status")
        items: list[ExecutionRecord] = [
            ex
            for history in job.executions.values()
            for ex in history
            if wanted is None or ex.status is wanted
        ]
        chunk, token = page(items, max_results, next_token, limit=250)
        out: dict[str, Any] = {
            "executionSummaries": [
                {
                    "thingArn": self.engine.thing_arn(ex.thing),
                    "jobExecutionSummary": cp_execution_summary(ex),
                }
                for ex in chunk
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    def list_job_executions_for_thing(
        self,
        *,
        thing_name: str,
        status: str | None = None,
        namespace_id: str | None = None,
        max_results: int | None = None,
        next_token: str | None = None,
        job_id: str | None = None,
    ) -> dict[str, Any]:
        check_thing_name(thing_name)
        wanted = enum_value(ExecutionStatus, status, "status")
        engine = self.engine
        items: list[ExecutionRecord] = []
        for jid in engine.by_thing.get(thing_name, ()):
            if job_id is not None and jid != job_id:
                continue
            job = engine.jobs[jid]
            if namespace_id is not None and job.namespace_id != namespace_id:
                continue
            items.extend(
                ex
                for ex in job.executions.get(thing_name, ())
                if wanted is None or ex.status is wanted
            )
        chunk, token = page(items, max_results, next_token, limit=250)
        out: dict[str, Any] = {
            "executionSummaries": [
                {"jobId": ex.job.job_id, "jobExecutionSummary": cp_execution_summary(ex)}
                for ex in chunk
            ]
        }
        if token:
            out["nextToken"] = token
        return out

    def describe_job_execution(
        self, *, job_id: str, thing_name: str, execution_number: int | None = None
    ) -> dict[str, Any]:
        check_id(job_id, "jobId")
        check_thing_name(thing_name)
        number = optional_int(execution_number, "executionNumber")
        ex = self.engine.execution(job_id, thing_name, number)
        now = self.engine.now()
        return {"execution": cp_execution(ex, self.engine.thing_arn(thing_name), now)}

    def cancel_job_execution(
        self,
        *,
        job_id: str,
        thing_name: str,
        force: bool | None = None,
        expected_version: int | None = None,
        status_details: dict[str, str] | None = None,
    ) -> dict[str, Any]:
        check_id(job_id, "jobId")
        check_thing_name(thing_name)
        forced = flag(force, "force")
        expected = optional_int(expected_version, "expectedVersion")
        details = None if status_details is None else check_status_details(status_details)
        engine = self.engine
        engine.job(job_id, deleting_ok=False)
        ex = engine.execution(job_id, thing_name)
        if expected is not None and expected != ex.version:
            raise VersionConflictException(
                f"expectedVersion {expected} does not match the job execution's version "
                f"{ex.version}."
            )
        actor = Actor.FORCE_CANCEL if forced else Actor.CANCEL
        refusal = engine.move(ex, actor, ExecutionStatus.CANCELED, engine.now(), details=details)
        if refusal is not None:
            raise InvalidStateTransitionException(
                f"Cannot cancel the job execution of {job_id} on {thing_name} "
                f"({ex.status.value}): {refusal.value}."
            )
        return {}

    def delete_job_execution(
        self,
        *,
        job_id: str,
        thing_name: str,
        execution_number: int,
        force: bool | None = None,
        namespace_id: str | None = None,
    ) -> dict[str, Any]:
        check_id(job_id, "jobId")
        check_thing_name(thing_name)
        number = optional_int(execution_number, "executionNumber")
        forced = flag(force, "force")
        engine = self.engine
        ex = engine.execution(job_id, thing_name, number)
        if not ex.status.terminal and not forced:
            refusal = check_transition(ex.status, Actor.CANCEL, ExecutionStatus.CANCELED)
            reason = "force is required" if refusal is not Refusal.TERMINAL else refusal.value
            raise InvalidStateTransitionException(
                f"The job execution is {ex.status.value} and not terminal: {reason}."
            )
        engine.delete_execution(ex, engine.now())
        return {}
