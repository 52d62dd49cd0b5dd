"""Each thing's pending executions in notification order; every change is a notification.

The order is IN_PROGRESS first, then QUEUED, each by ``queuedAt`` (ties: creation order)
[AD:jobs-comm-notifications]. A thing rarely has more than a few pending executions, so a sorted
list per thing makes every change O(pending of that thing), independent of the fleet size.

Every change calls :meth:`~.notices.JobsNotices.pending_changed` with the new list and the old
head; what is published (``notify``, ``notify-next``) is the MQTT API's business.
"""

from __future__ import annotations

import bisect
from operator import attrgetter
from typing import Final

from simulator.services.jobs.notices import JobsNotices, NoNotices
from simulator.services.jobs.records import ExecutionRecord

__all__ = ["PendingIndex"]

_KEY: Final = attrgetter("key")
_EMPTY: Final[list[ExecutionRecord]] = []


class PendingIndex:
    """Per-thing sorted pending lists that notify their listener on every change."""

    __slots__ = ("_lists", "_notices")

    def __init__(self) -> None:
        self._lists: dict[str, list[ExecutionRecord]] = {}
        self._notices: JobsNotices = NoNotices()

    def listen(self, notices: JobsNotices) -> None:
        """Send every change to ``notices`` from now on (replacing the previous listener)."""
        self._notices = notices

    def items(self, thing: str) -> list[ExecutionRecord]:
        """The thing's pending executions in order (do not mutate)."""
        return self._lists.get(thing, _EMPTY)

    def head(self, thing: str) -> ExecutionRecord | None:
        items = self._lists.get(thing)
        return items[0] if items else None

    def add(self, ex: ExecutionRecord, now: float) -> None:
        """A new QUEUED execution joins the thing's list."""
        items = self._lists.get(ex.thing)
        if items is None:
            items = self._lists[ex.thing] = [ex]
            self._notices.pending_changed(ex.thing, items, None, now)
            return
        old = items[0] if items else None
        bisect.insort(items, ex, key=_KEY)
        self._notices.pending_changed(ex.thing, items, old, now)

    def resort(self, ex: ExecutionRecord, now: float) -> None:
        """``ex`` changed status but is still pending (QUEUED -> IN_PROGRESS)."""
        items = self._lists.get(ex.thing)
        if not items or ex not in items:
            return  # not listed: its job is being deleted
        old = items[0]
        if old is not ex:
            items.remove(ex)
            bisect.insort(items, ex, key=_KEY)
        self._notices.pending_changed(ex.thing, items, old, now)

    def discard(self, ex: ExecutionRecord, now: float) -> None:
        """``ex`` left the list (terminal, deleted, or its job is being deleted)."""
        items = self._lists.get(ex.thing)
        if not items:
            return
        old = items[0]
        if old is ex:
            del items[0]
        else:
            try:
                items.remove(ex)
            except ValueError:
                return
        if not items:
            del self._lists[ex.thing]
        self._notices.pending_changed(ex.thing, items, old, now)
