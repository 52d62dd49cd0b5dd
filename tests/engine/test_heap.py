"""The event heap's ramp: entries held out of the heap run in exactly the order the heap would
have run them, interleaved with everything else (what keeps a seeded run's report and event log
unchanged), and the heap holds one of them at a time."""

from __future__ import annotations

import random
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.engine.heap import EventHeap, WallClockHeap

_START = 1_000.0


def _play(seed: int, *, ramp: bool, heap: EventHeap | None = None) -> list[Any]:
    """A run with a burst of timers scheduled at set-up (some at equal times, some at the same
    time as other entries) whose handlers schedule more entries, some at the very same time."""
    rng = random.Random(seed)
    heap = EventHeap(_START) if heap is None else heap
    order: list[Any] = []

    def follow_up(name: Any, depth: int) -> None:
        order.append((heap.now, name))
        if depth < 2:
            for k in range(rng.randrange(3)):
                delay = rng.choice((0.0, 0.5, rng.random() * 5))
                heap.at(heap.now + delay, follow_up, (name, depth, k), depth + 1)

    def before_and_after(name: str) -> None:
        for i in range(5):
            heap.at(_START + rng.choice((0.0, 1.0, rng.random() * 10)), follow_up, (name, i), 0)

    before_and_after("before")
    times = [rng.choice((0.0, 1.0, 2.5, rng.random() * 10)) for _ in range(60)]
    if ramp:
        with heap.ramp():
            for i, t in enumerate(times):
                heap.at(_START + t, follow_up, ("ramp", i), 0)
        assert len(heap) == 6  # the five entries before, and one for the whole ramp
    else:
        for i, t in enumerate(times):
            heap.at(_START + t, follow_up, ("ramp", i), 0)
    before_and_after("after")
    while heap.run(_START + 100, 7):
        pass
    assert len(heap) == 0
    return order


@settings(max_examples=60, deadline=None)
@given(st.integers(0, 2**32))
def test_a_ramp_runs_in_the_order_of_the_heap(seed: int) -> None:
    plain = _play(seed, ramp=False)
    assert _play(seed, ramp=True) == plain
    assert len(plain) > 60


def test_a_ramp_counts_one_event_per_entry() -> None:
    plain, ramped = EventHeap(_START), EventHeap(_START)
    _play(7, ramp=False, heap=plain)
    _play(7, ramp=True, heap=ramped)
    assert ramped.events == plain.events


def test_a_wall_clock_heap_ramps_too() -> None:
    heap = WallClockHeap(_START)
    assert _play(3, ramp=True, heap=heap) == _play(3, ramp=False)


def test_an_empty_ramp_adds_nothing() -> None:
    heap = EventHeap(_START)
    with heap.ramp():
        pass
    assert len(heap) == 0
    assert heap.next_time() is None
