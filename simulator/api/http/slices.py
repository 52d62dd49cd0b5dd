"""Long request work (SearchIndex) run one slice per event-loop turn, each about ``SLICE_S``.

A slice is counted in the work's own items (documents), but what one costs varies a thousandfold
(a cached document and ``*``; an uncached one with fifty 800-character attributes and twelve
wildcard terms), so the size follows measurement: it starts small, and after each slice is scaled
towards ``SLICE_S``, growing at most ``GROWTH``-fold at a time (the next documents may be uncached
and dearer). Between two slices the loop answers whatever else is ready. A request arriving
meanwhile waits two or three slices (the loop runs the slice already queued, then reads the
request, then the handler's task queues behind the next slice), times the long requests in
progress. Measured with one heavy SearchIndex over 15,000 things (0.3-0.7 s of work), another
client's DescribeThing: one pass, p50 ~300 ms and max ~670 ms; 10 ms slices, p50 ~25 ms and max
~50 ms; 5 ms slices, p50 ~17-22 ms and max ~44 ms (idle: 1-6 ms).
"""

from __future__ import annotations

import asyncio
import time
from typing import Final

from simulator.api.http.dispatch import Pending, Reply

__all__ = ["FIRST_SLICE", "SLICE_S", "finish"]

SLICE_S: Final = 0.005
FIRST_SLICE: Final = 100
GROWTH: Final = 4
_MAX_SLICE: Final = 100_000


async def finish(reply: Reply | Pending) -> Reply:
    """The reply, resuming ``reply`` one slice per loop turn while it is :class:`Pending`."""
    size = FIRST_SLICE
    while isinstance(reply, Pending):
        await asyncio.sleep(0)
        started = time.perf_counter()
        reply = reply.resume(size)
        elapsed = time.perf_counter() - started
        scaled = int(size * SLICE_S / elapsed) if elapsed > 0 else size * GROWTH
        size = max(1, min(scaled, size * GROWTH, _MAX_SLICE))
    return reply
