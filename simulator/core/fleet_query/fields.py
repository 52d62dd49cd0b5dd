"""Which fields a query may name, and what the index knows about each.

Field names are case-sensitive and dotted. The index holds:

* registry: ``thingName``, ``thingId``, ``thingTypeName``, ``thingGroupNames``,
  ``attributes.<name>``;
* the classic shadow: ``shadow.reported.<path>``, ``shadow.desired.<path>``,
  ``shadow.delta.<path>``, ``shadow.hasDelta``;
* named shadows: the same under ``shadow.name.<shadowName>.``.

A path segment that is exactly ``*`` matches any key (``shadow.name.$package.reported.*.version``).

**Version fields** (``registry.version``, ``shadow.version``, ``shadow.name.<n>.version``) are
accepted but *match nothing*: AWS says they are "not searchable, but present in the response", and
an unindexed field on AWS matches nothing rather than failing (inf). ``NOT shadow.version:1``
therefore matches every thing. Fields this emulator does not index (``connectivity.*``,
``deviceDefender.*``, ``shadow.metadata.*``) and unknown fields are refused.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Final

from simulator.core.errors import InvalidQueryException
from simulator.core.fleet_query.lexer import query_error

__all__ = ["FieldInfo", "check_field"]

_REGISTRY: Final = frozenset({"thingName", "thingId", "thingTypeName", "thingGroupNames"})
_SECTIONS: Final = frozenset({"reported", "desired", "delta"})
_UNEMULATED: Final = frozenset({"connectivity", "deviceDefender"})


@dataclass(frozen=True, slots=True)
class FieldInfo:
    """What a field name means to the index.

    Attributes:
        name: the dotted name, escapes resolved.
        searchable: ``False`` for the version fields, which match nothing.
        package_version: the ``version`` key of a ``$package`` entry, which allows no range or
            comparison.
        pattern: a regex over index keys when the name has ``*`` segments, else ``None``.
    """

    name: str
    searchable: bool = True
    package_version: bool = False
    pattern: re.Pattern[str] | None = None


def _key_pattern(segments: list[str]) -> re.Pattern[str] | None:
    if "*" not in segments:
        return None
    # Possessive: a '*' segment can never give back characters to a '.', so no backtracking.
    return re.compile(r"\.".join("[^.]++" if s == "*" else re.escape(s) for s in segments))


def _shadow(segments: list[str], fail: Callable[[str], InvalidQueryException]) -> tuple[bool, bool]:
    """Check ``shadow.…``; return (searchable, package_version)."""
    rest = segments[1:]
    name: str | None = None
    if rest[:1] == ["name"]:
        if len(rest) < 3:
            raise fail("a named-shadow field needs a shadow name and a section")
        name, rest = rest[1], rest[2:]
    if rest == ["hasDelta"]:
        return True, False
    if rest == ["version"]:
        return False, False
    if rest[0] == "metadata":
        raise fail("shadow metadata is not indexed by this emulator")
    if rest[0] not in _SECTIONS:
        raise fail("expected reported, desired, delta, hasDelta or version after the shadow")
    if len(rest) < 2:
        raise fail(f"'{rest[0]}' needs a path")
    package_version = name == "$package" and rest[0] == "reported" and len(rest) == 3
    return True, package_version and rest[2] == "version"


def _error(name: str, pos: int, why: str) -> InvalidQueryException:
    return query_error(f"unsupported field {name!r}: {why}", pos)


def check_field(name: str, wild: tuple[int, ...], pos: int) -> FieldInfo:
    """Validate a field name from the query.

    Args:
        name: the field as written, escapes resolved.
        wild: indexes of unescaped wildcard characters in ``name``.
        pos: where the field starts in the query (for messages).

    Raises:
        InvalidQueryException: an unknown or unemulated field, an empty path segment, or a
            wildcard that is not a whole path segment.
    """
    fail = partial(_error, name, pos)
    segments = name.split(".")
    offset = 0
    for seg in segments:
        if not seg:
            raise fail("empty path segment")
        if seg != "*" and any(offset <= w < offset + len(seg) for w in wild):
            raise fail("a wildcard in a field name must be a whole path segment")
        offset += len(seg) + 1
    root = segments[0]
    if root in _REGISTRY:
        if len(segments) > 1:
            raise fail(f"'{root}' has no sub-fields")
        return FieldInfo(name)
    if root == "attributes":
        if len(segments) < 2:
            raise fail("name the attribute: attributes.<name>")
        return FieldInfo(name, pattern=_key_pattern(segments))
    if root == "registry":
        if segments[1:] != ["version"]:
            raise fail("only registry.version exists (and it is not searchable)")
        return FieldInfo(name, searchable=False)
    if root == "shadow":
        if len(segments) < 2:
            raise fail("expected shadow.reported, shadow.desired, shadow.name.<name>...")
        searchable, package_version = _shadow(segments, fail)
        return FieldInfo(name, searchable, package_version, _key_pattern(segments))
    if root in _UNEMULATED:
        raise fail("not indexed by this emulator")
    raise fail("unknown field")
