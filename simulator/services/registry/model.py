"""Registry records (things, thing types, groups), change events and input checks.

The thing registry: things, thing types, thing groups (static and dynamic) and membership.

Operations follow the ``iot`` API: snake_case names of the operations and of their top-level
request members as keyword arguments; results are these records or the typed results of
:mod:`.results` (their wire shapes are :mod:`simulator.api.wire.registry`'s).
Membership changes are announced to subscribers as :class:`RegistryEvent` values, which is how
CONTINUOUS jobs and dynamic groups follow the fleet. Dynamic groups are stored here (so
DescribeThingGroup and ListThingsInThingGroup treat both kinds alike) but created and kept up to
date by :mod:`simulator.services.index`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Final, Literal

from simulator.core.errors import InvalidRequestException
from simulator.core.paging import OrderLog

__all__ = [
    "MAX_ATTRIBUTES",
    "MAX_GROUPS_PER_THING",
    "NO_ATTRIBUTES",
    "Group",
    "PropagatingAttribute",
    "RegistryEvent",
    "Thing",
    "ThingIds",
    "ThingType",
    "ThingTypeProperties",
    "apply_attributes",
    "check_name",
    "format_id",
    "parse_thing_type_properties",
]

NAME_RE: Final = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
_ATTR_NAME_RE: Final = re.compile(r"[a-zA-Z0-9_.,@/:#-]{1,128}")
_ATTR_VALUE_RE: Final = re.compile(r"[a-zA-Z0-9_.,@/:#=\[\]-]{0,800}")
#: Searchable attributes of a thing without / with a thing type (AWS quotas).
MAX_ATTRIBUTES: Final = {False: 3, True: 50}
#: Groups a thing can belong to (AWS quota; dynamic groups are evicted oldest-last past it).
MAX_GROUPS_PER_THING: Final = 10


#: The attributes of every thing that has none (read-only, so all such things share it).
NO_ATTRIBUTES: Final[Mapping[str, str]] = MappingProxyType({})
_ID_MASK: Final = 0xFFFFFFFFFFFF  # ids: a per-account UUID whose last 48 bits count creations


def format_id(base: int, serial: int) -> str:
    """The UUID string of creation number ``serial`` of a registry whose ids start at ``base``."""
    # str(uuid.UUID(int=...)) without building the UUID: a tenth of the cost, per thing.
    digits = f"{base | (serial & _ID_MASK):032x}"
    return f"{digits[:8]}-{digits[8:12]}-{digits[12:16]}-{digits[16:20]}-{digits[20:]}"


@dataclass(frozen=True, slots=True)
class ThingIds:
    """What every thing of one registry shares to derive its ARN and ID (a fleet of a million
    things would otherwise keep two million strings nobody reads in a run)."""

    arn_prefix: str  # arn:<partition>:iot:<region>:<account>:thing/
    id_base: int


@dataclass(slots=True)
class Thing:
    """A registered thing.

    ``arn`` and ``thing_id`` are derived on demand from the registry's :class:`ThingIds` and the
    thing's creation number; ``groups`` is an ordered tuple of group names that the registry
    replaces (never mutates) on each membership change, shared between things in the same
    groups.
    """

    name: str
    ids: ThingIds
    serial: int
    created: float
    thing_type: str | None = None
    attributes: Mapping[str, str] = field(default_factory=lambda: NO_ATTRIBUTES)
    version: int = 1
    groups: tuple[str, ...] = ()

    @property
    def arn(self) -> str:
        return self.ids.arn_prefix + self.name

    @property
    def thing_id(self) -> str:
        return format_id(self.ids.id_base, self.serial)


@dataclass(slots=True)
class Group:
    name: str
    arn: str
    group_id: str
    created: float
    parent: str | None = None
    description: str | None = None
    attributes: dict[str, str] = field(default_factory=dict)
    version: int = 1
    things: dict[str, None] = field(default_factory=dict)  # ordered set of thing names
    #: :attr:`things` in order, for ListThingsInThingGroup's tokens (join and leave keep it).
    order: OrderLog[str] = field(default_factory=OrderLog)
    children: dict[str, None] = field(default_factory=dict)
    # Dynamic groups only:
    query: str | None = None
    query_version: str | None = None
    index_name: str | None = None
    status: Literal["ACTIVE", "BUILDING", "REBUILDING"] | None = None

    @property
    def dynamic(self) -> bool:
        return self.query is not None


@dataclass(frozen=True, slots=True)
class PropagatingAttribute:
    """One of ``mqtt5Configuration.propagatingAttributes``: a thing or connection attribute
    sent as an MQTT 5 user property."""

    user_property_key: str | None = None
    thing_attribute: str | None = None
    connection_attribute: str | None = None


@dataclass(frozen=True, slots=True)
class ThingTypeProperties:
    """``thingTypeProperties`` (``propagating_attributes``: its ``mqtt5Configuration``)."""

    description: str | None = None
    searchable_attributes: tuple[str, ...] | None = None
    propagating_attributes: tuple[PropagatingAttribute, ...] | None = None


@dataclass(frozen=True, slots=True)
class ThingType:
    name: str
    arn: str
    type_id: str
    created: float
    properties: ThingTypeProperties = ThingTypeProperties()
    deprecated: bool = False


@dataclass(frozen=True, slots=True)
class RegistryEvent:
    """A change subscribers care about. ``kind`` says which; ``group`` only for membership."""

    kind: Literal["thing-created", "thing-updated", "thing-deleted", "joined", "left"]
    thing: str
    group: str | None = None


def check_name(name: object, what: str) -> str:
    if not isinstance(name, str) or not NAME_RE.fullmatch(name):
        raise InvalidRequestException(f"Invalid {what}: {name!r}")
    return name


def _optional_str(value: object, what: str) -> str | None:
    if value is not None and not isinstance(value, str):
        raise InvalidRequestException(f"{what} must be a string")
    return value


def parse_thing_type_properties(payload: object) -> ThingTypeProperties:
    """Parse a ``thingTypeProperties`` member (unknown members are ignored, as AWS does)."""
    if payload is None:
        return ThingTypeProperties()
    if not isinstance(payload, dict):
        raise InvalidRequestException("thingTypeProperties must be an object")
    description = _optional_str(payload.get("thingTypeDescription"), "thingTypeDescription")
    searchable = payload.get("searchableAttributes")
    if searchable is not None and (
        not isinstance(searchable, list) or not all(isinstance(a, str) for a in searchable)
    ):
        raise InvalidRequestException("searchableAttributes must be a list of strings")
    mqtt5 = payload.get("mqtt5Configuration")
    propagating: tuple[PropagatingAttribute, ...] | None = None
    if mqtt5 is not None:
        items = mqtt5.get("propagatingAttributes", []) if isinstance(mqtt5, dict) else None
        if not isinstance(items, list) or not all(isinstance(i, dict) for i in items):
            raise InvalidRequestException(
                "mqtt5Configuration.propagatingAttributes must be a list of objects"
            )
        propagating = tuple(
            PropagatingAttribute(
                _optional_str(i.get("userPropertyKey"), "userPropertyKey"),
                _optional_str(i.get("thingAttribute"), "thingAttribute"),
                _optional_str(i.get("connectionAttribute"), "connectionAttribute"),
            )
            for i in items
        )
    return ThingTypeProperties(
        description, None if searchable is None else tuple(searchable), propagating
    )


def apply_attributes(payload: object, *, current: Mapping[str, str]) -> dict[str, str]:
    """Apply an ``attributePayload`` (``merge`` keeps other keys; an empty value removes one)."""
    if payload is None:
        return dict(current)
    if not isinstance(payload, dict):
        raise InvalidRequestException("attributePayload must be an object")
    attrs = payload.get("attributes") or {}
    if not isinstance(attrs, dict):
        raise InvalidRequestException("attributePayload.attributes must be a map")
    out = dict(current) if payload.get("merge") else {}
    for key, value in attrs.items():
        if not isinstance(key, str) or not _ATTR_NAME_RE.fullmatch(key):
            raise InvalidRequestException(f"Invalid attribute name: {key!r}")
        if not isinstance(value, str) or not _ATTR_VALUE_RE.fullmatch(value):
            raise InvalidRequestException(f"Invalid value for attribute {key!r}")
        if value == "" and payload.get("merge"):
            out.pop(key, None)
        else:
            out[key] = value
    return out
