"""A scenario's fault schedule (``[[faults]]``): connections that drop at chosen moments.

One kind is played in process, ``drop = "device"``: while the fault's window is open
(``at_s`` to ``at_s + for_s`` of the run), a device's connection drops right after it publishes
a ``$package`` report, before the PUBACK (with the fault's ``probability``, per report). The
device's MQTT client reconnects at once and goes on with its Jobs traffic; the QoS 1 report it
sent is in flight on the dropped connection and reaches the Device Shadow service
``redelivery_s`` after it was sent (the broker's redelivery). QoS 1 is at least once, and the
order in which AWS IoT hands one client's messages to the shadow service across a reconnect is
not something it promises (not verified in our reference: hence the fault is opt-in and its odds
and delay are the scenario's): a report the device sends after the reconnect may land first,
and the late one then overwrites it. The shadow's answer to this is its version: a report
carrying the ``$package`` version it was written against is refused (409) when something newer
landed first.

``drop = "bridge-connection"`` and ``drop = "broker"`` are the faults of a run over a broker
(the emulator's bridge connections, or the broker itself); they are refused until such a run can
play them (the README's race catalogue says what they need).

:class:`FaultSchedule` is what the in-process bus asks for each ``$package`` report: the extra
delay it suffers (0.0 when no fault strikes it). Its draws come from their own seeded streams,
so a fault changes no other draw of the run.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Final

import msgspec

from simulator.core.distributions import Distribution, parse_distribution, stream
from simulator.core.errors import UsageError

__all__ = ["DROP_KINDS", "FaultSchedule", "FaultSpec", "validate_faults"]

#: What a fault can drop; only ``device`` is played (in process) so far.
DROP_KINDS: Final = ("device", "bridge-connection", "broker")
_PLAYED: Final = frozenset({"device"})
#: How the topic of a device's own ``$package`` update ends.
_PACKAGE_UPDATE: Final = "/shadow/name/$package/update"
_UNIFORM: Final = Distribution("uniform", 0.0, 1.0)


class FaultSpec(msgspec.Struct, forbid_unknown_fields=True, frozen=True, kw_only=True):
    """One ``[[faults]]`` entry."""

    drop: str
    at_s: float = 0.0
    for_s: float
    probability: float = 1.0
    redelivery_s: str | float = "uniform(30, 120)"


def validate_faults(faults: Sequence[FaultSpec]) -> list[Distribution]:
    """Check every fault; return each one's ``redelivery_s`` distribution.

    Raises:
        UsageError: a field that breaks the rules, named by its path (``$.faults[0].for_s``).
    """
    delays = []
    for i, fault in enumerate(faults):
        where = f"$.faults[{i}]"
        if fault.drop not in DROP_KINDS:
            raise UsageError(
                f"{where}.drop: unknown fault {fault.drop!r}; use one of {', '.join(DROP_KINDS)}"
            )
        if fault.drop not in _PLAYED:
            raise UsageError(
                f"{where}.drop: {fault.drop!r} needs a run over a broker, which cannot play "
                'faults yet; use "device" (a device connection dropped after a $package report)'
            )
        if not (math.isfinite(fault.at_s) and fault.at_s >= 0):
            raise UsageError(f"{where}.at_s: must be non-negative, got {fault.at_s}")
        if not (math.isfinite(fault.for_s) and fault.for_s > 0):
            raise UsageError(f"{where}.for_s: must be positive, got {fault.for_s}")
        if not 0.0 <= fault.probability <= 1.0:
            raise UsageError(
                f"{where}.probability: must be a probability between 0 and 1, "
                f"got {fault.probability}"
            )
        delays.append(parse_distribution(fault.redelivery_s, field=f"{where}.redelivery_s"))
    return delays


class FaultSchedule:
    """The faults of one in-process run, on its clock (``start``: the run's time 0)."""

    __slots__ = ("_windows", "held")

    def __init__(
        self,
        faults: Sequence[FaultSpec],
        delays: Sequence[Distribution],
        *,
        seed: int,
        start: float,
    ) -> None:
        self._windows = [
            (
                start + fault.at_s,
                start + fault.at_s + fault.for_s,
                fault.probability,
                stream(seed, f"faults.{i}.hit", _UNIFORM).draw,
                stream(seed, f"faults.{i}.redelivery", delay).draw,
            )
            for i, (fault, delay) in enumerate(zip(faults, delays, strict=True))
            if fault.drop == "device"
        ]
        #: ``$package`` reports a fault held back so far (the report's ``redelivered_reports``).
        self.held = 0

    def delay(self, now: float, topic: str) -> float:
        """Extra seconds before the message a device publishes on ``topic`` at ``now`` lands:
        the redelivery of a ``$package`` report whose connection dropped, else 0.0."""
        if not topic.endswith(_PACKAGE_UPDATE):
            return 0.0
        for opens, closes, probability, hit, redelivery in self._windows:
            if opens <= now < closes and hit() < probability:
                self.held += 1
                return max(0.0, redelivery())
        return 0.0
