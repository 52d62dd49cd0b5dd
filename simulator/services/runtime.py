"""What services need from the outside world, as injected objects: a clock, timers, a publisher.

Services never read a wall clock, sleep, or open a socket. A driver (the HTTP server, the fleet
engine, a test) provides:

* a :class:`Clock`: ``clock()`` returns the current time in epoch seconds (real or simulated);
* a :class:`Scheduler`: ``call_at(when, callback)`` asks to be called back at ``when``; the driver
  decides how (an asyncio timer, the engine's shared event heap, or :class:`TimerHeap` run by
  hand in tests);
* a :class:`Publisher`: ``publish(topic, payload)`` hands an MQTT message the service emits
  (``notify-next``, shadow ``/update/documents``...) to whatever transport delivers them, and
  ``subscribed(topic)`` says whether anyone could receive it (so a fleet whose devices only
  listen to their jobs topics does not pay for encoding shadow documents nobody reads).
"""

from __future__ import annotations

import heapq
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

__all__ = [
    "Clock",
    "NullPublisher",
    "Publisher",
    "RecordingPublisher",
    "Runtime",
    "Scheduler",
    "Timer",
    "TimerHandle",
    "TimerHeap",
    "VirtualClock",
]


class Clock(Protocol):
    def __call__(self) -> float: ...


class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Scheduler(Protocol):
    def call_at(self, when: float, callback: Callable[[], None], /) -> TimerHandle: ...


class Publisher(Protocol):
    def publish(self, topic: str, payload: bytes, /) -> None: ...

    def subscribed(self, topic: str, /) -> bool:
        """Whether anyone may receive ``topic``: services skip building unwanted payloads."""
        ...


class VirtualClock:
    """A clock that only moves when told to (simulated time, tests)."""

    __slots__ = ("now",)

    def __init__(self, start: float = 1_700_000_000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


@dataclass(slots=True)
class Timer:
    """One scheduled callback; ``cancel()`` makes it a no-op (lazy deletion from the heap)."""

    when: float
    callback: Callable[[], None] | None

    def cancel(self) -> None:
        self.callback = None


class TimerHeap:
    """A sans-IO timer queue: ``call_at`` pushes, the driver pops due timers with :meth:`run_due`.

    Ties run in scheduling order, which keeps simulated runs deterministic.
    """

    def __init__(self) -> None:
        self._heap: list[tuple[float, int, Timer]] = []
        self._seq = itertools.count()

    def call_at(self, when: float, callback: Callable[[], None], /) -> Timer:
        timer = Timer(when, callback)
        heapq.heappush(self._heap, (when, next(self._seq), timer))
        return timer

    def next_deadline(self) -> float | None:
        """When the earliest live timer is due, or ``None`` when nothing is scheduled."""
        heap = self._heap
        while heap and heap[0][2].callback is None:
            heapq.heappop(heap)
        return heap[0][0] if heap else None

    def pop_due(self, now: float) -> Timer | None:
        """Remove and return the earliest live timer due at or before ``now``."""
        heap = self._heap
        while heap and heap[0][0] <= now:
            timer = heapq.heappop(heap)[2]
            if timer.callback is not None:
                return timer
        return None

    def run_due(self, now: float) -> int:
        """Run every timer due at or before ``now`` (including ones scheduled while running)."""
        count = 0
        while (timer := self.pop_due(now)) is not None:
            callback, timer.callback = timer.callback, None
            assert callback is not None
            callback()
            count += 1
        return count

    def __len__(self) -> int:
        return len(self._heap)


class NullPublisher:
    """Drops every message (an HTTP-only emulator with no MQTT transport)."""

    def publish(self, topic: str, payload: bytes, /) -> None:
        return None

    def subscribed(self, topic: str, /) -> bool:
        return False


@dataclass(slots=True)
class RecordingPublisher:
    """Keeps every message, in order (tests and debugging)."""

    messages: list[tuple[str, bytes]] = field(default_factory=list)

    def publish(self, topic: str, payload: bytes, /) -> None:
        self.messages.append((topic, payload))

    def subscribed(self, topic: str, /) -> bool:
        return True

    def topics(self) -> list[str]:
        return [topic for topic, _ in self.messages]


@dataclass(slots=True)
class Runtime:
    """The injected environment shared by every service of one control plane."""

    clock: Clock = field(default_factory=VirtualClock)
    scheduler: Scheduler = field(default_factory=TimerHeap)
    publisher: Publisher = field(default_factory=NullPublisher)
    #: Seconds of real (not run-clock) time, to measure where the emulator's work goes.
    stopwatch: Callable[[], float] = time.perf_counter
