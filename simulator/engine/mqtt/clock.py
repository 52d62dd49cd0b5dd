"""The engine's event heap on the real clock, for runs whose devices talk over a real broker.

Over MQTT, things happen between heap entries: a device's message or an emulator request arrives
on a socket at wall-clock time, and whatever it causes (a reply, a timer) must be stamped with
that time. :class:`WallClockHeap` therefore lets the transport :meth:`~WallClockHeap.advance`
``now`` to the wall clock before it hands over a message, and keeps ``now`` from moving back when
the loop later runs entries that came due meanwhile. :meth:`~WallClockHeap.idle` is how the run
loop waits: until the next entry is due, or earlier when something earlier is scheduled (a
device's timer set while handling a message), so one sleeping coroutine serves every device
timer and service timer of the run (STYLE habit 12: no task per device).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Callable
from typing import Any

from simulator.engine.heap import EventHeap
from simulator.services.runtime import Timer

__all__ = ["WallClockHeap"]


def _wake(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


class WallClockHeap(EventHeap):
    """An :class:`EventHeap` whose ``now`` follows the wall clock and never goes back."""

    __slots__ = ("_alarm", "_alarm_at")

    def __init__(self, start: float) -> None:
        super().__init__(start)
        self._alarm: asyncio.Future[None] | None = None
        self._alarm_at = math.inf

    def advance(self, t: float) -> None:
        """Move ``now`` forward to ``t`` (no-op when it is already past it)."""
        self.now = max(self.now, t)

    # -- scheduling: wake the sleeping loop when something comes due before it would wake ------

    def at(self, when: float, fn: Callable[[Any, Any], None], a: Any = None, b: Any = None) -> None:
        super().at(when, fn, a, b)
        if when < self._alarm_at:
            self._ring()

    def call_at(self, when: float, callback: Callable[[], None], /) -> Timer:
        timer = super().call_at(when, callback)
        if when < self._alarm_at:
            self._ring()
        return timer

    def _ring(self) -> None:
        alarm = self._alarm
        if alarm is not None and not alarm.done():
            alarm.set_result(None)

    # -- running --------------------------------------------------------------------------

    def run(self, until: float, budget: int) -> int:
        """Run entries due at or before ``until``, at most ``budget``; ``now`` only moves on."""
        heap = self._heap
        pop = heapq.heappop
        done = 0
        while heap and done < budget and heap[0][0] <= until:
            when, _, fn, a, b = pop(heap)
            if when > self.now:  # noqa: PLR1730 - a comparison is cheaper than max() here
                self.now = when
            fn(a, b)
            done += 1
        self.events += done
        return done

    def run_due(self, budget: int) -> int:
        """Run what is due on the wall clock (at most ``budget``), then bring ``now`` to it."""
        wall = time.time()
        done = self.run(wall, budget)
        if done < budget:
            self.advance(wall)
        return done

    async def idle(self, longest: float) -> None:
        """Sleep until the next entry is due, at most ``longest`` seconds, or until an entry is
        scheduled earlier than that (by a message handler or a service)."""
        due = self.next_time()
        wake_at = time.time() + longest
        if due is not None and due < wake_at:
            wake_at = due
        delay = wake_at - time.time()
        if delay <= 0:
            await asyncio.sleep(0)
            return
        loop = asyncio.get_running_loop()
        alarm = self._alarm = loop.create_future()
        self._alarm_at = wake_at
        handle = loop.call_later(delay, _wake, alarm)
        try:
            await alarm
        finally:
            handle.cancel()
            self._alarm = None
            self._alarm_at = math.inf
