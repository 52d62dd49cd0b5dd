"""The engine's one event heap: message deliveries, device timers and service timers together.

Every future happening of a run is an entry ``(when, seq, fn, a, b)``; running it calls
``fn(a, b)``. There is no task or timer object per device: 100,000 devices cost 100,000 heap
entries at most. ``seq`` breaks ties in scheduling order, which makes simulated runs reproducible.

The heap is also the :class:`~simulator.services.runtime.Clock` and
:class:`~simulator.services.runtime.Scheduler` the emulator's services run on, so a service timer
(a rollout tick, an execution timeout) interleaves with device events in one order.
"""

from __future__ import annotations

import heapq
from collections.abc import Callable
from typing import Any

from simulator.services.runtime import Timer

__all__ = ["EventHeap"]

_push = heapq.heappush


def _fire(timer: Timer, _: object) -> None:
    callback = timer.callback
    if callback is not None:
        timer.callback = None
        callback()


class EventHeap:
    """A discrete-event queue whose ``now`` is the run's clock."""

    __slots__ = ("_heap", "_seq", "events", "now")

    def __init__(self, start: float) -> None:
        self.now = start
        self._heap: list[tuple[float, int, Callable[[Any, Any], None], Any, Any]] = []
        self._seq = 0
        self.events = 0

    # Clock and Scheduler protocols (the services' view).

    def __call__(self) -> float:
        return self.now

    def call_at(self, when: float, callback: Callable[[], None], /) -> Timer:
        timer = Timer(when, callback)
        self._seq += 1
        heapq.heappush(self._heap, (when, self._seq, _fire, timer, None))
        return timer

    # The engine's view.

    def at(self, when: float, fn: Callable[[Any, Any], None], a: Any = None, b: Any = None) -> None:
        """Schedule ``fn(a, b)`` at ``when`` (never earlier than now)."""
        now = self.now
        self._seq += 1
        # max(when, now) without the builtin call (this runs for every message and timer)
        _push(self._heap, (now if now > when else when, self._seq, fn, a, b))

    def next_time(self) -> float | None:
        return self._heap[0][0] if self._heap else None

    def run(self, until: float, budget: int) -> int:
        """Run events due at or before ``until``, at most ``budget`` of them; returns how many.

        ``now`` moves to each event's time as it runs.
        """
        heap = self._heap
        pop = heapq.heappop
        done = 0
        while heap and done < budget and heap[0][0] <= until:
            when, _, fn, a, b = pop(heap)
            self.now = when
            fn(a, b)
            done += 1
        self.events += done
        return done

    def __len__(self) -> int:
        return len(self._heap)
