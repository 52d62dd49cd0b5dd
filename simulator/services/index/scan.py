"""SearchIndex as resumable work, so a driver can share the loop while a fleet is filtered.

Evaluating a query over 10,000 things with 800-character attributes takes ~150 ms the first time
(documents are built as the scan goes) and ~45 ms after; 100,000 things, about a second. Done in
one call on the one event loop that serves HTTP and MQTT, that is how long every other client
waits. A :class:`SearchScan` holds what the one pass held (the compiled predicate, a cursor into
the things in registry order and its bound, the hits so far) and does at most ``max_docs``
documents per :meth:`~SearchScan.step`; the HTTP layer yields to the loop between steps.

Consistency between steps: the scan walks the registry's :class:`~simulator.core.paging.OrderLog`
by sequence number up to the bound it had when it started, looking each thing up as it goes, so a
thing deleted meanwhile is skipped, a changed one is evaluated as it is when the cursor reaches
it, and one created after the start is not seen (AWS's index is eventually consistent too).
Without changes the result is exactly the one pass's: same hits, same order, same ``nextToken``.

The scan starts at the token's sequence number (not at the first thing: a page costs the things
it looks at, not its depth) and stops once it has the requested page plus one hit, whose
sequence number the next page's token holds.

Why steps on the loop rather than ``asyncio.to_thread``: documents are built lazily into the index
service's cache from mutable registry and shadow state that the loop changes between requests, so
a worker thread would race with it; and filtering is pure Python, so a thread holds the GIL and
the loop would wait up to a switch interval (5 ms) for each of its own slices anyway.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from typing import Generic, ParamSpec, Protocol, TypeVar

from simulator.core.fleet_query import IndexDocument, Predicate
from simulator.core.paging import OrderLog
from simulator.services.registry import Thing

__all__ = ["SearchScan", "one_pass"]

R = TypeVar("R")
T = TypeVar("T")
R_co = TypeVar("R_co", covariant=True)
P = ParamSpec("P")


class _Runs(Protocol[R_co]):
    def run(self) -> R_co: ...


def one_pass(start: Callable[P, _Runs[T]]) -> Callable[P, T]:
    """The one-call form of a ``start_<operation>`` method: the same arguments, the scan run to
    its end (for in-process callers; the HTTP layer steps the scan itself)."""

    def run(*args: P.args, **kwargs: P.kwargs) -> T:
        return start(*args, **kwargs).run()

    # Its signature is the start method's (keyword-only request members, as the route checks
    # read it); its name the operation's.
    functools.update_wrapper(run, start)
    run.__name__ = start.__name__.removeprefix("start_")
    run.__qualname__ = start.__qualname__.replace(".start_", ".", 1)
    return run


class SearchScan(Generic[R]):
    """One SearchIndex call, evaluated a slice of the fleet at a time.

    Args:
        things: the registry's things by name (read at each step, never changed).
        order: their :class:`OrderLog` (the scan walks it from ``start``).
        predicate: the compiled query.
        document: the thing's index document (cached by the index service).
        start: the sequence number to start at (from the ``nextToken``).
        wanted: stop after this many hits (the page size plus one).
        finish: turns the ``(seq, thing)`` hits into the operation's result (a typed record).
        step_docs: documents per :meth:`step` when the driver does not say
            (``IndexOptions.step_things``: ~15 ms with uncached 800-character attributes).
    """

    __slots__ = (
        "_document",
        "_finish",
        "_hits",
        "_next",
        "_order",
        "_pos",
        "_predicate",
        "_step",
        "_stop",
        "_things",
        "_wanted",
    )

    def __init__(
        self,
        things: Mapping[str, Thing],
        order: OrderLog[str],
        predicate: Predicate,
        document: Callable[[Thing], IndexDocument],
        *,
        start: int = 0,
        wanted: int,
        finish: Callable[[Sequence[tuple[int, Thing]]], R],
        step_docs: int = 1_000,
    ) -> None:
        self._step = step_docs
        self._things = things
        self._order = order
        self._next = start
        self._stop = order.next_seq
        self._pos = 0
        self._predicate = predicate
        self._document = document
        self._wanted = wanted
        self._finish = finish
        self._hits: list[tuple[int, Thing]] = []

    @property
    def done(self) -> bool:
        """Whether :meth:`result` may be called (every thing seen, or enough hits)."""
        return self._next >= self._stop or len(self._hits) >= self._wanted

    @property
    def position(self) -> int:
        """How many things this scan has looked at."""
        return self._pos

    def step(self, max_docs: int | None = None, /) -> bool:
        """Evaluate at most ``max_docs`` (``step_docs``) more things; return :attr:`done`."""
        if max_docs is None:
            max_docs = self._step
        if max_docs < 1:
            raise ValueError("max_docs must be at least 1")
        things, hits = self._things, self._hits
        predicate, document, wanted = self._predicate, self._document, self._wanted
        looked = 0
        following = self._stop
        for seq, name in self._order.entries(self._next, self._stop):
            if looked == max_docs or len(hits) >= wanted:
                following = seq
                break
            looked += 1
            thing = things[name]
            if predicate(document(thing)):
                hits.append((seq, thing))
        self._pos += looked
        self._next = following
        return self.done

    def run(self) -> R:
        """Step to the end and return the result (the synchronous path)."""
        while not self.step(self._stop + 1):
            pass
        return self.result()

    def result(self) -> R:
        """The operation's result; only once :attr:`done`."""
        if not self.done:
            raise RuntimeError("SearchScan.result() before the scan is done")
        return self._finish(self._hits)
