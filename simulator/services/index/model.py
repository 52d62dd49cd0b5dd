"""Options, the shadow interface, and the one build-status transition table of the index service.

The ``AWS_Things`` index and every dynamic thing group follow the same small machine: created
BUILDING, ACTIVE once built, REBUILDING after a change, ACTIVE again once rebuilt.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Final, Literal, Protocol

from simulator.core.fleet_query import QuerySyntax

__all__ = [
    "TRANSITIONS",
    "BuildStatus",
    "Change",
    "IndexOptions",
    "ShadowSource",
    "advance",
    "wire_status",
]


@dataclass(frozen=True, slots=True)
class IndexOptions:
    """Behaviour AWS leaves undocumented or unquantified.

    Attributes:
        build_delay_s: how long a dynamic group stays BUILDING (or REBUILDING after an update)
            before its membership is complete and it turns ACTIVE (inf: AWS gives no figure).
        index_build_delay_s: how long ``AWS_Things`` stays BUILDING after indexing is turned on
            (SearchIndex answers IndexNotReadyException meanwhile) or REBUILDING after a change;
            ``0`` makes it ACTIVE at once.
        update_delay_s: the lag between a registry or shadow change and the dynamic-group
            membership that follows from it (membership is eventually consistent on AWS). The
            update always runs from the scheduler, never inside the change that caused it.
        max_dynamic_groups: dynamic groups per account (mem: AWS quota 100) before
            LimitExceededException.
        max_named_shadow_names: names in ``filter.namedShadowNames``, ``$package`` not counted
            [SPC-prep] (AWS default quota 10).
        max_results: the largest SearchIndex page (the docs say 100; the model sets no maximum).
        syntax: query-language limits (``max_terms``) and dialect choices.
        step_things: things evaluated per slice of long index work: one step of a SearchIndex
            scan, one scheduler callback of a dynamic group's build or of a membership update.
            Not AWS behaviour: it bounds how long one slice holds the event loop (1,000
            documents with 800-character attributes, built uncached: ~15 ms; fleetsim's own
            choice, by measurement).
    """

    build_delay_s: float = 1.0
    index_build_delay_s: float = 0.0
    update_delay_s: float = 0.0
    max_dynamic_groups: int = 100
    max_named_shadow_names: int = 10
    max_results: int = 100
    syntax: QuerySyntax = field(default_factory=QuerySyntax)
    step_things: int = 1_000

    def __post_init__(self) -> None:
        if self.step_things < 1:
            raise ValueError("step_things must be at least 1")


class ShadowSource(Protocol):
    """What the index needs from the Device Shadow service."""

    def subscribe(self, callback: Callable[[str, str | None], None], /) -> None:
        """Call ``callback(thing_name, shadow_name or None)`` after each accepted change."""

    def state(self, thing_name: str, shadow_name: str | None, /) -> Mapping[str, Any] | None:
        """``{"desired"?, "reported"?, "delta"?}`` of a shadow, or ``None`` if it has none."""


class BuildStatus(enum.Enum):
    BUILDING = "BUILDING"
    REBUILDING = "REBUILDING"
    ACTIVE = "ACTIVE"


class Change(enum.Enum):
    CREATE = "create"  # indexing turned on / dynamic group created
    UPDATE = "update"  # indexed content or query changed
    BUILT = "built"  # the build timer fired


#: Every allowed (status, change) -> status; ``None`` is "does not exist yet". Anything missing is
#: a no-op (a build timer that fires after a newer update rescheduled it is simply stale).
TRANSITIONS: Final[Mapping[tuple[BuildStatus | None, Change], BuildStatus]] = {
    (None, Change.CREATE): BuildStatus.BUILDING,
    (BuildStatus.BUILDING, Change.BUILT): BuildStatus.ACTIVE,
    (BuildStatus.REBUILDING, Change.BUILT): BuildStatus.ACTIVE,
    (BuildStatus.ACTIVE, Change.UPDATE): BuildStatus.REBUILDING,
    (BuildStatus.BUILDING, Change.UPDATE): BuildStatus.BUILDING,
    (BuildStatus.REBUILDING, Change.UPDATE): BuildStatus.REBUILDING,
}


def advance(status: BuildStatus | None, change: Change) -> BuildStatus | None:
    """The status after ``change``, or ``None`` when the table has no such transition."""
    return TRANSITIONS.get((status, change))


_WIRE: Final[dict[BuildStatus, Literal["ACTIVE", "BUILDING", "REBUILDING"]]] = {
    BuildStatus.ACTIVE: "ACTIVE",
    BuildStatus.BUILDING: "BUILDING",
    BuildStatus.REBUILDING: "REBUILDING",
}


def wire_status(status: BuildStatus) -> Literal["ACTIVE", "BUILDING", "REBUILDING"]:
    """The status as DescribeThingGroup and DescribeIndex spell it."""
    return _WIRE[status]
