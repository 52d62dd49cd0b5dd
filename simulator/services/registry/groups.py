"""Thing groups: static hierarchies, dynamic group records, membership and its events."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator
from typing import Any, Final

from simulator.core.arn import Scope
from simulator.core.errors import (
    InvalidRequestException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    VersionConflictException,
)
from simulator.core.paging import SCAN_BUDGET, decode_token, encode_token, page, page_size
from simulator.services.registry.model import (
    MAX_GROUPS_PER_THING,
    Group,
    RegistryEvent,
    Thing,
    apply_attributes,
    check_name,
    format_id,
)
from simulator.services.registry.results import GroupDescription, GroupPage, GroupVersion, NamePage
from simulator.services.runtime import Runtime

__all__ = ["GroupOps", "id_base"]

_NAMESPACE: Final = uuid.UUID("6f1c2c1e-3b1a-4c39-9a51-2f0b9d1e7a10")
_ID_MASK: Final = 0xFFFFFFFFFFFF  # ids: a per-account UUID whose last 48 bits count creations
_GROUP_SETS: Final = 4096  # distinct group tuples remembered for sharing
_MAX_RESULTS: Final = 250  # ListThingsInThingGroup maxResults [B]
_IN_GROUP: Final = "group-things"


def id_base(account: str) -> int:
    """The constant part of every id the registry of ``account`` hands out."""
    return uuid.uuid5(_NAMESPACE, account).int & ~_ID_MASK


class GroupOps:
    """Group operations and shared plumbing of :class:`simulator.services.registry.Registry`."""

    runtime: Runtime
    scope: Scope
    groups: dict[str, Group]
    things: dict[str, Thing]
    _subscribers: list[Callable[[RegistryEvent], None]]
    _ids: int
    _id_base: int
    _group_sets: dict[tuple[str, ...], tuple[str, ...]]
    #: Things ListThings and ListThingsInThingGroup look at per call when a filter rejects most
    #: (the page is then short, with a token: inf, see :data:`~simulator.core.paging.SCAN_BUDGET`).
    scan_budget: int = SCAN_BUDGET

    def subscribe(self, callback: Callable[[RegistryEvent], None]) -> None:
        self._subscribers.append(callback)

    def _emit(self, event: RegistryEvent) -> None:
        for callback in self._subscribers:
            callback(event)

    def _new_id(self, name: str) -> str:
        """A UUID, deterministic per account and creation order (reproducible runs)."""
        return format_id(self._id_base, self._new_serial())

    def _new_serial(self) -> int:
        """The next creation number (things keep it and format their ID when asked)."""
        self._ids += 1
        return self._ids

    def _groups_of(self, groups: tuple[str, ...]) -> tuple[str, ...]:
        """``groups``, or the equal tuple another thing already holds (a fleet's things are
        mostly in the same few groups: one tuple serves them all)."""
        sets = self._group_sets
        shared = sets.get(groups)
        if shared is not None:
            return shared
        if len(sets) >= _GROUP_SETS:
            sets.clear()
        sets[groups] = groups
        return groups

    def _now(self) -> float:
        return self.runtime.clock()

    def thing(self, name: str) -> Thing:
        thing = self.things.get(name)
        if thing is None:
            raise ResourceNotFoundException(f"Thing {name} cannot be found.")
        return thing

    def group(self, name: str) -> Group:
        group = self.groups.get(name)
        if group is None:
            raise ResourceNotFoundException(f"Thing group {name} cannot be found.")
        return group

    def thing_arn(self, name: str) -> str:
        return self.scope.arn(f"thing/{name}")

    def group_arn(self, name: str) -> str:
        return self.scope.arn(f"thinggroup/{name}")

    def create_thing_group(
        self,
        *,
        thing_group_name: str,
        parent_group_name: str | None = None,
        thing_group_properties: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> Group:
        check_name(thing_group_name, "thingGroupName")
        props = thing_group_properties or {}
        existing = self.groups.get(thing_group_name)
        if existing is not None:
            if existing.parent == parent_group_name and not existing.dynamic:
                return existing
            raise ResourceAlreadyExistsException(
                f"Thing group {thing_group_name} already exists",
                resource_id=existing.group_id,
                resource_arn=existing.arn,
            )
        if parent_group_name is not None:
            parent = self.group(parent_group_name)
            if parent.dynamic:
                raise InvalidRequestException("Dynamic thing groups cannot be parents")
        return self.new_group(thing_group_name, props, parent=parent_group_name)

    def new_group(
        self, name: str, properties: dict[str, Any], *, parent: str | None = None
    ) -> Group:
        """Create a group record (also used by the index service for dynamic groups)."""
        attrs = apply_attributes(properties.get("attributePayload"), current={})
        description = properties.get("thingGroupDescription")
        group = Group(
            name=name,
            arn=self.group_arn(name),
            group_id=self._new_id(name),
            created=self._now(),
            parent=parent,
            description=description if isinstance(description, str) else None,
            attributes=attrs,
        )
        self.groups[name] = group
        if parent is not None:
            self.groups[parent].children[name] = None
        return group

    def _ancestors(self, group: Group) -> list[Group]:
        chain: list[Group] = []
        parent = group.parent
        while parent is not None:
            chain.append(self.groups[parent])
            parent = self.groups[parent].parent
        return chain[::-1]

    def describe_thing_group(self, *, thing_group_name: str) -> GroupDescription:
        group = self.group(thing_group_name)
        return GroupDescription(group, tuple(self._ancestors(group)))

    def update_thing_group(
        self,
        *,
        thing_group_name: str,
        thing_group_properties: dict[str, Any],
        expected_version: int | None = None,
    ) -> GroupVersion:
        group = self.group(thing_group_name)
        if expected_version is not None and expected_version != group.version:
            raise VersionConflictException(
                f"The version of thing group {thing_group_name} does not match."
            )
        payload = thing_group_properties.get("attributePayload")
        group.attributes = apply_attributes(payload, current=group.attributes)
        description = thing_group_properties.get("thingGroupDescription")
        if isinstance(description, str):
            group.description = description
        group.version += 1
        return GroupVersion(group.version)

    def delete_thing_group(
        self, *, thing_group_name: str, expected_version: int | None = None
    ) -> None:
        check_name(thing_group_name, "thingGroupName")
        group = self.groups.get(thing_group_name)
        if group is None:
            return
        if group.dynamic:
            raise InvalidRequestException(
                f"{thing_group_name} is a dynamic thing group: use DeleteDynamicThingGroup"
            )
        self.remove_group(group, expected_version)

    def remove_group(self, group: Group, expected_version: int | None) -> None:
        if expected_version is not None and expected_version != group.version:
            raise VersionConflictException(
                f"The version of thing group {group.name} does not match."
            )
        if group.children:
            raise InvalidRequestException(
                f"Thing group {group.name} has child groups; delete them first"
            )
        for thing_name in list(group.things):
            self._leave(group.name, thing_name)
        if group.parent is not None:
            self.groups[group.parent].children.pop(group.name, None)
        del self.groups[group.name]

    def list_thing_groups(
        self,
        *,
        next_token: str | None = None,
        max_results: int | None = None,
        parent_group: str | None = None,
        name_prefix_filter: str | None = None,
        recursive: bool | None = None,
    ) -> GroupPage:
        groups = list(self.groups.values())
        if parent_group is not None:
            self.group(parent_group)
            groups = [
                g
                for g in groups
                if (g.parent == parent_group)
                or (recursive and parent_group in {a.name for a in self._ancestors(g)})
            ]
        if name_prefix_filter is not None:
            groups = [g for g in groups if g.name.startswith(name_prefix_filter)]
        items, token = page(groups, max_results, next_token, limit=250)
        return GroupPage(tuple(items), token or None)

    # -- membership -------------------------------------------------------------------------

    def _resolve_pair(
        self,
        group_name: str | None,
        group_arn: str | None,
        thing_name: str | None,
        thing_arn: str | None,
    ) -> tuple[Group, Thing]:
        if group_name is None and group_arn is not None:
            group_name = group_arn.rsplit("/", 1)[-1]
        if thing_name is None and thing_arn is not None:
            thing_name = thing_arn.rsplit("/", 1)[-1]
        if group_name is None or thing_name is None:
            raise InvalidRequestException("A thing group and a thing must be specified")
        return self.group(group_name), self.thing(thing_name)

    def add_thing_to_thing_group(
        self,
        *,
        thing_group_name: str | None = None,
        thing_group_arn: str | None = None,
        thing_name: str | None = None,
        thing_arn: str | None = None,
        override_dynamic_groups: bool | None = None,
    ) -> None:
        group, thing = self._resolve_pair(thing_group_name, thing_group_arn, thing_name, thing_arn)
        if group.dynamic:
            raise InvalidRequestException("Things cannot be added to a dynamic thing group")
        if group.name in thing.groups:
            return
        if len(thing.groups) >= MAX_GROUPS_PER_THING:
            dynamic = [g for g in thing.groups if self.groups[g].dynamic]
            if not (override_dynamic_groups and dynamic):
                raise InvalidRequestException(
                    f"Thing {thing.name} already belongs to {MAX_GROUPS_PER_THING} groups"
                )
            # The newest dynamic group gives way (older dynamic groups win over newer ones).
            newest = max(dynamic, key=lambda g: self.groups[g].created)
            self._leave(newest, thing.name)
        self.join(group.name, thing.name)

    def remove_thing_from_thing_group(
        self,
        *,
        thing_group_name: str | None = None,
        thing_group_arn: str | None = None,
        thing_name: str | None = None,
        thing_arn: str | None = None,
    ) -> None:
        group, thing = self._resolve_pair(thing_group_name, thing_group_arn, thing_name, thing_arn)
        if group.dynamic:
            raise InvalidRequestException("Things cannot be removed from a dynamic thing group")
        self._leave(group.name, thing.name)

    def join(self, group_name: str, thing_name: str) -> None:
        """Record membership and announce it (no limit checks: callers check)."""
        group, thing = self.groups[group_name], self.things[thing_name]
        if thing_name in group.things:
            return
        group.things[thing_name] = None
        group.order.add(thing_name)
        thing.groups = self._groups_of((*thing.groups, group_name))
        self._emit(RegistryEvent("joined", thing_name, group_name))

    def _leave(self, group_name: str, thing_name: str) -> None:
        group, thing = self.groups[group_name], self.things[thing_name]
        if thing_name not in group.things:
            return
        del group.things[thing_name]
        group.order.remove(thing_name)
        thing.groups = self._groups_of(tuple(g for g in thing.groups if g != group_name))
        self._emit(RegistryEvent("left", thing_name, group_name))

    leave = _leave

    def members(self, group_name: str, *, recursive: bool = True) -> Iterator[str]:
        """Thing names in a group and, with ``recursive``, in its descendants (each once)."""
        seen: set[str] = set()
        stack = [self.group(group_name)]
        while stack:
            group = stack.pop()
            for name in group.things:
                if name not in seen:
                    seen.add(name)
                    yield name
            if recursive:
                stack.extend(self.groups[c] for c in reversed(group.children))

    def list_things_in_thing_group(
        self,
        *,
        thing_group_name: str,
        recursive: bool | None = None,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> NamePage:
        """One page of a group's things in the order they joined; with ``recursive``, then its
        descendants' (depth first, each thing once: where it first appears).

        The token holds ``(position, group, entry)``: the group being walked, its position in
        the walk, and the next entry of its :class:`~simulator.core.paging.OrderLog`; a page
        costs O(page) (a thing in several of the groups is checked against its own few groups,
        never against the things listed before). If that group leaves the tree between two
        calls, the walk resumes at its old position (inf: AWS's behaviour then is unknown).
        """
        size = page_size(max_results, limit=_MAX_RESULTS)
        groups = self._subtree(self.group(thing_group_name), recursive=bool(recursive))
        first, start = 0, 0
        if next_token is not None:
            hint, name, start = decode_token(next_token, _IN_GROUP, (int, str, int))
            names = [g.name for g in groups]
            if name in names:
                first = names.index(name)
            else:
                first, start = min(hint, len(groups)), 0
        things = self.things
        items: list[str] = []
        budget = self.scan_budget
        for position in range(first, len(groups)):
            group = groups[position]
            earlier = {g.name for g in groups[:position]}
            for seq, name in group.order.entries(start if position == first else 0):
                if not earlier or earlier.isdisjoint(things[name].groups):
                    if len(items) == size:
                        return NamePage(
                            tuple(items), encode_token(_IN_GROUP, position, group.name, seq)
                        )
                    items.append(name)
                budget -= 1
                if budget <= 0:
                    token = encode_token(_IN_GROUP, position, group.name, seq + 1)
                    return NamePage(tuple(items), token)
        return NamePage(tuple(items), None)

    def _subtree(self, group: Group, *, recursive: bool) -> list[Group]:
        """``group`` and, with ``recursive``, its descendants, depth first in creation order."""
        out: list[Group] = []
        stack = [group]
        while stack:
            group = stack.pop()
            out.append(group)
            if recursive:
                stack.extend(self.groups[c] for c in reversed(group.children))
        return out

    def list_thing_groups_for_thing(
        self,
        *,
        thing_name: str,
        next_token: str | None = None,
        max_results: int | None = None,
    ) -> GroupPage:
        thing = self.thing(thing_name)
        groups = [self.groups[g] for g in thing.groups]
        items, token = page(groups, max_results, next_token, limit=250)
        return GroupPage(tuple(items), token or None)

    def groups_of(self, thing_name: str) -> list[str]:
        """Every group the thing is in, with the ancestors of static groups (for job targets)."""
        out: dict[str, None] = {}
        for name in self.thing(thing_name).groups:
            out[name] = None
            for ancestor in self._ancestors(self.groups[name]):
                out[ancestor.name] = None
        return list(out)
