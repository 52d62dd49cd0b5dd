"""Job-execution states and the ONE table of who may move an execution from which status where.

Everything that decides whether an execution may change status lives in :data:`TRANSITIONS`:
the services look a move up here first and mutate only when it is allowed (check, then mutate).

Who moves an execution ([AD:iot-jobs-lifecycle], reference section 3.2):

* the **device** (UpdateJobExecution, StartNextPendingJobExecution) may set only IN_PROGRESS,
  SUCCEEDED, FAILED and REJECTED; IN_PROGRESS -> IN_PROGRESS is allowed (details, step timer);
  QUEUED -> SUCCEEDED/FAILED/REJECTED directly is (mem) allowed, and optional;
* **cancel** (CancelJob, CancelJobExecution without ``force``) cancels only QUEUED executions;
  **force-cancel** also cancels IN_PROGRESS ones;
* **timeout** (the in-progress or step timer) moves IN_PROGRESS to TIMED_OUT;
* **remove** (the thing left a CONTINUOUS job's target group, or was deleted) gives REMOVED;
* **abort** (the job's abort criteria) cancels only QUEUED executions.

A terminal status is final for everyone.
"""

from __future__ import annotations

import enum
import re
import unicodedata
from collections.abc import Mapping
from typing import Final

from simulator.core.errors import InvalidRequestException

__all__ = [
    "DEVICE_STATUSES",
    "MAX_STATUS_DETAILS",
    "TERMINAL",
    "TRANSITIONS",
    "Actor",
    "ExecutionStatus",
    "Refusal",
    "StatusDetailsChecker",
    "check_status_details",
    "check_transition",
]


class ExecutionStatus(enum.Enum):
    """``JobExecutionStatus`` of the ``iot`` and ``iot-jobs-data`` models."""

    QUEUED = "QUEUED"
    IN_PROGRESS = "IN_PROGRESS"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    TIMED_OUT = "TIMED_OUT"
    REJECTED = "REJECTED"
    REMOVED = "REMOVED"
    CANCELED = "CANCELED"

    # Members are singletons: identity hashing is exact and, unlike Enum's default (a Python
    # call hashing the name), runs in C. Statuses key every count and table lookup of the
    # service's hot path.
    __hash__ = object.__hash__

    @property
    def terminal(self) -> bool:
        return self in TERMINAL


class Actor(enum.Enum):
    """Who asks for a status change."""

    DEVICE = "device"
    CANCEL = "cancel"
    FORCE_CANCEL = "force-cancel"
    TIMEOUT = "timeout"
    REMOVE = "remove"
    ABORT = "abort"

    __hash__ = object.__hash__  # see ExecutionStatus


class Refusal(enum.Enum):
    """Why :func:`check_transition` refused a move."""

    TERMINAL = "the job execution is already in a terminal state"
    NOT_DEVICE_STATUS = "devices may only set IN_PROGRESS, SUCCEEDED, FAILED or REJECTED"
    NEEDS_FORCE = "the job execution is IN_PROGRESS; force is required"
    NOT_STARTED = "the job execution must be IN_PROGRESS first"
    NOT_ALLOWED = "this transition is not allowed"


_S = ExecutionStatus
TERMINAL: Final = frozenset(
    {_S.SUCCEEDED, _S.FAILED, _S.TIMED_OUT, _S.REJECTED, _S.REMOVED, _S.CANCELED}
)
#: The statuses UpdateJobExecution accepts from a device ([AD:jobs-mqtt-api], [B]).
DEVICE_STATUSES: Final = frozenset({_S.IN_PROGRESS, _S.SUCCEEDED, _S.FAILED, _S.REJECTED})
_DEVICE_END: Final = frozenset({_S.SUCCEEDED, _S.FAILED, _S.REJECTED})

#: (current status, actor) -> the statuses that actor may set. Absent pairs allow nothing.
TRANSITIONS: Final[Mapping[tuple[ExecutionStatus, Actor], frozenset[ExecutionStatus]]] = {
    (_S.QUEUED, Actor.DEVICE): DEVICE_STATUSES,  # the direct QUEUED -> terminal moves are (mem)
    (_S.IN_PROGRESS, Actor.DEVICE): DEVICE_STATUSES,
    (_S.QUEUED, Actor.CANCEL): frozenset({_S.CANCELED}),
    (_S.QUEUED, Actor.FORCE_CANCEL): frozenset({_S.CANCELED}),
    (_S.IN_PROGRESS, Actor.FORCE_CANCEL): frozenset({_S.CANCELED}),
    (_S.IN_PROGRESS, Actor.TIMEOUT): frozenset({_S.TIMED_OUT}),
    (_S.QUEUED, Actor.REMOVE): frozenset({_S.REMOVED}),
    (_S.IN_PROGRESS, Actor.REMOVE): frozenset({_S.REMOVED}),
    (_S.QUEUED, Actor.ABORT): frozenset({_S.CANCELED}),
}


def check_transition(
    current: ExecutionStatus,
    actor: Actor,
    target: ExecutionStatus,
    *,
    queued_to_terminal: bool = True,
) -> Refusal | None:
    """Whether ``actor`` may move an execution from ``current`` to ``target``.

    Args:
        current: the execution's status now.
        actor: who asks.
        target: the status asked for.
        queued_to_terminal: allow a device to end a QUEUED execution without starting it
            (``JobsOptions.allow_queued_to_terminal``; (mem) AWS allows it).

    Returns:
        ``None`` when the move is allowed, else the reason it is refused.
    """
    allowed = TRANSITIONS.get((current, actor))
    if allowed is not None and target in allowed:
        if not queued_to_terminal and current is _S.QUEUED and target in _DEVICE_END:
            return Refusal.NOT_STARTED
        return None
    if current in TERMINAL:
        return Refusal.TERMINAL
    if actor is Actor.DEVICE and target not in DEVICE_STATUSES:
        return Refusal.NOT_DEVICE_STATUS
    if actor in (Actor.CANCEL, Actor.ABORT) and current is _S.IN_PROGRESS:
        return Refusal.NEEDS_FORCE
    return Refusal.NOT_ALLOWED


# -- statusDetails ---------------------------------------------------------------------------

MAX_STATUS_DETAILS: Final = 10
_DETAIL_KEY_RE: Final = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
_MAX_DETAIL_VALUE: Final = 1024


def _no_control_chars(text: str) -> bool:
    if text.isascii():
        return text.isprintable()  # ASCII: printable == no Cc character
    # The model's `[^\p{C}]` excludes control, format, surrogate, private-use and unassigned.
    return not any(unicodedata.category(ch).startswith("C") for ch in text)


class StatusDetailsChecker:
    """Validates ``statusDetails`` maps, remembering the keys and values already found valid.

    Devices send the same few keys and values over and over: those already checked skip their
    check. The memos are bounded (cleared when full) and belong to this object, so each Jobs
    store has its own and nothing is shared process-wide.
    """

    __slots__ = ("_keys", "_size", "_values")

    def __init__(self, size: int = 1024) -> None:
        self._keys: dict[str, None] = {}
        self._values: dict[str, None] = {}
        self._size = size

    def __call__(self, details: object, /) -> dict[str, str]:
        """Validate a ``statusDetails`` map and return it as a fresh ``dict``.

        Rules [B]: at most 10 pairs; keys ``[a-zA-Z0-9:_-]+`` of 1-128 characters; values
        ``[^\\p{C}]+`` of 1-1024 characters.

        Raises:
            InvalidRequestException: naming the first offending pair.
        """
        if not isinstance(details, dict):
            raise InvalidRequestException("statusDetails must be a map of strings to strings")
        if len(details) > MAX_STATUS_DETAILS:
            raise InvalidRequestException(
                f"statusDetails can have at most {MAX_STATUS_DETAILS} entries, got {len(details)}"
            )
        keys, values = self._keys, self._values
        for key, value in details.items():
            if key not in keys:
                if not isinstance(key, str) or not _DETAIL_KEY_RE.fullmatch(key):
                    raise InvalidRequestException(
                        f"Invalid statusDetails key {key!r}: 1-128 characters of [a-zA-Z0-9:_-]"
                    )
                self._remember(keys, key)
            if type(value) is str and value in values:
                continue
            if (
                not isinstance(value, str)
                or not 1 <= len(value) <= _MAX_DETAIL_VALUE
                or not _no_control_chars(value)
            ):
                raise InvalidRequestException(
                    f"Invalid statusDetails value for {key!r}: 1-{_MAX_DETAIL_VALUE} characters "
                    "without control characters"
                )
            self._remember(values, value)
        return dict(details)

    def _remember(self, memo: dict[str, None], text: str) -> None:
        if len(memo) >= self._size:
            memo.clear()
        memo[text] = None


def check_status_details(details: object) -> dict[str, str]:
    """Validate a ``statusDetails`` map once, with no memory (see :class:`StatusDetailsChecker`).

    Raises:
        InvalidRequestException: naming the first offending pair.
    """
    return StatusDetailsChecker(size=0)(details)
