"""A thing's index document: every indexed field flattened to its dotted key.

Built once per change of the thing (the index service caches it) and read by many compiled
queries, so it is shaped for lookups: ``{key: (leaf, ...)}`` where a leaf is
``(lower-cased text, number or None)``. The number is set only for JSON numbers; string values
that look numeric are parsed when a range or comparison needs them. Arrays contribute one leaf per
element under the same key (``shadow.reported.myvalues:2`` matches ``[1, 2, 3]``); objects inside
arrays are flattened under the array's key.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Final, TypeAlias

__all__ = ["IndexDocument", "Leaf", "build_document", "parse_number", "with_group_names"]

Leaf: TypeAlias = tuple[str, float | None]
IndexDocument: TypeAlias = Mapping[str, tuple[Leaf, ...]]

# Stricter than float(): no "nan", "inf", "1_000" or surrounding blanks. Possessive quantifiers:
# what follows each digit run cannot be a digit, so giving digits back never helps, and the
# earlier `[0-9]+\.?[0-9]*` backtracked quadratically (16 ms on an 800-digit value followed by a
# letter, 2 s on 8,000 digits: a range query over a fleet of such values froze the loop).
_NUMBER: Final = re.compile(r"[+-]?(?:[0-9]++(?:\.[0-9]*+)?|\.[0-9]++)(?:[eE][+-]?[0-9]++)?")
_SECTIONS: Final = ("reported", "desired", "delta")


@lru_cache(maxsize=65_536)  # ranges re-parse the same attribute strings across the fleet
def parse_number(text: str) -> float | None:
    """The number ``text`` spells, or ``None`` (the rule for numeric comparison)."""
    if _NUMBER.fullmatch(text) is None:
        return None
    return float(text)


def _leaf(value: object) -> Leaf | None:
    if isinstance(value, str):
        return (value.lower(), None)
    if isinstance(value, bool):  # before int: bool is an int
        return ("true" if value else "false", None)
    if isinstance(value, float):
        return (repr(value).lower(), value)
    if isinstance(value, int):
        try:
            return (str(value), float(value))
        except OverflowError:  # beyond a double: still searchable as text
            return (str(value), None)
    if value is None:
        return None
    return (str(value).lower(), None)


def _flatten(value: Any, key: str, out: dict[str, list[Leaf]]) -> None:
    # Exact-type checks first: documents come from JSON, and ABC checks cost ~10x more (most
    # values are strings, which skip them altogether).
    kind = type(value)
    if kind is not str:
        if kind is dict or (kind is not list and isinstance(value, Mapping)):
            for name, item in value.items():
                _flatten(item, f"{key}.{name}", out)
            return
        if kind is list or isinstance(value, tuple):
            for item in value:
                _flatten(item, key, out)
            return
    leaf = _leaf(value)
    if leaf is not None:
        leaves = out.get(key)
        if leaves is None:
            out[key] = [leaf]
        else:
            leaves.append(leaf)


def build_document(
    *,
    thing_name: str,
    thing_id: str,
    thing_type_name: str | None = None,
    thing_group_names: Iterable[str] = (),
    attributes: Mapping[str, str] | None = None,
    shadows: Mapping[str | None, Mapping[str, Any]] | None = None,
) -> IndexDocument:
    """Flatten one thing's registry data and indexed shadows into its index document.

    Args:
        thing_name: the thing's name.
        thing_id: the thing's ID.
        thing_type_name: its thing type, if any.
        thing_group_names: every group it belongs to.
        attributes: its registry attributes.
        shadows: the indexed shadows' states, ``None`` for the classic shadow, else the shadow
            name; each ``{"desired"?, "reported"?, "delta"?}`` (empty sections omitted).
    """
    out: dict[str, list[Leaf]] = {
        "thingName": [(thing_name.lower(), None)],
        "thingId": [(thing_id.lower(), None)],
    }
    if thing_type_name:
        out["thingTypeName"] = [(thing_type_name.lower(), None)]
    groups: list[Leaf] = [(g.lower(), None) for g in thing_group_names]
    if groups:
        out["thingGroupNames"] = groups
    for name, value in (attributes or {}).items():
        out[f"attributes.{name}"] = [(value.lower(), None)]
    for shadow_name, state in (shadows or {}).items():
        prefix = "shadow" if shadow_name is None else f"shadow.name.{shadow_name}"
        for section in _SECTIONS:
            if section in state:
                _flatten(state[section], f"{prefix}.{section}", out)
        out[f"{prefix}.hasDelta"] = [("true" if state.get("delta") else "false", None)]
    return {key: tuple(leaves) for key, leaves in out.items()}


def with_group_names(document: IndexDocument, group_names: Iterable[str]) -> IndexDocument:
    """A copy of ``document`` with new ``thingGroupNames`` (membership changes are frequent)."""
    out = dict(document)
    groups: tuple[Leaf, ...] = tuple((g.lower(), None) for g in group_names)
    if groups:
        out["thingGroupNames"] = groups
    else:
        out.pop("thingGroupNames", None)
    return out
