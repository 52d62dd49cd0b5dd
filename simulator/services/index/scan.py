"""SearchIndex as resumable work, so a driver can share the loop while a fleet is filtered.

Evaluating a query over 10,000 things with 800-character attributes takes ~150 ms the first time
(documents are built as the scan goes) and ~45 ms after; 100,000 things, about a second. Done in
one call on the one event loop that serves HTTP and MQTT, that is how long every other client
waits. A :class:`SearchScan` holds what the one pass held (the compiled predicate, a snapshot of
the thing names in registry order, a cursor, the hits so far) and does at most ``max_docs``
documents per :meth:`~SearchScan.step`; the HTTP layer yields to the loop between steps.

Consistency between steps: each step looks things up by name, so a thing deleted meanwhile is
skipped, a changed one is evaluated as it is when the cursor reaches it, and one created after the
snapshot is not seen (AWS's index is eventually consistent too). Without changes the result is
exactly the one pass's: same hits, same order, same ``nextToken``.

The scan stops once it has the hits up to the requested page plus one (``end + 1``, see
:func:`simulator.core.paging.window`): that many hits page exactly as the whole list would.

Why steps on the loop rather than ``asyncio.to_thread``: documents are built lazily into the index
service's cache from mutable registry and shadow state that the loop changes between requests, so
a worker thread would race with it; and filtering is pure Python, so a thread holds the GIL and
the loop would wait up to a switch interval (5 ms) for each of its own slices anyway.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Generic, TypeVar

from simulator.core.fleet_query import IndexDocument, Predicate
from simulator.services.registry import Thing

__all__ = ["SearchScan"]

R = TypeVar("R")


class SearchScan(Generic[R]):
    """One SearchIndex call, evaluated a slice of the fleet at a time.

    Args:
        things: the registry's things by name (read at each step, never changed).
        predicate: the compiled query.
        document: the thing's index document (cached by the index service).
        wanted: stop after this many hits (``end + 1`` of the requested page).
        finish: turns the hits into the operation's result (paging; a typed record).
        step_docs: documents per :meth:`step` when the driver does not say
            (``IndexOptions.step_things``: ~15 ms with uncached 800-character attributes).
    """

    __slots__ = (
        "_document",
        "_finish",
        "_hits",
        "_names",
        "_pos",
        "_predicate",
        "_step",
        "_things",
        "_wanted",
    )

    def __init__(
        self,
        things: Mapping[str, Thing],
        predicate: Predicate,
        document: Callable[[Thing], IndexDocument],
        *,
        wanted: int,
        finish: Callable[[Sequence[Thing]], R],
        step_docs: int = 1_000,
    ) -> None:
        self._step = step_docs
        self._things = things
        self._names: list[str] = list(things)
        self._pos = 0
        self._predicate = predicate
        self._document = document
        self._wanted = wanted
        self._finish = finish
        self._hits: list[Thing] = []

    @property
    def done(self) -> bool:
        """Whether :meth:`result` may be called (every name seen, or enough hits)."""
        return self._pos >= len(self._names) or len(self._hits) >= self._wanted

    @property
    def position(self) -> int:
        """How many names of the snapshot have been looked at."""
        return self._pos

    def step(self, max_docs: int | None = None, /) -> bool:
        """Evaluate at most ``max_docs`` (``step_docs``) more things; return :attr:`done`."""
        if max_docs is None:
            max_docs = self._step
        if max_docs < 1:
            raise ValueError("max_docs must be at least 1")
        names, things, hits = self._names, self._things, self._hits
        predicate, document, wanted = self._predicate, self._document, self._wanted
        pos = self._pos
        end = min(pos + max_docs, len(names))
        while pos < end and len(hits) < wanted:
            thing = things.get(names[pos])
            pos += 1
            if thing is not None and predicate(document(thing)):
                hits.append(thing)
        self._pos = pos
        return self.done

    def run(self) -> R:
        """Step to the end and return the result (the synchronous path)."""
        while not self.step(len(self._names) + 1):
            pass
        return self.result()

    def result(self) -> R:
        """The operation's result; only once :attr:`done`."""
        if not self.done:
            raise RuntimeError("SearchScan.result() before the scan is done")
        return self._finish(self._hits)
