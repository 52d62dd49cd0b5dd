"""Control-plane job-execution operations of :class:`~.control.JobsService`."""

from __future__ import annotations

from typing import Final

from simulator.core.errors import InvalidStateTransitionException, VersionConflictException
from simulator.core.jobs import Actor, ExecutionStatus, Refusal, check_transition
from simulator.core.paging import decode_token, encode_token, page_size
from simulator.services.jobs.checks import (
    check_id,
    check_thing_name,
    enum_value,
    flag,
    optional_int,
)
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import ExecutionRecord, JobRecord
from simulator.services.jobs.results import ExecutionDescription, ExecutionPage
from simulator.services.jobs.store import JobsStore
from simulator.services.jobs.teardown import Teardown

__all__ = ["ExecutionOps"]

_MAX_RESULTS: Final = 250  # ListJobExecutionsFor{Job,Thing} maxResults [B]
_FOR_JOB: Final = "job-executions"
_FOR_THING: Final = "thing-executions"


def _first_seq(job: JobRecord, thing: str) -> int:
    runs = job.history(thing)
    return runs[0].seq if runs else -1


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
        """One page of a job's executions: thing by thing in the order they got their first,
        each thing's oldest first (AWS's order is unverified, inf).

        The token holds ``(entry, executionNumber)`` of the job's :class:`OrderLog`, so a page
        costs O(page) however deep it is; with a ``status`` filter the walk stops after
        ``options.scan_budget`` things and may return a short page with a token.
        """
        store = self.store
        job = store.job(job_id)
        wanted = enum_value(ExecutionStatus, status, "status")
        size = page_size(max_results, limit=_MAX_RESULTS)
        start, after = 0, 0
        if next_token is not None:
            start, after = decode_token(next_token, _FOR_JOB, (int, int))
        chunk: list[ExecutionRecord] = []
        token: str | None = None
        last = (0, 0)
        budget = self.options.scan_budget
        history = job.history
        for seq, thing in job.order.entries(start):
            for ex in history(thing):
                if (seq == start and ex.number <= after) or (
                    wanted is not None and ex.status is not wanted
                ):
                    continue
                if len(chunk) == size:  # one more exists: the page ends at the last one kept
                    token = encode_token(_FOR_JOB, *last)
                    break
                chunk.append(ex)
                last = (seq, ex.number)
            if token is not None:
                break
            budget -= 1
            if budget <= 0:
                if seq + 1 < job.order.next_seq:  # else that was the last entry
                    token = encode_token(_FOR_JOB, seq + 1, 0)
                break
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
        """One page of a thing's executions: job by job in the order the thing got its first
        execution of each, each job's oldest first.

        The token holds ``(jobId, executionNumber, seq)``, ``seq`` the creation sequence of the
        thing's first execution of that job: if the job's executions are gone by the next call,
        the page resumes at the first job whose first execution is younger. A page costs O(page)
        plus a scan of the thing's own job ids (a few, not the fleet).
        """
        check_thing_name(thing_name)
        wanted = enum_value(ExecutionStatus, status, "status")
        size = page_size(max_results, limit=_MAX_RESULTS)
        store = self.store
        ids = store.job_ids_of(thing_name)
        jobs = store.jobs
        i, resume_id, after = 0, None, 0
        if next_token is not None:
            resume_id, after, first_seq = decode_token(next_token, _FOR_THING, (str, int, int))
            if resume_id in ids:
                i = ids.index(resume_id)
            else:
                i = next(
                    (
                        n
                        for n, jid in enumerate(ids)
                        if _first_seq(jobs[jid], thing_name) > first_seq
                    ),
                    len(ids),
                )
        chunk: list[ExecutionRecord] = []
        token: str | None = None
        last: tuple[str, int, int] = ("", 0, 0)
        for jid in ids[i:]:
            if job_id is not None and jid != job_id:
                continue
            job = jobs[jid]
            if namespace_id is not None and job.namespace_id != namespace_id:
                continue
            runs = job.history(thing_name)
            for ex in runs:
                if (jid == resume_id and ex.number <= after) or (
                    wanted is not None and ex.status is not wanted
                ):
                    continue
                if len(chunk) == size:
                    token = encode_token(_FOR_THING, *last)
                    break
                chunk.append(ex)
                last = (jid, ex.number, runs[0].seq)
            if token is not None:
                break
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
