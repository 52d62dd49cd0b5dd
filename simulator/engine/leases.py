"""Fleet indexes leased to devices that come and go (one per Locust user, over many processes).

The master of a load test hands each new device the lowest free index of ``0..size-1`` and takes
back the index of a device that stops, so thing names (and client ids) never collide however
users are spread over workers, and a fleet that shrinks and grows again reuses its things.
"""

from __future__ import annotations

import heapq

__all__ = ["IndexLeases"]


class IndexLeases:
    """Indexes ``0..size-1``: :meth:`take` the lowest free one, :meth:`give_back` one taken."""

    __slots__ = ("_free", "_next", "_taken", "size")

    def __init__(self, size: int = 0) -> None:
        self.size = size
        self._next = 0
        self._free: list[int] = []
        self._taken: set[int] = set()

    def reset(self, size: int) -> None:
        """A new test: every index free again."""
        self.size = size
        self._next = 0
        self._free.clear()
        self._taken.clear()

    def take(self) -> int | None:
        """The lowest free index, or None when all ``size`` are taken."""
        if self._free:
            index = heapq.heappop(self._free)
        elif self._next < self.size:
            index = self._next
            self._next += 1
        else:
            return None
        self._taken.add(index)
        return index

    def give_back(self, index: int) -> None:
        """Free ``index`` (ignored unless it is taken: a late or repeated release)."""
        if index in self._taken:
            self._taken.remove(index)
            heapq.heappush(self._free, index)

    @property
    def taken(self) -> int:
        return len(self._taken)
