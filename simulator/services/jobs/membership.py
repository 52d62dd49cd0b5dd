"""Job targets: resolve thing and thing-group ARNs, and follow membership for CONTINUOUS jobs.

SNAPSHOT jobs freeze their targets' membership at creation. CONTINUOUS jobs subscribe to the
registry's events: a thing that joins a targeted group (static, recursively, or dynamic) gets an
execution at once (rollout rates apply only to the things targeted at creation [AD]); one that
leaves has its unfinished execution REMOVED and its retry count reset. A deleted thing's
unfinished executions of any job become REMOVED.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING, Final

from simulator.core.errors import InvalidRequestException, ResourceNotFoundException
from simulator.core.jobs import Actor, ExecutionStatus, JobStatus
from simulator.services.jobs.records import JobRecord
from simulator.services.registry import RegistryEvent

if TYPE_CHECKING:
    from simulator.services.jobs.engine import JobsEngine

__all__ = ["Targets", "expand", "is_target", "on_registry_event", "parse_targets", "reconcile"]

_TARGET_RE: Final = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iot:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"(?P<kind>thing|thinggroup)/(?P<name>[a-zA-Z0-9:_-]{1,128})"
)


class Targets:
    """Parsed job targets: thing names and group names, in the order given."""

    __slots__ = ("groups", "things")

    def __init__(self, things: list[str], groups: list[str]) -> None:
        self.things = things
        self.groups = groups


def parse_targets(engine: JobsEngine, targets: object) -> Targets:
    """Check target ARNs (thing or thinggroup of this account) and that they exist."""
    if not isinstance(targets, list) or not targets:
        raise InvalidRequestException("targets must be a list of at least one ARN")
    if len(targets) > engine.options.max_targets:
        raise InvalidRequestException(
            f"A job can have at most {engine.options.max_targets} targets"
        )
    things: list[str] = []
    groups: list[str] = []
    for arn in targets:
        match = _TARGET_RE.fullmatch(arn) if isinstance(arn, str) and len(arn) <= 2048 else None
        if match is None:
            raise InvalidRequestException(f"Invalid target ARN: {arn!r}")
        if (match["region"], match["account"]) != (engine.scope.region, engine.scope.account):
            raise InvalidRequestException(f"Target {arn} is not in this account and region")
        name = match["name"]
        if match["kind"] == "thing":
            if name not in engine.registry.things:
                raise ResourceNotFoundException(f"Thing {name} cannot be found.")
            things.append(name)
        else:
            if name not in engine.registry.groups:
                raise ResourceNotFoundException(f"Thing group {name} cannot be found.")
            groups.append(name)
    return Targets(things, groups)


def expand(engine: JobsEngine, targets: Targets, exclude: Sequence[str] = ()) -> Iterator[str]:
    """Each targeted thing once: direct things first, then group members (recursively)."""
    seen = set(exclude)
    for name in targets.things:
        if name not in seen:
            seen.add(name)
            yield name
    for group in targets.groups:
        for name in engine.registry.members(group, recursive=True):
            if name not in seen:
                seen.add(name)
                yield name


def is_target(engine: JobsEngine, job: JobRecord, thing: str) -> bool:
    if thing not in engine.registry.things:
        return False
    if thing in job.thing_targets:
        return True
    groups = job.group_targets
    return any(g in groups for g in engine.registry.groups_of(thing))


def on_registry_event(engine: JobsEngine, event: RegistryEvent) -> None:
    if event.kind == "thing-deleted":
        now = engine.now()
        for job_id in list(engine.by_thing.get(event.thing, ())):
            job = engine.jobs.get(job_id)
            ex = None if job is None else job.current(event.thing)
            if (
                job is not None
                and ex is not None
                and not ex.status.terminal
                and job.status is not JobStatus.DELETION_IN_PROGRESS
            ):
                engine.move(ex, Actor.REMOVE, ExecutionStatus.REMOVED, now)
    elif event.kind in ("joined", "left") and engine.continuous:
        now = engine.now()
        for job in list(engine.continuous.values()):
            reconcile(engine, job, event.thing, now)


def reconcile(engine: JobsEngine, job: JobRecord, thing: str, now: float) -> None:
    """Bring one thing's execution of a CONTINUOUS job in line with its membership."""
    ex = job.current(thing)
    if is_target(engine, job, thing):
        if job.status is JobStatus.SCHEDULED:
            if ex is None and thing not in job.backlog:
                job.backlog.append(thing)
            return
        if ex is None:
            if thing in job.backlog:
                return  # the rollout will reach it
            job.notified += 1
            engine.create_execution(job, thing, now)
        elif ex.status is ExecutionStatus.REMOVED or (
            engine.options.rejoin_reruns_terminal and ex.status.terminal
        ):
            engine.create_execution(job, thing, now)
        return
    job.retries.pop(thing, None)  # [AD]: the retry count resets when membership changes
    if thing in job.backlog:
        job.backlog.remove(thing)
    if ex is not None and not ex.status.terminal:
        engine.move(ex, Actor.REMOVE, ExecutionStatus.REMOVED, now)
