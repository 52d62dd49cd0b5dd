"""Each thing's pending executions in notification order, and the messages their changes emit.

The order is IN_PROGRESS first, then QUEUED, each by ``queuedAt`` (ties: creation order)
[AD:jobs-comm-notifications]. A thing rarely has more than a few pending executions, so a sorted
list per thing makes every change O(pending of that thing), independent of the fleet size.

Every change of a list publishes ``$aws/things/{thing}/jobs/notify`` (the first
``notify_limit`` entries); ``.../notify-next`` is published only when the head changes, with the
new head's execution and document, or just ``{"timestamp"}`` when the list empties.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable
from operator import attrgetter
from typing import Any, Final

import orjson

from simulator.services.jobs.records import RANK_IN_PROGRESS, ExecutionRecord
from simulator.services.jobs.wire import data_summary
from simulator.services.runtime import Publisher

__all__ = ["PendingIndex"]

_KEY: Final = attrgetter("key")
_EMPTY: Final[list[ExecutionRecord]] = []


class PendingIndex:
    """Per-thing sorted pending lists that publish ``notify`` / ``notify-next`` on change."""

    __slots__ = ("_head_payload", "_limit", "_lists", "_publisher", "_stamp")

    def __init__(
        self,
        publisher: Publisher,
        *,
        limit: int,
        stamp: Callable[[float], int],
        head_payload: Callable[[ExecutionRecord, float], dict[str, Any]],
    ) -> None:
        self._lists: dict[str, list[ExecutionRecord]] = {}
        self._publisher = publisher
        self._limit = limit
        self._stamp = stamp
        self._head_payload = head_payload

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
            self._changed(ex.thing, items, None, now)
            return
        old = items[0] if items else None
        bisect.insort(items, ex, key=_KEY)
        self._changed(ex.thing, items, old, now)

    def resort(self, ex: ExecutionRecord, now: float) -> None:
        """``ex`` changed status but is still pending (QUEUED -> IN_PROGRESS)."""
        items = self._lists.get(ex.thing)
        if not items or ex not in items:
            return  # not listed: its job is being deleted
        old = items[0]
        if old is not ex:
            items.remove(ex)
            bisect.insort(items, ex, key=_KEY)
        self._changed(ex.thing, items, old, now)

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
        self._changed(ex.thing, items, old, now)

    def _changed(
        self, thing: str, items: list[ExecutionRecord], old: ExecutionRecord | None, now: float
    ) -> None:
        stamp = self._stamp(now)
        publisher = self._publisher
        publish = publisher.publish
        notify = f"$aws/things/{thing}/jobs/notify"
        if not items:
            if publisher.subscribed(notify):
                publish(notify, b'{"timestamp":%d,"jobs":{}}' % stamp)
            if old is not None:
                publish(f"{notify}-next", b'{"timestamp":%d}' % stamp)
            return
        head = items[0]
        if publisher.subscribed(notify):
            jobs = self._summaries(items, head)
            publish(notify, orjson.dumps({"timestamp": stamp, "jobs": jobs}))
        if head is not old:
            payload = {"timestamp": stamp, "execution": self._head_payload(head, now)}
            publish(f"{notify}-next", orjson.dumps(payload))

    def _summaries(self, items: list[ExecutionRecord], head: ExecutionRecord) -> dict[str, Any]:
        """The ``jobs`` member of a notify message: IN_PROGRESS first, then QUEUED."""
        if len(items) == 1:  # the common case: one pending execution
            group = "IN_PROGRESS" if head.key[0] == RANK_IN_PROGRESS else "QUEUED"
            jobs: dict[str, Any] = {group: [data_summary(head)]}
        else:
            in_progress: list[dict[str, Any]] = []
            queued: list[dict[str, Any]] = []
            for ex in items[: self._limit]:
                (in_progress if ex.key[0] == RANK_IN_PROGRESS else queued).append(data_summary(ex))
            jobs = {}
            if in_progress:
                jobs["IN_PROGRESS"] = in_progress
            if queued:
                jobs["QUEUED"] = queued
        return jobs
