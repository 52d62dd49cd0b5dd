"""Field readers shared by the configuration parsers: each raises InvalidRequestException
naming the field (``path.key``) and the rule it breaks."""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any, TypeVar

from simulator.core.errors import InvalidRequestException

__all__ = ["choice", "drop_none", "fail", "int_", "list_", "number", "object_", "req"]

_T = TypeVar("_T")


def fail(path: str, rule: str) -> InvalidRequestException:
    return InvalidRequestException(f"{path}: {rule}")


def object_(raw: object, path: str, allowed: frozenset[str]) -> Mapping[str, Any]:
    if not isinstance(raw, dict):
        raise fail(path, "must be an object")
    unknown = sorted(str(k) for k in raw if k not in allowed)
    if unknown:
        raise fail(path, f"unknown member(s) {', '.join(unknown)}")
    return raw


def int_(obj: Mapping[str, Any], key: str, path: str, lo: int, hi: int | None) -> int | None:
    value = obj.get(key)
    if value is None:
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if not isinstance(value, int) or isinstance(value, bool):
        raise fail(f"{path}.{key}", "must be an integer")
    if value < lo or (hi is not None and value > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise fail(f"{path}.{key}", f"must be {bound}, got {value}")
    return value


def req(value: _T | None, path: str) -> _T:
    if value is None:
        raise fail(path, "is required")
    return value


def number(
    obj: Mapping[str, Any], key: str, path: str, lo: float, hi: float, *, decimals: int
) -> float | None:
    value = obj.get(key)
    if value is None:
        return None
    if not isinstance(value, int | float) or isinstance(value, bool) or not math.isfinite(value):
        raise fail(f"{path}.{key}", "must be a number")
    number = float(value)
    if not lo <= number <= hi:
        raise fail(f"{path}.{key}", f"must be between {lo:g} and {hi:g}, got {number:g}")
    scaled = number * 10**decimals
    if abs(scaled - round(scaled)) > 1e-6:
        raise fail(f"{path}.{key}", f"supports at most {decimals} digit(s) after the decimal")
    return number


def choice(obj: Mapping[str, Any], key: str, path: str, choices: tuple[str, ...]) -> str | None:
    value = obj.get(key)
    if value is None:
        return None
    if value not in choices:
        raise fail(f"{path}.{key}", f"must be one of {', '.join(choices)}, got {value!r}")
    return str(value)


def list_(obj: Mapping[str, Any], key: str, path: str, lo: int, hi: int | None) -> list[Any]:
    value = obj.get(key)
    if not isinstance(value, list):
        raise fail(f"{path}.{key}", "must be a list")
    if len(value) < lo or (hi is not None and len(value) > hi):
        bound = f"{lo} to {hi}" if hi is not None else f"at least {lo}"
        raise fail(f"{path}.{key}", f"must have {bound} elements, got {len(value)}")
    return value


def drop_none(out: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in out.items() if v is not None}
