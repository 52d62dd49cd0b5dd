"""The engine's one event heap, on the simulated clock or on the wall clock.

:class:`EventHeap` holds message deliveries, device timers and service timers together.

Every future happening of a run is an entry ``(when, seq, fn, a, b)``; running it calls
``fn(a, b)``. There is no task or timer object per device: 100,000 devices cost 100,000 heap
entries at most. ``seq`` breaks ties in scheduling order, which makes simulated runs reproducible.

The heap is also the :class:`~simulator.services.runtime.Clock` and
:class:`~simulator.services.runtime.Scheduler` the emulator's services run on, so a service timer
(a rollout tick, an execution timeout) interleaves with device events in one order.

:class:`WallClockHeap` is the same heap on the real clock, for runs whose messages arrive on
sockets (or whose scenario asks for ``clock = "real"``). Things then happen between heap entries:
a device's message or an emulator request arrives at wall-clock time, and whatever it causes (a
reply, a timer) must be stamped with that time. The transport therefore
:meth:`~WallClockHeap.advance` moves ``now`` to the wall clock before it hands over a message, and
``now`` never moves back when the loop later runs entries that came due meanwhile.
:meth:`~WallClockHeap.idle` is how a run waits: until the next entry is due, or earlier when
something earlier is scheduled, so one sleeping coroutine serves every timer of the run (STYLE
habit 12: no task per device).

:meth:`EventHeap.ramp` holds a burst of entries scheduled at once (a fleet's connection ramp:
one timer per device) out of the heap and feeds them in one at a time, in order, each under its
own ``(when, seq)``: the heap pops exactly what it would have popped, but stays as small as the
run's in-flight work instead of growing with the fleet (a million-entry heap costs a cache miss
per level of every push and pop while the ramp lasts).
"""

from __future__ import annotations

import asyncio
import heapq
import math
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from operator import itemgetter
from typing import Any

from simulator.services.runtime import Timer

__all__ = ["EventHeap", "WallClockHeap"]

_push = heapq.heappush

#: A heap entry: ``fn(a, b)`` runs at ``when``; ``seq`` orders entries of the same time.
_Entry = tuple[float, int, Callable[[Any, Any], None], Any, Any]
_when = itemgetter(0)
_seq = itemgetter(1)


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
        self._heap: list[_Entry] = []
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

    @contextmanager
    def ramp(self) -> Iterator[None]:
        """Hold what is scheduled inside the block, then feed it to the heap one at a time.

        Entries keep the ``(when, seq)`` they were given, so they run in the very order (and
        interleaved with other entries in the very order) they would have run from the heap;
        only the next of them is in the heap at any time. For a large burst scheduled at once
        and run over a while, like a fleet's connection ramp.
        """
        heap = self._heap
        held: list[_Entry] = []
        self._heap = held  # at() and call_at() push here while the block runs
        try:
            yield
        finally:
            self._heap = heap
        # Descending (when, seq), to pop() from the end: by seq, then stably by when (two sorts on
        # one number each cost less than half of one sort comparing the tuples).
        held.sort(key=_seq, reverse=True)
        held.sort(key=_when, reverse=True)
        if held:
            first = held[-1]
            _push(heap, (first[0], first[1], _feed, _Ramp(heap, held), None))

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


class _Ramp:
    """The entries a :meth:`EventHeap.ramp` held, in descending order, and the heap they feed."""

    __slots__ = ("heap", "held")

    def __init__(self, heap: list[_Entry], held: list[_Entry]) -> None:
        self.heap = heap
        self.held = held


def _feed(ramp: _Ramp, _: object) -> None:
    """Run the ramp's next entry (this entry stands for it) and put the one after in the heap."""
    held = ramp.held
    _, _, fn, a, b = held.pop()
    if held:
        nxt = held[-1]
        # Its (when, seq) is above the one running and unique: the heap orders it as before.
        _push(ramp.heap, (nxt[0], nxt[1], _feed, ramp, None))
    fn(a, b)


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
