"""Which fields the aggregation operations accept, their types, and how their values are read.

AWS's rules (developer guide, "Managed fields" / "Custom fields" and the fleet-indexing
troubleshooting guide):

* an aggregation field must be a **managed** field (typed by AWS) or a **custom** field declared
  with its type in ``thingIndexingConfiguration.customFields``; anything else is
  InvalidAggregationException;
* managed fields of the thing index: ``thingId``, ``thingName`` (String), ``registry.version``
  (Number), ``registry.thingTypeName``, ``registry.thingGroupNames`` (String),
  ``shadow.hasDelta`` and ``shadow.name.<name>.hasDelta`` (Boolean), ``shadow.version`` and
  ``shadow.name.<name>.version`` (Number), and connectivity / Device Defender fields;
* a custom field's value that does not convert to the declared type is ignored by aggregations
  (it is not an error);
* Software Package Catalog: to aggregate ``shadow.name.$package.reported.<pkg>.version``,
  declare it as a custom field ([SPC-fi]) and index ``$package`` (``filter.namedShadowNames``).

Choices where AWS says nothing (inf):

* ``thingTypeName`` and ``thingGroupNames`` (the query language's names) are accepted as aliases
  of the ``registry.`` managed names;
* a field is "indexed" only when the configuration indexes its source: a shadow field needs
  ``REGISTRY_AND_SHADOW``, a named-shadow one also needs that shadow in the filter, else
  InvalidAggregationException;
* a declared custom name with a whole-segment ``*`` (``shadow.name.*.reported.x``, the form the
  guide uses) covers every concrete name it matches;
* Number: JSON numbers and strings that spell a number; Boolean: ``true``/``false`` (JSON or
  text); String: every value, numbers and booleans as their JSON text;
* values are the index's: String values lower-cased (the index matches case-insensitively; AWS
  does not document the case of bucket keys);
* arrays (and ``thingGroupNames``) give one value per element.

Not emulated (InvalidAggregationException saying so): ``shadow.version`` and
``shadow.name.<name>.version`` (the index service reads shadow state, not versions), and
connectivity and Device Defender fields (not indexed by this emulator).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from types import MappingProxyType
from typing import Any, Final, Literal, TypeAlias, cast

from simulator.core.errors import InvalidAggregationException
from simulator.core.fleet_query import IndexDocument, Leaf
from simulator.services.index.config import ThingIndexing
from simulator.services.registry import Thing

__all__ = [
    "DEFAULT_FIELD",
    "AggregationField",
    "FieldType",
    "LiveReported",
    "Reader",
    "raw_reader",
    "resolve_field",
]

FieldType = Literal["Number", "String", "Boolean"]
#: Reads a thing's leaves for the field from its index document (or its registry record).
Reader: TypeAlias = Callable[[Thing, IndexDocument], Sequence[Leaf]]
#: ``ShadowService.reported``: a shadow's live ``reported`` section (no copy), or ``None``.
LiveReported: TypeAlias = Callable[[str, str | None], Mapping[str, Any] | None]

#: GetStatistics' field when the request names none (the guide).
DEFAULT_FIELD: Final = "registry.version"
#: Managed registry fields (and the query language's aliases): name, document key, type.
_REGISTRY_FIELDS: Final[tuple[tuple[str, str, FieldType], ...]] = (
    ("thingId", "thingId", "String"),
    ("thingName", "thingName", "String"),
    ("registry.thingTypeName", "thingTypeName", "String"),
    ("registry.thingGroupNames", "thingGroupNames", "String"),
    ("thingTypeName", "thingTypeName", "String"),
    ("thingGroupNames", "thingGroupNames", "String"),
)
_REGISTRY: Final = {name: (key, kind) for name, key, kind in _REGISTRY_FIELDS}
_UNEMULATED: Final = ("connectivity.", "deviceDefender.")
_NONE: Final[tuple[Leaf, ...]] = ()


@dataclass(frozen=True, slots=True)
class AggregationField:
    """A field an aggregation may use: its name, type and how to read its values."""

    name: str
    type: FieldType
    read: Reader


def _registry_version(thing: Thing, _: IndexDocument) -> Sequence[Leaf]:
    return ((str(thing.version), float(thing.version)),)


def _on_key(key: str) -> Reader:
    def read(_: Thing, document: IndexDocument) -> Sequence[Leaf]:
        return document.get(key, _NONE)

    return read


def _on_pattern(pattern: re.Pattern[str]) -> Reader:
    memo: dict[str, bool] = {}

    def read(_: Thing, document: IndexDocument) -> Sequence[Leaf]:
        out: list[Leaf] = []
        for key, leaves in document.items():
            hit = memo.get(key)
            if hit is None:
                if len(memo) > 10_000:
                    memo.clear()
                hit = memo[key] = pattern.fullmatch(key) is not None
            if hit:
                out.extend(leaves)
        return out

    return read


def _segments_match(declared: str, name: str) -> bool:
    """Whether ``declared`` (``*`` segments allowed) names ``name``."""
    want, have = declared.split("."), name.split(".")
    return len(want) == len(have) and all(w in ("*", h) for w, h in zip(want, have, strict=True))


def _shadow_of(name: str) -> tuple[bool, str | None]:
    """(is a shadow field, named shadow's name or None for the classic shadow)."""
    parts = name.split(".")
    if parts[0] != "shadow":
        return False, None
    if len(parts) > 2 and parts[1] == "name":
        return True, parts[2]
    return True, None


def _check_indexed(name: str, config: ThingIndexing) -> None:
    is_shadow, shadow = _shadow_of(name)
    if not is_shadow:
        return
    if shadow == "*":
        if config.mode != "REGISTRY_AND_SHADOW" or not config.named_shadows:
            raise InvalidAggregationException(f"Field {name} is not indexed: no named shadows")
        return
    if not config.indexes(shadow):
        which = "the classic shadow" if shadow is None else f"named shadow {shadow}"
        raise InvalidAggregationException(
            f"Field {name} is not indexed: the indexing configuration leaves out {which}"
        )


def _managed(name: str, config: ThingIndexing) -> AggregationField | None:
    if name == DEFAULT_FIELD:
        return AggregationField(name, "Number", _registry_version)
    registry = _REGISTRY.get(name)
    if registry is not None:
        return AggregationField(name, registry[1], _on_key(registry[0]))
    parts = name.split(".")
    shadow_managed = (len(parts) == 2 and parts[0] == "shadow") or (
        len(parts) == 4 and parts[:2] == ["shadow", "name"]
    )
    if shadow_managed and parts[-1] == "hasDelta":
        _check_indexed(name, config)
        return AggregationField(name, "Boolean", _on_key(name))
    if shadow_managed and parts[-1] == "version":
        raise InvalidAggregationException(f"Field {name} is not emulated: shadow versions")
    if name.startswith(_UNEMULATED):
        raise InvalidAggregationException(f"Field {name} is not indexed by this emulator")
    return None


def _pattern(name: str) -> re.Pattern[str]:
    return re.compile(r"\.".join("[^.]++" if s == "*" else re.escape(s) for s in name.split(".")))


def resolve_field(name: str, config: ThingIndexing) -> AggregationField:
    """The aggregation field ``name`` under the indexing configuration ``config``.

    Raises:
        InvalidAggregationException: neither a managed field nor a declared custom field, or
            its source is not indexed, or it is not emulated (see the module notes).
    """
    managed = _managed(name, config)
    if managed is not None:
        return managed
    for declared, kind in config.custom_fields:
        if declared == name or ("*" not in name and _segments_match(declared, name)):
            _check_indexed(name, config)
            reader = _on_pattern(_pattern(name)) if "*" in name.split(".") else _on_key(name)
            return AggregationField(name, cast(FieldType, kind), reader)
    raise InvalidAggregationException(
        f"Field {name[:200]} is not a managed field or a custom field of the indexing "
        "configuration (declare it in thingIndexingConfiguration.customFields)"
    )


# -- reading without the index document ---------------------------------------------------------
#
# A query of ``*`` needs no document, and building one per thing (copying its shadows and
# flattening every field) costs ~10-20x reading one value: the run's version timeline samples a
# 100k fleet whose every document a rollout invalidates. For ``*`` and a plain (no ``*``)
# registry, attribute or ``reported`` field, the scan reads the value from the registry record or
# the live shadow instead, as the leaves the document would hold (the property tests compare the
# two paths).


def _leaves(value: object) -> tuple[Leaf, ...]:
    """The leaves :func:`~simulator.core.fleet_query.build_document` makes of ``value`` at a key
    (objects have none at their own key; arrays one per element, objects in them none)."""
    kind = type(value)
    if kind is str:
        return ((cast(str, value).lower(), None),)
    if kind is bool:
        return (("true" if value else "false", None),)
    if kind is float:
        return ((repr(value).lower(), cast(float, value)),)
    if kind is int:
        try:
            return ((str(value), float(cast(int, value))),)
        except OverflowError:
            return ((str(value), None),)
    if value is None or isinstance(value, Mapping):
        return ()
    if isinstance(value, list | tuple):
        return tuple(leaf for item in value for leaf in _leaves(item))
    return ((str(value).lower(), None),)


def _registry_raw(name: str) -> Reader | None:
    if name in ("thingName",):
        return lambda thing, _: ((thing.name.lower(), None),)
    if name in ("thingTypeName", "registry.thingTypeName"):
        return lambda thing, _: _leaves(thing.thing_type) if thing.thing_type else _NONE
    if name in ("thingGroupNames", "registry.thingGroupNames"):
        return lambda thing, _: tuple((g.lower(), None) for g in thing.groups)
    parts = name.split(".")
    if len(parts) == 2 and parts[0] == "attributes":
        key = parts[1]
        return lambda thing, _: _leaves(thing.attributes.get(key))
    return None


def raw_reader(
    field: AggregationField, live: LiveReported | None, cache: dict[str, tuple[Leaf, ...]]
) -> Reader | None:
    """A reader of ``field`` that needs no index document, or ``None`` where there is none
    (wildcards, ``desired``/``delta``/``hasDelta``, thingId, no live ``reported`` access).

    A shadow field's leaves are kept in ``cache`` (thing name -> leaves), which the caller
    empties of a thing whenever its shadows change or it is created or deleted.
    """
    if field.name == DEFAULT_FIELD:
        return field.read
    parts = field.name.split(".")
    if "*" in parts:
        return None
    registry = _registry_raw(field.name)
    if registry is not None or parts[0] != "shadow" or live is None:
        return registry
    shadow: str | None = None
    rest = parts[1:]
    if rest[:1] == ["name"] and len(rest) >= 2:
        shadow, rest = rest[1], rest[2:]
    if len(rest) < 2 or rest[0] != "reported":
        return None
    path = tuple(rest[1:])

    def fresh(name: str) -> tuple[Leaf, ...]:
        value: object = live(name, shadow)
        for key in path:
            kind = type(value)  # exact types first: an ABC isinstance costs ~10x
            if kind is not dict and kind is not MappingProxyType and not isinstance(value, Mapping):
                return _NONE
            value = cast(Mapping[str, object], value).get(key)
        return _leaves(value)

    shared: dict[tuple[Leaf, ...], tuple[Leaf, ...]] = {}

    def read(thing: Thing, _: IndexDocument) -> Sequence[Leaf]:
        leaves = cache.get(thing.name)
        if leaves is None:
            leaves = fresh(thing.name)
            # A fleet holds few distinct values (versions): one tuple each, not one per thing.
            if len(shared) > 10_000:
                shared.clear()
            leaves = cache[thing.name] = shared.setdefault(leaves, leaves)
        return leaves

    return read
