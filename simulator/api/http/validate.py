"""Input validation against botocore shapes: types, required, lengths, ranges, enums, patterns.

botocore's client-side validator checks types, required members and ``min`` only; AWS also checks
``max``, ``pattern``, enums and numeric ranges, and answers with messages in this form::

    1 validation error detected: Value 'a b' at 'thingName' failed to satisfy constraint:
    Member must satisfy regular expression pattern: [a-zA-Z0-9:_-]+

Each shape compiles once into a :data:`Check` closure (memoised by shape name, so recursive shapes
terminate) that appends such clauses to a list; the request parser joins them into one error.
Lengths count UTF-16 code units, as Java does. Unknown structure members are ignored, as AWS does.
Patterns that :mod:`.patterns` cannot translate safely are not checked.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape

from simulator.api.http.patterns import compile_java

__all__ = ["Check", "ShapeChecks", "describe_errors", "violation"]

#: ``check(value, path, errors)`` appends one clause per violation to ``errors``.
Check = Callable[[object, str, list[str]], None]

_INT_RANGE: Final[dict[str, tuple[int, int]]] = {
    "integer": (-(2**31), 2**31 - 1),
    "long": (-(2**63), 2**63 - 1),
}
_SHOWN_CHARS: Final = 256
_LISTED_ERRORS: Final = 10


def _show(value: object) -> str:
    text = value if isinstance(value, str) else repr(value)
    if len(text) > _SHOWN_CHARS:
        text = text[:_SHOWN_CHARS] + "..."
    # Undecodable request bytes arrive as lone surrogates; quote them as \udcXX escapes.
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def violation(value: object, path: str, constraint: str) -> str:
    """One clause of a validation message (``value`` ``None`` reads "Value null")."""
    shown = "null" if value is None else f"'{_show(value)}'"
    return f"Value {shown} at '{path}' failed to satisfy constraint: Member must {constraint}"


def describe_errors(errors: list[str]) -> str:
    """Join clauses into AWS's "N validation error(s) detected: ..." message."""
    count = len(errors)
    plural = "s" if count > 1 else ""
    return f"{count} validation error{plural} detected: " + "; ".join(errors[:_LISTED_ERRORS])


def _utf16_len(text: str) -> int:
    return len(text) if text.isascii() else len(text.encode("utf-16-le")) // 2


def _bounds(shape: Shape) -> tuple[float | None, float | None]:
    low = shape.metadata.get("min")
    high = shape.metadata.get("max")
    return (
        low if isinstance(low, int | float) else None,
        high if isinstance(high, int | float) else None,
    )


def _check_size(size: int, value: object, path: str, errors: list[str], shape: Shape) -> None:
    low, high = _bounds(shape)
    if low is not None and size < low:
        errors.append(violation(value, path, f"have length greater than or equal to {int(low)}"))
    if high is not None and size > high:
        errors.append(violation(value, path, f"have length less than or equal to {int(high)}"))


class ShapeChecks:
    """Compiles botocore shapes into :data:`Check` closures, once per shape name."""

    def __init__(self) -> None:
        self._cache: dict[str, Check] = {}

    def check(self, shape: Shape) -> Check:
        cached = self._cache.get(shape.name)
        if cached is not None:
            return cached
        # A forwarding cell first, so a recursive shape refers to itself while compiling.
        cell: list[Check] = []

        def forward(value: object, path: str, errors: list[str]) -> None:
            cell[0](value, path, errors)

        self._cache[shape.name] = forward
        compiled = self._compile(shape)
        cell.append(compiled)
        self._cache[shape.name] = compiled
        return compiled

    def _compile(self, shape: Shape) -> Check:
        kind = shape.type_name
        if kind == "string":
            assert isinstance(shape, StringShape)
            return self._string(shape)
        if kind in ("integer", "long", "float", "double"):
            return self._number(shape)
        if kind == "boolean":
            return _typed(bool, "be a boolean")
        if kind == "timestamp":
            return self._timestamp()
        if kind == "blob":
            return _typed(str, "be a base64-encoded string")
        if kind == "structure":
            assert isinstance(shape, StructureShape)
            if shape.metadata.get("document"):
                return _anything
            return self._structure(shape)
        if kind == "list":
            assert isinstance(shape, ListShape)
            return self._list(shape)
        if kind == "map":
            assert isinstance(shape, MapShape)
            return self._map(shape)
        return _anything

    @staticmethod
    def _string(shape: StringShape) -> Check:
        enum = frozenset(shape.enum)
        enum_text = "[" + ", ".join(shape.enum) + "]"
        raw_pattern = shape.metadata.get("pattern")
        pattern = compile_java(raw_pattern) if isinstance(raw_pattern, str) else None

        def check(value: object, path: str, errors: list[str]) -> None:
            if not isinstance(value, str):
                errors.append(violation(value, path, "be a string"))
                return
            _check_size(_utf16_len(value), value, path, errors, shape)
            if enum and value not in enum:
                errors.append(violation(value, path, f"satisfy enum value set: {enum_text}"))
            if pattern is not None and pattern.fullmatch(value) is None:
                errors.append(
                    violation(value, path, f"satisfy regular expression pattern: {raw_pattern}")
                )

        return check

    @staticmethod
    def _number(shape: Shape) -> Check:
        integral = shape.type_name in _INT_RANGE
        lowest, highest = _INT_RANGE.get(shape.type_name, (None, None))
        low, high = _bounds(shape)
        if low is None or (lowest is not None and low < lowest):
            low = lowest
        if high is None or (highest is not None and high > highest):
            high = highest
        kind = "an integer" if integral else "a number"

        def check(value: object, path: str, errors: list[str]) -> None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(violation(value, path, f"be {kind}"))
                return
            if integral and not isinstance(value, int):
                errors.append(violation(value, path, f"be {kind}"))
                return
            if low is not None and value < low:
                errors.append(violation(value, path, f"have value greater than or equal to {low}"))
            if high is not None and value > high:
                errors.append(violation(value, path, f"have value less than or equal to {high}"))

        return check

    @staticmethod
    def _timestamp() -> Check:
        def check(value: object, path: str, errors: list[str]) -> None:
            if isinstance(value, bool) or not isinstance(value, int | float):
                errors.append(violation(value, path, "be a timestamp in epoch seconds"))

        return check

    def _structure(self, shape: StructureShape) -> Check:
        members = [(name, self.check(member)) for name, member in shape.members.items()]
        required = tuple(shape.required_members)

        def check(value: object, path: str, errors: list[str]) -> None:
            if not isinstance(value, dict):
                errors.append(violation(value, path, "be a structure"))
                return
            for name in required:
                if value.get(name) is None:
                    errors.append(violation(None, f"{path}.{name}", "not be null"))
            for name, member_check in members:
                item = value.get(name)
                if item is not None:
                    member_check(item, f"{path}.{name}", errors)

        return check

    def _list(self, shape: ListShape) -> Check:
        item_check = self.check(shape.member)

        def check(value: object, path: str, errors: list[str]) -> None:
            if not isinstance(value, list):
                errors.append(violation(value, path, "be a list"))
                return
            _check_size(len(value), value, path, errors, shape)
            for index, item in enumerate(value, start=1):
                if item is None:
                    errors.append(violation(None, f"{path}.{index}.member", "not be null"))
                else:
                    item_check(item, f"{path}.{index}.member", errors)

        return check

    def _map(self, shape: MapShape) -> Check:
        key_check = self.check(shape.key)
        value_check = self.check(shape.value)

        def check(value: object, path: str, errors: list[str]) -> None:
            if not isinstance(value, dict):
                errors.append(violation(value, path, "be a map"))
                return
            _check_size(len(value), value, path, errors, shape)
            for key, item in value.items():
                key_check(key, f"{path}.{key}.key", errors)
                if item is None:
                    errors.append(violation(None, f"{path}.{key}.value", "not be null"))
                else:
                    value_check(item, f"{path}.{key}.value", errors)

        return check


def _typed(kind: type, constraint: str) -> Check:
    def check(value: object, path: str, errors: list[str]) -> None:
        if not isinstance(value, kind):
            errors.append(violation(value, path, constraint))

    return check


def _anything(value: object, path: str, errors: list[str]) -> None:
    return None
