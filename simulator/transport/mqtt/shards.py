"""Splitting one fleet over several processes or machines.

A fleet is ``size`` devices with global indices ``first .. first + size - 1``; device ``i`` is
thing ``name_format.format(index=i)`` (the scenario's ``fleet.name_format``, e.g.
``device-{index:06d}``) and its MQTT client id is that thing name. Shard ``k`` of ``n`` (``k``
counted from 0) runs the contiguous index range

    [first + floor(k * size / n), first + floor((k + 1) * size / n))

so the shards are disjoint, cover the fleet exactly, differ in size by at most one device, and
every process computes the same ranges from the same three numbers without talking to the
others. Because names derive from the global index, a device has the same name, client id and
seeded behaviour whichever shard runs it: a process running shard 2/8 on one machine and one
running shard 3/8 on another drive their parts of the fleet exactly as one process would.
"""

from __future__ import annotations

from dataclasses import dataclass

from simulator.core.errors import UsageError

__all__ = ["Shard", "parse_shard", "shard_range"]


@dataclass(frozen=True, slots=True)
class Shard:
    """Shard ``index`` of ``count`` (0-based)."""

    index: int = 0
    count: int = 1

    def __post_init__(self) -> None:
        if self.count < 1 or not 0 <= self.index < self.count:
            raise UsageError(f"shard {self.index}/{self.count}: need 0 <= index < count")

    def range(self, size: int, *, first: int = 0) -> range:
        """The global device indices this shard runs (see :func:`shard_range`)."""
        return shard_range(self.index, self.count, size, first=first)


def shard_range(index: int, count: int, size: int, *, first: int = 0) -> range:
    """Global indices of shard ``index`` of ``count`` of a fleet of ``size`` from ``first``."""
    if count < 1 or not 0 <= index < count:
        raise UsageError(f"shard {index}/{count}: need 0 <= index < count")
    if size < 0 or first < 0:
        raise UsageError(f"fleet size and first index must be >= 0, not {size}, {first}")
    return range(first + index * size // count, first + (index + 1) * size // count)


def parse_shard(text: str) -> Shard:
    """``"K/N"`` (shard K of N, K from 0) as a :class:`Shard`; ``UsageError`` otherwise."""
    index, sep, count = text.strip().partition("/")
    if not sep or not (index + count).isascii() or not index.isdigit() or not count.isdigit():
        raise UsageError(f"shard {text!r}: expected K/N with 0 <= K < N, e.g. 0/4")
    return Shard(int(index), int(count))
