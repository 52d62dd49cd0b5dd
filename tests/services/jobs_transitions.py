"""Watching a Jobs store: every status change must be one its transition methods made.

:class:`TransitionLog` wraps :meth:`JobsStore.move` and :meth:`JobsStore.job_event` of one store
and snapshots every job and execution status. :meth:`TransitionLog.check` compares the statuses
now with the last snapshot: each change must match a logged call that its table allows, so a
status written anywhere else (a back-door) fails the check.
"""

from __future__ import annotations

from typing import Any, TypeVar

from simulator.core.jobs import (
    JOB_TRANSITIONS,
    Actor,
    ExecutionStatus,
    JobEvent,
    JobStatus,
    Refusal,
    check_transition,
)
from simulator.services.jobs.records import ExecutionRecord, JobRecord
from simulator.services.jobs.store import JobsStore

_R = TypeVar("_R")
#: A record and the status it had when last seen.
_Seen = tuple[_R, Any]


class TransitionLog:
    def __init__(self, store: JobsStore) -> None:
        self.store = store
        self.moves: list[tuple[ExecutionRecord, ExecutionStatus, Actor, ExecutionStatus]] = []
        self.events: list[tuple[JobRecord, JobStatus, JobEvent, JobStatus]] = []
        move, job_event = store.move, store.job_event

        def logged_move(
            ex: ExecutionRecord,
            actor: Actor,
            target: ExecutionStatus,
            now: float,
            **kwargs: Any,
        ) -> Refusal | None:
            before = ex.status
            refusal = move(ex, actor, target, now, **kwargs)
            if refusal is None:
                self.moves.append((ex, before, actor, target))
            return refusal

        def logged_event(job: JobRecord, event: JobEvent, now: float) -> bool:
            before = job.status
            done = job_event(job, event, now)
            if done:
                self.events.append((job, before, event, job.status))
            return done

        # Instance attributes shadow the methods: the store and its collaborators call these.
        store.move = logged_move  # type: ignore[method-assign]
        store.job_event = logged_event  # type: ignore[method-assign]
        self.executions, self.jobs = self._snapshot()

    def _snapshot(self) -> tuple[dict[int, _Seen[ExecutionRecord]], dict[int, _Seen[JobRecord]]]:
        executions: dict[int, _Seen[ExecutionRecord]] = {}
        jobs: dict[int, _Seen[JobRecord]] = {}
        for job in self.store.jobs.values():
            jobs[id(job)] = (job, job.status)
            for ex in job.all_executions():
                executions[id(ex)] = (ex, ex.status)
        return executions, jobs

    def check(self) -> None:
        """Every change since the last check was a logged, allowed transition."""
        for _, before, actor, after in self.moves:
            assert check_transition(before, actor, after) is None, (before, actor, after)
        for _, before, event, after in self.events:
            assert JOB_TRANSITIONS.get((before, event)) is after, (before, event, after)
        executions, jobs = self._snapshot()
        for key, (ex, status) in executions.items():
            old = self.executions.get(key)
            start = ExecutionStatus.QUEUED if old is None else old[1]
            path = [(b, a) for e, b, _, a in self.moves if e is ex]
            assert _walks(start, path, status), (ex.thing, ex.number, start, path, status)
        for key, (job, status) in jobs.items():
            old = self.jobs.get(key)
            path = [(b, a) for j, b, _, a in self.events if j is job]
            if old is None:  # created since: it starts IN_PROGRESS or SCHEDULED
                start = path[0][0] if path else status
                assert start in (JobStatus.IN_PROGRESS, JobStatus.SCHEDULED)
            else:
                start = old[1]
            assert _walks(start, path, status), (job.job_id, start, path, status)
        self.moves.clear()
        self.events.clear()
        self.executions, self.jobs = executions, jobs


def _walks(start: Any, path: list[tuple[Any, Any]], end: Any) -> bool:
    """Whether the logged steps lead from ``start`` to ``end`` one after the other."""
    current = start
    for before, after in path:
        if before is not current:
            return False
        current = after
    return current is end
