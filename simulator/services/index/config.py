"""The indexing configuration: validated from UpdateIndexingConfiguration input, echoed back.

GetIndexingConfiguration echoes these records in AWS's shape through
:mod:`simulator.api.wire.index`.

Only what the emulator indexes changes behaviour (``thingIndexingMode``,
``namedShadowIndexingMode``, ``filter.namedShadowNames``) and ``customFields`` (which fields the
aggregations accept, :mod:`.aggfields`); connectivity, Device Defender and managed fields are
validated for shape and kept so GetIndexingConfiguration echoes them. A custom field may not be a
managed one, nor a shadow field in ``REGISTRY`` mode (the guide).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal, cast

from simulator.core.errors import InvalidRequestException

__all__ = ["PACKAGE_SHADOW", "GroupIndexing", "ThingIndexing", "parse_group", "parse_thing"]

PACKAGE_SHADOW: Final = "$package"
_SHADOW_NAME_RE: Final = re.compile(r"[$a-zA-Z0-9:_-]{1,64}")
ThingMode = Literal["OFF", "REGISTRY", "REGISTRY_AND_SHADOW"]
_THING_MODES: Final = ("OFF", "REGISTRY", "REGISTRY_AND_SHADOW")
_FIELD_TYPES: Final = ("Number", "String", "Boolean")
_MANAGED: Final = frozenset(
    {
        "thingId",
        "thingName",
        "registry.version",
        "registry.thingTypeName",
        "registry.thingGroupNames",
        "shadow.version",
        "shadow.hasDelta",
    }
)


@dataclass(frozen=True, slots=True)
class ThingIndexing:
    """``thingIndexingConfiguration`` as the emulator keeps it."""

    mode: ThingMode = "OFF"
    named_shadows: bool = False
    shadow_names: tuple[str, ...] = ()
    connectivity: str = "OFF"
    device_defender: str = "OFF"
    custom_fields: tuple[tuple[str, str], ...] = ()
    geo_locations: tuple[tuple[str, str], ...] = ()

    @property
    def enabled(self) -> bool:
        return self.mode != "OFF"

    def indexes(self, shadow_name: str | None) -> bool:
        """Whether the index holds this shadow (``None``: the classic shadow)."""
        if self.mode != "REGISTRY_AND_SHADOW":
            return False
        return shadow_name is None or (self.named_shadows and shadow_name in self.shadow_names)

    def schema(self) -> str:
        """DescribeIndex's ``schema``."""
        base = str(self.mode)
        return f"{base}_AND_CONNECTIVITY_STATUS" if self.connectivity == "STATUS" else base


@dataclass(frozen=True, slots=True)
class GroupIndexing:
    """``thingGroupIndexingConfiguration`` (kept and echoed; group search is not emulated)."""

    mode: Literal["OFF", "ON"] = "OFF"
    custom_fields: tuple[tuple[str, str], ...] = ()


def _choice(raw: dict[str, Any], key: str, allowed: tuple[str, ...], default: str | None) -> str:
    value = raw.get(key, default)
    if value not in allowed:
        raise InvalidRequestException(f"{key} must be one of {', '.join(allowed)}, not {value!r}")
    return cast(str, value)


def _fields(raw: object, what: str) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidRequestException(f"{what} must be a list")
    out: list[tuple[str, str]] = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidRequestException(f"Each of {what} needs a name")
        kind = item.get("type", "String")
        if kind not in _FIELD_TYPES:
            raise InvalidRequestException(f"Invalid type {kind!r} for field {item['name']!r}")
        out.append((item["name"], kind))
    return tuple(out)


def _shadow_names(raw: object, limit: int) -> tuple[str, ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidRequestException("filter.namedShadowNames must be a list")
    names: dict[str, None] = {}
    for name in raw:
        if not isinstance(name, str) or not _SHADOW_NAME_RE.fullmatch(name):
            raise InvalidRequestException(f"Invalid named shadow name: {name!r}")
        names[name] = None
    counted = [n for n in names if n != PACKAGE_SHADOW]  # $package is not counted [SPC-prep]
    if len(counted) > limit:
        raise InvalidRequestException(
            f"At most {limit} named shadows can be indexed ($package is not counted)"
        )
    return tuple(names)


def _geo(raw: object) -> tuple[tuple[str, str], ...]:
    if raw is None:
        return ()
    if not isinstance(raw, list):
        raise InvalidRequestException("filter.geoLocations must be a list")
    out = []
    for item in raw:
        if not isinstance(item, dict) or not isinstance(item.get("name"), str):
            raise InvalidRequestException("Each geoLocation needs a name")
        out.append((item["name"], _choice(item, "order", ("LatLon", "LonLat"), "LatLon")))
    return tuple(out)


def _managed(name: str) -> bool:
    parts = name.split(".")
    named = len(parts) == 4 and parts[:2] == ["shadow", "name"]
    return name in _MANAGED or (named and parts[3] in ("version", "hasDelta"))


def _check_custom(fields: tuple[tuple[str, str], ...], mode: str) -> None:
    """The guide: managed fields "can't appear in customFields", and in ``REGISTRY`` mode "you
    can't specify a custom field from a thing shadow" (the error type is inf)."""
    for name, _ in fields:
        if _managed(name):
            raise InvalidRequestException(f"{name} is a managed field, not a custom field")
        if mode == "REGISTRY" and name.startswith("shadow."):
            raise InvalidRequestException(
                f"Custom field {name} needs thingIndexingMode REGISTRY_AND_SHADOW"
            )


def parse_thing(raw: object, *, max_shadow_names: int) -> ThingIndexing:
    """Validate a ``thingIndexingConfiguration``.

    Raises:
        InvalidRequestException: a missing or unknown mode, a malformed filter or field list, or
            more named shadows than ``max_shadow_names``.
    """
    if not isinstance(raw, dict):
        raise InvalidRequestException("thingIndexingConfiguration must be an object")
    if "thingIndexingMode" not in raw:
        raise InvalidRequestException("thingIndexingConfiguration.thingIndexingMode is required")
    flt = raw.get("filter") or {}
    if not isinstance(flt, dict):
        raise InvalidRequestException("filter must be an object")
    mode = cast(ThingMode, _choice(raw, "thingIndexingMode", _THING_MODES, None))
    custom = _fields(raw.get("customFields"), "customFields")
    _check_custom(custom, mode)
    return ThingIndexing(
        mode=mode,
        named_shadows=_choice(raw, "namedShadowIndexingMode", ("OFF", "ON"), "OFF") == "ON",
        shadow_names=_shadow_names(flt.get("namedShadowNames"), max_shadow_names),
        connectivity=_choice(raw, "thingConnectivityIndexingMode", ("OFF", "STATUS"), "OFF"),
        device_defender=_choice(raw, "deviceDefenderIndexingMode", ("OFF", "VIOLATIONS"), "OFF"),
        custom_fields=custom,
        geo_locations=_geo(flt.get("geoLocations")),
    )


def parse_group(raw: object) -> GroupIndexing:
    """Validate a ``thingGroupIndexingConfiguration``.

    Raises:
        InvalidRequestException: a missing or unknown mode or a malformed field list.
    """
    if not isinstance(raw, dict):
        raise InvalidRequestException("thingGroupIndexingConfiguration must be an object")
    if "thingGroupIndexingMode" not in raw:
        raise InvalidRequestException(
            "thingGroupIndexingConfiguration.thingGroupIndexingMode is required"
        )
    mode = _choice(raw, "thingGroupIndexingMode", ("OFF", "ON"), None)
    return GroupIndexing(
        mode="ON" if mode == "ON" else "OFF",
        custom_fields=_fields(raw.get("customFields"), "customFields"),
    )
