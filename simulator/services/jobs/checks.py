"""Input checks shared by the Jobs operations (patterns and lengths from the ``iot`` model [B])."""

from __future__ import annotations

import re
import unicodedata
from typing import Final, TypeVar

from simulator.core.errors import InvalidRequestException
from simulator.core.jobs import ExecutionStatus, JobStatus, TargetSelection

__all__ = [
    "check_comment",
    "check_description",
    "check_id",
    "check_reason_code",
    "check_thing_name",
    "enum_value",
    "flag",
    "optional_int",
]

_ID_RE: Final = re.compile(r"[a-zA-Z0-9_-]{1,64}")
_THING_RE: Final = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
_E = TypeVar("_E", ExecutionStatus, JobStatus, TargetSelection)


def _plain(text: str) -> bool:
    if text.isascii():
        return text.isprintable()
    return not any(unicodedata.category(ch).startswith("C") for ch in text)


def check_id(value: object, what: str) -> str:
    """A job or template id: ``[a-zA-Z0-9_-]+``, 1-64 characters."""
    if not isinstance(value, str) or not _ID_RE.fullmatch(value):
        raise InvalidRequestException(f"Invalid {what}: {value!r} (1-64 of [a-zA-Z0-9_-])")
    return value


def check_thing_name(value: object) -> str:
    if not isinstance(value, str) or not _THING_RE.fullmatch(value):
        raise InvalidRequestException(f"Invalid thingName: {value!r}")
    return value


def check_description(value: object, what: str = "description") -> str | None:
    """``JobDescription``/``Comment``: at most 2028 characters, no control characters."""
    if value is None:
        return None
    if not isinstance(value, str) or len(value) > 2028 or (value and not _plain(value)):
        raise InvalidRequestException(f"Invalid {what}: at most 2028 characters, no control ones")
    return value


def check_comment(value: object) -> str | None:
    return check_description(value, "comment")


def check_reason_code(value: object) -> str | None:
    """``ReasonCode``: ``[\\p{Upper}\\p{Digit}_]+``, at most 128 characters."""
    if value is None:
        return None
    if (
        not isinstance(value, str)
        or not 1 <= len(value) <= 128
        or not all(ch == "_" or ch.isdigit() or ch.isupper() for ch in value)
    ):
        raise InvalidRequestException(f"Invalid reasonCode: {value!r}")
    return value


def flag(value: object, what: str) -> bool:
    if value is None:
        return False
    if not isinstance(value, bool):
        raise InvalidRequestException(f"{what} must be a boolean")
    return value


def optional_int(value: object, what: str) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise InvalidRequestException(f"{what} must be an integer")
    return value


def enum_value(kind: type[_E], value: object, what: str) -> _E | None:
    if value is None:
        return None
    try:
        return kind(value)
    except ValueError:
        choices = ", ".join(m.value for m in kind)
        raise InvalidRequestException(f"Invalid {what} {value!r}: one of {choices}") from None
