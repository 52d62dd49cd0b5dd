"""Job targets: resolve thing and thing-group ARNs, and follow membership for CONTINUOUS jobs.

SNAPSHOT jobs freeze their targets' membership at creation. CONTINUOUS jobs follow the
registry's events: a thing that joins a targeted group (static, recursively, or dynamic) gets an
execution at once (rollout rates apply only to the things targeted at creation [AD]; a job with
maintenance windows releases joiners inside a window, and none after its scheduled end); one
that leaves has its unfinished execution REMOVED and its retry count reset. A deleted thing's
unfinished executions of any job become REMOVED.

:class:`Membership` owns the set of CONTINUOUS jobs it follows (IN_PROGRESS or SCHEDULED); a
job leaves it when canceled or deleted.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Final

from simulator.core.arn import Scope
from simulator.core.errors import InvalidRequestException, ResourceNotFoundException
from simulator.core.jobs import Actor, ExecutionStatus, JobStatus, TargetSelection
from simulator.services.jobs.options import JobsOptions
from simulator.services.jobs.records import JobRecord
from simulator.services.jobs.rollout import Rollout
from simulator.services.jobs.store import JobsStore
from simulator.services.registry import Registry, RegistryEvent

__all__ = ["Membership", "Targets"]

_TARGET_RE: Final = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iot:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"(?P<kind>thing|thinggroup)/(?P<name>[a-zA-Z0-9:_-]{1,128})"
)
_ENDED: Final = frozenset({JobStatus.CANCELED, JobStatus.DELETION_IN_PROGRESS})


@dataclass(frozen=True, slots=True)
class Targets:
    """Parsed job targets: thing names and group names, in the order given."""

    things: tuple[str, ...]
    groups: tuple[str, ...]


class Membership:
    """Resolves targets and keeps CONTINUOUS jobs in line with group membership."""

    def __init__(
        self,
        store: JobsStore,
        registry: Registry,
        rollout: Rollout,
        scope: Scope,
        options: JobsOptions,
    ) -> None:
        self._store = store
        self._registry = registry
        self._rollout = rollout
        self._scope = scope
        self._options = options
        self._continuous: dict[str, JobRecord] = {}
        registry.subscribe(self._on_registry_event)
        store.on_job_status(self._job_status)

    def parse_targets(self, targets: object) -> Targets:
        """Check target ARNs (thing or thinggroup of this account) and that they exist."""
        if not isinstance(targets, list) or not targets:
            raise InvalidRequestException("targets must be a list of at least one ARN")
        limit = self._options.max_targets
        if len(targets) > limit:
            raise InvalidRequestException(f"A job can have at most {limit} targets")
        things: list[str] = []
        groups: list[str] = []
        scope = self._scope
        for arn in targets:
            match = _TARGET_RE.fullmatch(arn) if isinstance(arn, str) and len(arn) <= 2048 else None
            if match is None:
                raise InvalidRequestException(f"Invalid target ARN: {arn!r}")
            if (match["region"], match["account"]) != (scope.region, scope.account):
                raise InvalidRequestException(f"Target {arn} is not in this account and region")
            name = match["name"]
            if match["kind"] == "thing":
                if name not in self._registry.things:
                    raise ResourceNotFoundException(f"Thing {name} cannot be found.")
                things.append(name)
            else:
                if name not in self._registry.groups:
                    raise ResourceNotFoundException(f"Thing group {name} cannot be found.")
                groups.append(name)
        return Targets(tuple(things), tuple(groups))

    def expand(self, targets: Targets, exclude: Sequence[str] = ()) -> Iterator[str]:
        """Each targeted thing once: direct things first, then group members (recursively)."""
        seen = set(exclude)
        for name in targets.things:
            if name not in seen:
                seen.add(name)
                yield name
        for group in targets.groups:
            for name in self._registry.members(group, recursive=True):
                if name not in seen:
                    seen.add(name)
                    yield name

    def follow(self, job: JobRecord) -> None:
        """Follow a new job's membership if it is CONTINUOUS."""
        if job.target_selection is TargetSelection.CONTINUOUS:
            self._continuous[job.job_id] = job

    # -- internals ---------------------------------------------------------------------------

    def _is_target(self, job: JobRecord, thing: str) -> bool:
        registry = self._registry
        if thing not in registry.things:
            return False
        if thing in job.thing_targets:
            return True
        groups = job.group_targets
        return any(g in groups for g in registry.groups_of(thing))

    def _scheduled_out(self, job: JobRecord, thing: str, now: float) -> bool:
        """``True`` when the job's schedule keeps a joiner from an execution at once: after
        its end (STOP_ROLLOUT: no new executions), or while it has maintenance windows, when the
        joiner waits in the backlog for the rollout to release it inside a window (inf: AWS
        documents joiners of a scheduled CONTINUOUS job no further)."""
        scheduling = job.scheduling
        if scheduling is None:
            return False
        if scheduling.end is not None and now >= scheduling.end:
            return True
        if scheduling.maintenance_windows:
            self._rollout.add(job, (thing,))
            return True
        return False

    def _job_status(self, job: JobRecord, previous: JobStatus, now: float) -> None:
        if job.status in _ENDED:
            self._continuous.pop(job.job_id, None)

    def _on_registry_event(self, event: RegistryEvent) -> None:
        store = self._store
        if event.kind == "thing-deleted":
            now = store.now()
            for job_id in store.job_ids_of(event.thing):
                job = store.jobs.get(job_id)
                ex = None if job is None else job.current(event.thing)
                if (
                    job is not None
                    and ex is not None
                    and not ex.status.terminal
                    and job.status is not JobStatus.DELETION_IN_PROGRESS
                ):
                    store.move(ex, Actor.REMOVE, ExecutionStatus.REMOVED, now)
        elif event.kind in ("joined", "left") and self._continuous:
            now = store.now()
            for job in list(self._continuous.values()):
                self._reconcile(job, event.thing, now)

    def _reconcile(self, job: JobRecord, thing: str, now: float) -> None:
        """Bring one thing's execution of a CONTINUOUS job in line with its membership."""
        store = self._store
        ex = job.current(thing)
        if self._is_target(job, thing):
            if job.status is JobStatus.SCHEDULED:
                if ex is None:
                    self._rollout.enqueue(job, thing)
                return
            if ex is None:
                if thing in job.backlog:
                    return  # the rollout will reach it
                if self._scheduled_out(job, thing, now):
                    return
                job.notified += 1
                store.create_execution(job, thing, now)
            elif ex.status is ExecutionStatus.REMOVED or (
                self._options.rejoin_reruns_terminal and ex.status.terminal
            ):
                store.create_execution(job, thing, now)
            return
        job.retries.pop(thing, None)  # [AD]: the retry count resets when membership changes
        self._rollout.drop(job, thing)
        if ex is not None and not ex.status.terminal:
            store.move(ex, Actor.REMOVE, ExecutionStatus.REMOVED, now)
