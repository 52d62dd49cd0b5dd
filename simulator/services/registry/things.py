"""The thing registry: things, thing types, thing groups (static and dynamic) and membership.

Operations follow the ``iot`` API: snake_case names of the operations and of their top-level
request members as keyword arguments; results are the records of :mod:`.model` or the typed
results of :mod:`.results` (``None`` for operations with no output members), whose wire shapes
are :mod:`simulator.api.wire.registry`'s.
Membership changes are announced to subscribers as :class:`RegistryEvent` values, which is how
CONTINUOUS jobs and dynamic groups follow the fleet. Dynamic groups are stored here (so
DescribeThingGroup and ListThingsInThingGroup treat both kinds alike) but created and kept up to
date by :mod:`simulator.services.index`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final

from simulator.core.arn import Scope
from simulator.core.errors import (
    InvalidRequestException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    VersionConflictException,
)
from simulator.core.paging import OrderLog, key_page, page_size
from simulator.services.registry.groups import GroupOps, id_base
from simulator.services.registry.model import (
    MAX_ATTRIBUTES,
    NO_ATTRIBUTES,
    Group,
    RegistryEvent,
    Thing,
    ThingIds,
    ThingType,
    apply_attributes,
    check_name,
    parse_thing_type_properties,
)
from simulator.services.registry.results import ThingPage
from simulator.services.runtime import Runtime

__all__ = ["Registry"]

_MAX_RESULTS: Final = 250  # ListThings, ListThingsInThingGroup maxResults [B]


class Registry(GroupOps):
    """Things, thing types and thing groups of one account and region."""

    def __init__(self, runtime: Runtime, scope: Scope) -> None:
        self.runtime = runtime
        self.scope = scope
        self.things: dict[str, Thing] = {}
        #: :attr:`things` in order, for ListThings' and SearchIndex's tokens.
        self.thing_order: OrderLog[str] = OrderLog()
        self.groups: dict[str, Group] = {}
        self.thing_types: dict[str, ThingType] = {}
        self._subscribers: list[Callable[[RegistryEvent], None]] = []
        self._ids = 0
        self._id_base = id_base(scope.account)
        self._thing_ids = ThingIds(self.thing_arn(""), self._id_base)
        self._group_sets: dict[tuple[str, ...], tuple[str, ...]] = {}

    # -- things -----------------------------------------------------------------------------

    def create_thing(
        self,
        *,
        thing_name: str,
        thing_type_name: str | None = None,
        attribute_payload: dict[str, Any] | None = None,
        billing_group_name: str | None = None,
    ) -> Thing:
        check_name(thing_name, "thingName")
        if thing_type_name is not None and thing_type_name not in self.thing_types:
            raise ResourceNotFoundException(f"Thing type {thing_type_name} cannot be found.")
        attrs = apply_attributes(attribute_payload, current=NO_ATTRIBUTES)
        self._check_attribute_count(attrs, typed=thing_type_name is not None)
        existing = self.things.get(thing_name)
        if existing is not None:
            if existing.attributes == attrs and existing.thing_type == thing_type_name:
                return existing  # CreateThing is idempotent for equal input
            raise ResourceAlreadyExistsException(
                f"Thing {thing_name} already exists with different tags or attributes",
                resource_id=existing.thing_id,
                resource_arn=existing.arn,
            )
        thing = Thing(
            name=thing_name,
            ids=self._thing_ids,
            serial=self._new_serial(),
            created=self.runtime.clock(),
            thing_type=thing_type_name,
            attributes=attrs or NO_ATTRIBUTES,
        )
        self.things[thing_name] = thing
        self.thing_order.add(thing_name)
        self._emit(RegistryEvent("thing-created", thing_name))
        return thing

    @staticmethod
    def _check_attribute_count(attrs: dict[str, str], *, typed: bool) -> None:
        limit = MAX_ATTRIBUTES[typed]
        if len(attrs) > limit:
            kind = "with" if typed else "without"
            raise InvalidRequestException(
                f"A thing {kind} a thing type can have at most {limit} attributes"
            )

    def describe_thing(self, *, thing_name: str) -> Thing:
        return self.thing(thing_name)

    def list_things(
        self,
        *,
        next_token: str | None = None,
        max_results: int | None = None,
        attribute_name: str | None = None,
        attribute_value: str | None = None,
        thing_type_name: str | None = None,
        use_prefix_attribute_value: bool | None = None,
    ) -> ThingPage:
        """One page of things in creation order (AWS's order is unverified, inf), filtered as
        the walk goes; its token the next entry of :attr:`thing_order` (O(page) a call)."""
        size = page_size(max_results, limit=_MAX_RESULTS)
        things = self.things
        prefix = (attribute_value or "") if use_prefix_attribute_value else None

        def accept(name: str) -> Thing | None:
            thing = things[name]
            if thing_type_name is not None and thing.thing_type != thing_type_name:
                return None
            if attribute_name is not None:
                value = thing.attributes.get(attribute_name)
                if prefix is not None:
                    if not (value or "").startswith(prefix):
                        return None
                elif value != attribute_value:
                    return None
            return thing

        items, token = key_page(
            self.thing_order, "things", next_token, size, accept, budget=self.scan_budget
        )
        return ThingPage(tuple(items), token or None)

    def update_thing(
        self,
        *,
        thing_name: str,
        thing_type_name: str | None = None,
        attribute_payload: dict[str, Any] | None = None,
        expected_version: int | None = None,
        remove_thing_type: bool | None = None,
    ) -> None:
        thing = self.thing(thing_name)
        if expected_version is not None and expected_version != thing.version:
            raise VersionConflictException(
                f"The version of thing {thing_name} does not match the expected version."
            )
        if thing_type_name is not None and remove_thing_type:
            raise InvalidRequestException("Cannot set and remove the thing type at once")
        if thing_type_name is not None and thing_type_name not in self.thing_types:
            raise ResourceNotFoundException(f"Thing type {thing_type_name} cannot be found.")
        new_type = None if remove_thing_type else (thing_type_name or thing.thing_type)
        attrs = apply_attributes(attribute_payload, current=thing.attributes)
        self._check_attribute_count(attrs, typed=new_type is not None)
        thing.attributes = attrs or NO_ATTRIBUTES
        thing.thing_type = new_type
        thing.version += 1
        self._emit(RegistryEvent("thing-updated", thing_name))

    def delete_thing(self, *, thing_name: str, expected_version: int | None = None) -> None:
        check_name(thing_name, "thingName")
        thing = self.things.get(thing_name)
        if thing is None:
            return  # deleting a thing that does not exist succeeds
        if expected_version is not None and expected_version != thing.version:
            raise VersionConflictException(
                f"The version of thing {thing_name} does not match the expected version."
            )
        for group_name in list(thing.groups):
            self._leave(group_name, thing_name)
        del self.things[thing_name]
        self.thing_order.remove(thing_name)
        self._emit(RegistryEvent("thing-deleted", thing_name))

    # -- thing types --------------------------------------------------------------------------

    def create_thing_type(
        self,
        *,
        thing_type_name: str,
        thing_type_properties: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> ThingType:
        check_name(thing_type_name, "thingTypeName")
        properties = parse_thing_type_properties(thing_type_properties)
        existing = self.thing_types.get(thing_type_name)
        if existing is not None:
            return existing
        thing_type = self.thing_types[thing_type_name] = ThingType(
            name=thing_type_name,
            arn=self.scope.arn(f"thingtype/{thing_type_name}"),
            type_id=self._new_id(thing_type_name),
            created=self.runtime.clock(),
            properties=properties,
        )
        return thing_type

    def describe_thing_type(self, *, thing_type_name: str) -> ThingType:
        thing_type = self.thing_types.get(thing_type_name)
        if thing_type is None:
            raise ResourceNotFoundException(f"Thing type {thing_type_name} cannot be found.")
        return thing_type
