"""Dynamic thing groups: create, update and delete, and the membership that follows the fleet.

A group is created BUILDING; after ``IndexOptions.build_delay_s`` the whole fleet is evaluated,
membership filled in and the group turns ACTIVE. From then on every registry or shadow change of a
thing re-evaluates it against every ACTIVE group, oldest group first. Without an
``update_delay_s`` the changed things are marked dirty and one scheduler callback re-evaluates
them as they are then. With one, the index lags: each change is queued with the thing's document
as it was at the change, and applied ``update_delay_s`` after it, in order, so membership follows
what the thing was that long ago, every intermediate state included (a thing that changed within
the lag is still evaluated as it was; inf: AWS documents the index as eventually consistent, not
how).

Both walk the fleet ``IndexOptions.step_things`` things per scheduler callback, rescheduling
themselves at the current time until done, so one change to a 100k-thing fleet never holds the
event loop for the whole walk. A build keeps a :class:`BuildCursor` (a snapshot of the names, and
every thing changed or created after the cursor passed it appended again), so the group turns
ACTIVE with the membership a one-pass build would give at that moment; the build's callbacks use
the group's timer, so an update or delete cancels the chain. Membership always changes through
``Registry.join``/``Registry.leave``, so subscribers (CONTINUOUS jobs) see the events.

The group limit: a thing already in ``MAX_GROUPS_PER_THING`` groups is not added to a dynamic
group unless it is in a *newer* dynamic group, which then gives way (older dynamic groups win).
Each (group, thing) pair newly refused or evicted counts once in
``AddThingToDynamicThingGroupsFailed``; such a pair is retried whenever the thing changes or a
slot frees up.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any, Final

from simulator.core.errors import (
    InvalidRequestException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    VersionConflictException,
)
from simulator.core.fleet_query import CompiledQuery, IndexDocument, compile_query
from simulator.services.index.config import ThingIndexing
from simulator.services.index.model import (
    BuildStatus,
    Change,
    IndexOptions,
    advance,
    wire_status,
)
from simulator.services.registry import Group, Registry, Thing
from simulator.services.registry.model import MAX_GROUPS_PER_THING, check_name
from simulator.services.registry.results import GroupVersion
from simulator.services.runtime import Runtime, TimerHandle

__all__ = [
    "FAILED_METRIC",
    "QUERY_VERSION",
    "THINGS_INDEX",
    "BuildCursor",
    "DynamicGroupOps",
    "DynamicState",
]

THINGS_INDEX: Final = "AWS_Things"
QUERY_VERSION: Final = "2017-09-30"
FAILED_METRIC: Final = "AddThingToDynamicThingGroupsFailed"


@dataclass(slots=True)
class BuildCursor:
    """A dynamic group's build in progress: the things still to evaluate, in order.

    ``names[pos:]`` are still to do and ``pending`` holds exactly those names, so a thing touched
    after the cursor passed it is appended once (and one not yet reached is not appended).
    """

    status: BuildStatus  # the group's status once built
    names: list[str]
    pending: set[str] = field(init=False)
    pos: int = 0

    def __post_init__(self) -> None:
        self.pending = set(self.names)

    def requeue(self, things: Iterable[str]) -> None:
        """Evaluate ``things`` (again) before the build ends."""
        pending, names = self.pending, self.names
        for name in things:
            if name not in pending:
                pending.add(name)
                names.append(name)

    def take(self) -> str | None:
        """The next name to evaluate, or ``None`` at the end."""
        if self.pos >= len(self.names):
            return None
        name = self.names[self.pos]
        self.pos += 1
        self.pending.discard(name)
        return name


@dataclass(slots=True)
class DynamicState:
    """What the index keeps per dynamic group (the registry keeps the group record)."""

    query: CompiledQuery
    seq: int  # creation order: lower is older, and older groups win at the limit
    status: BuildStatus
    timer: TimerHandle | None = None  # the build timer, then each next slice of the build
    build: BuildCursor | None = None


@dataclass(slots=True)
class _Lagged:
    """Changes waiting out ``update_delay_s``: (due, thing, its document at the change)."""

    changes: deque[tuple[float, str, IndexDocument]] = field(default_factory=deque)
    timer: TimerHandle | None = None


class DynamicGroupOps:
    """Dynamic-group operations of :class:`simulator.services.index.IndexService`."""

    runtime: Runtime
    registry: Registry
    options: IndexOptions
    _thing_config: ThingIndexing
    _dynamic: dict[str, DynamicState]
    _dirty: dict[str, None]
    _flushing: list[str]  # the dirty things being re-evaluated, from _flush_pos on
    _flush_pos: int
    _flush_timer: TimerHandle | None
    _blocked: dict[str, set[str]]  # thing -> dynamic groups it matches but is not in
    _failures: int
    _seq: int
    _doc: Callable[[Thing], IndexDocument]  # provided by IndexService
    _lagged: _Lagged | None = None  # made on the first change with an update_delay_s

    # -- operations ----------------------------------------------------------------------------

    def create_dynamic_thing_group(
        self,
        *,
        thing_group_name: str,
        thing_group_properties: dict[str, Any] | None = None,
        index_name: str | None = None,
        query_string: str,
        query_version: str | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> Group:
        """CreateDynamicThingGroup: the new group (BUILDING, with its query); ``tags`` are
        accepted, not kept.

        Raises:
            InvalidQueryException: the query is malformed or unsupported.
            ResourceAlreadyExistsException: a group of that name exists.
            ResourceNotFoundException: the index is unknown or thing indexing is OFF.
            LimitExceededException: ``IndexOptions.max_dynamic_groups`` reached.
            InvalidRequestException: a bad name, properties or ``queryVersion``.
        """
        check_name(thing_group_name, "thingGroupName")
        existing = self.registry.groups.get(thing_group_name)
        if existing is not None:
            raise ResourceAlreadyExistsException(
                f"Thing group {thing_group_name} already exists",
                resource_id=existing.group_id,
                resource_arn=existing.arn,
            )
        index = self._check_index(index_name)
        version = self._check_query_version(query_version)
        query = compile_query(query_string, syntax=self.options.syntax)
        if len(self._dynamic) >= self.options.max_dynamic_groups:
            raise LimitExceededException(
                f"At most {self.options.max_dynamic_groups} dynamic thing groups are allowed"
            )
        group = self.registry.new_group(thing_group_name, thing_group_properties or {})
        status = advance(None, Change.CREATE)
        assert status is not None
        group.query, group.query_version, group.index_name = query_string, version, index
        group.status = wire_status(status)
        self._seq += 1
        self._dynamic[group.name] = DynamicState(query, self._seq, status)
        self._schedule_build(group.name)
        return group

    def update_dynamic_thing_group(
        self,
        *,
        thing_group_name: str,
        thing_group_properties: dict[str, Any],
        expected_version: int | None = None,
        index_name: str | None = None,
        query_string: str | None = None,
        query_version: str | None = None,
    ) -> GroupVersion:
        """UpdateDynamicThingGroup: a new ``query_string`` moves the group to REBUILDING.

        Raises:
            ResourceNotFoundException: no such group.
            InvalidRequestException: the group is static, or bad properties.
            VersionConflictException: ``expected_version`` is not the group's version.
            InvalidQueryException: the new query is malformed or unsupported.
        """
        group = self.registry.groups.get(thing_group_name)
        if group is None:
            raise ResourceNotFoundException(f"Thing group {thing_group_name} cannot be found.")
        dynamic = self._dynamic.get(group.name)
        if dynamic is None:
            raise InvalidRequestException(f"{thing_group_name} is not a dynamic thing group")
        self._check_version(group, expected_version)
        index = self._check_index(index_name)
        version = self._check_query_version(query_version)
        query = None
        if query_string is not None:
            query = compile_query(query_string, syntax=self.options.syntax)
        result = self.registry.update_thing_group(
            thing_group_name=group.name,
            thing_group_properties=thing_group_properties,
            expected_version=expected_version,
        )
        group.index_name, group.query_version = index, version
        if query is not None:
            status = advance(dynamic.status, Change.UPDATE)
            assert status is not None
            group.query, dynamic.query = query.text, query
            dynamic.status, group.status = status, wire_status(status)
            self._schedule_build(group.name)
        return result

    def delete_dynamic_thing_group(
        self, *, thing_group_name: str, expected_version: int | None = None
    ) -> None:
        """DeleteDynamicThingGroup: members leave (with events); a missing group is no error.

        Raises:
            InvalidRequestException: the group is static.
            VersionConflictException: ``expected_version`` is not the group's version.
        """
        group = self.registry.groups.get(thing_group_name)
        if group is None:
            return  # as DeleteThingGroup: deleting what is not there succeeds
        dynamic = self._dynamic.get(group.name)
        if dynamic is None:
            raise InvalidRequestException(
                f"{thing_group_name} is not a dynamic thing group: use DeleteThingGroup"
            )
        self._check_version(group, expected_version)
        if dynamic.timer is not None:
            dynamic.timer.cancel()
        # Forget the group first: the "left" events of its members then read as freed slots, so
        # things waiting for one (refused by the limit) get re-evaluated.
        del self._dynamic[group.name]
        for groups in self._blocked.values():
            groups.discard(group.name)
        self.registry.remove_group(group, expected_version)

    def metrics(self) -> dict[str, int]:
        """Counters AWS publishes to CloudWatch for dynamic groups."""
        return {FAILED_METRIC: self._failures}

    # -- checks ------------------------------------------------------------------------------

    def _check_index(self, index_name: str | None) -> str:
        index = THINGS_INDEX if index_name is None else index_name
        if index != THINGS_INDEX:
            raise ResourceNotFoundException(f"Index {index} does not exist")
        if not self._thing_config.enabled:
            raise ResourceNotFoundException(
                f"Index {THINGS_INDEX} does not exist: thing indexing is OFF"
            )
        return index

    @staticmethod
    def _check_query_version(query_version: str | None) -> str:
        if query_version is None or query_version == QUERY_VERSION:
            return QUERY_VERSION
        raise InvalidRequestException(f"Unsupported queryVersion {query_version!r}")

    @staticmethod
    def _check_version(group: Group, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != group.version:
            raise VersionConflictException(
                f"The version of thing group {group.name} does not match."
            )

    # -- building ------------------------------------------------------------------------------

    def _schedule_build(self, name: str) -> None:
        dynamic = self._dynamic[name]
        if dynamic.timer is not None:
            dynamic.timer.cancel()
        dynamic.build = None  # a build in progress evaluated the old query: start again
        when = self.runtime.clock() + self.options.build_delay_s
        dynamic.timer = self.runtime.scheduler.call_at(when, lambda: self._built(name))

    def _built(self, name: str) -> None:
        """One slice of the build: ``step_things`` things, then the next slice or ACTIVE."""
        dynamic = self._dynamic.get(name)
        if dynamic is None:
            return
        dynamic.timer = None
        build = dynamic.build
        if build is None:
            status = advance(dynamic.status, Change.BUILT)
            if status is None:
                return
            build = dynamic.build = BuildCursor(status, list(self.registry.things))
        things = self.registry.things
        for _ in range(self.options.step_things):
            thing_name = build.take()
            if thing_name is None:
                break
            thing = things.get(thing_name)
            if thing is None:
                continue  # deleted since the snapshot
            if dynamic.query.predicate(self._doc(thing)):
                self._join(name, dynamic, thing)
            elif name in thing.groups:
                self._leave(name, thing, retry=True)
            elif self._blocked:
                self._unblock(name, thing.name)
        if build.pos < len(build.names):
            now = self.runtime.clock()
            dynamic.timer = self.runtime.scheduler.call_at(now, lambda: self._built(name))
            return
        dynamic.build = None
        dynamic.status = build.status
        self.registry.groups[name].status = wire_status(build.status)

    # -- incremental membership ---------------------------------------------------------------

    def _touch(self, things: Iterable[str]) -> None:
        """Mark things for re-evaluation (only while some group is ACTIVE to receive them)."""
        # Every registry and shadow change of a fleet comes here: with no dynamic group (the
        # common case) return before building the generator.
        if not self._dynamic:
            return
        active = False
        for dynamic in self._dynamic.values():
            if dynamic.build is not None:
                if not isinstance(things, tuple | list):
                    things = tuple(things)  # read once per build in progress, then for _dirty
                dynamic.build.requeue(things)
            active = active or dynamic.status is BuildStatus.ACTIVE
        if not active:
            return
        if self.options.update_delay_s > 0:
            self._lag(things)
            return
        self._dirty.update(dict.fromkeys(things))
        if self._dirty and self._flush_timer is None:
            self._schedule_flush(self.options.update_delay_s)

    def _schedule_flush(self, delay: float) -> None:
        when = self.runtime.clock() + delay
        self._flush_timer = self.runtime.scheduler.call_at(when, self._flush)

    def _flush(self) -> None:
        """Re-evaluate up to ``step_things`` dirty things; reschedule at once while some remain."""
        self._flush_timer = None
        if self._flush_pos >= len(self._flushing):
            self._flushing, self._flush_pos, self._dirty = list(self._dirty), 0, {}
        groups = [(n, d) for n, d in self._dynamic.items() if d.status is BuildStatus.ACTIVE]
        start = self._flush_pos
        end = min(start + self.options.step_things, len(self._flushing))
        self._flush_pos = end
        for thing_name in self._flushing[start:end]:
            thing = self.registry.things.get(thing_name)
            if thing is not None:
                self._place(thing, groups)
        if end < len(self._flushing):
            if self._flush_timer is not None:  # a touch meanwhile scheduled the next flush
                self._flush_timer.cancel()
            self._schedule_flush(0.0)
        else:
            self._flushing, self._flush_pos = [], 0
            if self._dirty and self._flush_timer is None:  # touched between two slices
                self._schedule_flush(self.options.update_delay_s)

    def _lag(self, things: Iterable[str]) -> None:
        """Queue each change with the thing's document now, to apply ``update_delay_s`` later."""
        lagged = self._lagged
        if lagged is None:
            lagged = self._lagged = _Lagged()
        due = self.runtime.clock() + self.options.update_delay_s
        registry_things = self.registry.things
        changes = lagged.changes
        for name in things:
            thing = registry_things.get(name)
            if thing is not None:
                changes.append((due, name, self._doc(thing)))
        if lagged.timer is None and changes:
            lagged.timer = self.runtime.scheduler.call_at(changes[0][0], self._apply_lagged)

    def _apply_lagged(self) -> None:
        """Apply the due changes, ``step_things`` per callback, each with its own document."""
        lagged = self._lagged
        assert lagged is not None
        lagged.timer = None
        now = self.runtime.clock()
        groups = [(n, d) for n, d in self._dynamic.items() if d.status is BuildStatus.ACTIVE]
        changes, things = lagged.changes, self.registry.things
        for _ in range(self.options.step_things):
            if not changes or changes[0][0] > now:
                break
            _, name, document = changes.popleft()
            thing = things.get(name)
            if thing is not None:
                self._place(thing, groups, document)
        if changes:
            when = max(now, changes[0][0])
            lagged.timer = self.runtime.scheduler.call_at(when, self._apply_lagged)

    def _place(
        self,
        thing: Thing,
        groups: list[tuple[str, DynamicState]],
        document: IndexDocument | None = None,
    ) -> None:
        """Join or leave each group as ``document`` (default: the thing as it is) says."""
        if document is None:
            document = self._doc(thing)
        wanted = []
        for name, dynamic in groups:
            if dynamic.query.predicate(document):
                wanted.append((name, dynamic))
            elif name in thing.groups:
                self._leave(name, thing, retry=False)  # joins below use the freed slot
            else:
                self._unblock(name, thing.name)
        for name, dynamic in wanted:  # oldest first
            self._join(name, dynamic, thing)

    def _join(self, name: str, dynamic: DynamicState, thing: Thing) -> None:
        if name in thing.groups:
            return
        if len(thing.groups) >= MAX_GROUPS_PER_THING:
            newer = [
                g for g in thing.groups if g in self._dynamic and self._dynamic[g].seq > dynamic.seq
            ]
            if not newer:
                self._block(name, thing.name)
                return
            victim = max(newer, key=lambda g: self._dynamic[g].seq)
            self.registry.leave(victim, thing.name)
            self._block(victim, thing.name)
        self.registry.join(name, thing.name)
        self._unblock(name, thing.name)

    def _leave(self, name: str, thing: Thing, *, retry: bool) -> None:
        self.registry.leave(name, thing.name)
        if retry and self._blocked.get(thing.name):
            self._touch((thing.name,))  # a slot freed up for a group that refused the thing

    def _block(self, name: str, thing_name: str) -> None:
        blocked = self._blocked.setdefault(thing_name, set())
        if name not in blocked:
            blocked.add(name)
            self._failures += 1

    def _unblock(self, name: str, thing_name: str) -> None:
        blocked = self._blocked.get(thing_name)
        if blocked:
            blocked.discard(name)
            if not blocked:
                del self._blocked[thing_name]
