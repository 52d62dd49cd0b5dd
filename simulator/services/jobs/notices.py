"""The notifications the Jobs service emits, as typed calls: no topic or payload in here.

The MQTT API (:mod:`simulator.api.mqtt.notices`) implements :class:`JobsNotices` and turns each
call into ``$aws/things/{thing}/jobs/notify`` and ``notify-next`` messages for the runtime's
publisher. Notifications are method calls rather than event objects: the in-process fleet emits
millions of them, and a call with typed arguments costs no allocation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from simulator.services.jobs.records import ExecutionRecord

__all__ = ["JobsNotices", "NoNotices"]


class JobsNotices(Protocol):
    """What listens to the Jobs service's notifications."""

    def pending_changed(
        self,
        thing: str,
        pending: Sequence[ExecutionRecord],
        old_head: ExecutionRecord | None,
        now: float,
        /,
    ) -> None:
        """The pending list of ``thing`` changed (an execution was added, started or left).

        Args:
            thing: the thing whose list changed.
            pending: its pending executions now, IN_PROGRESS first then QUEUED (read during the
                call only: the list changes afterwards).
            old_head: the head of the list before the change (``None``: it was empty).
            now: the time of the change.
        """
        ...


class NoNotices:
    """Listens to nothing: a control plane without an MQTT API."""

    __slots__ = ()

    def pending_changed(
        self,
        thing: str,
        pending: Sequence[ExecutionRecord],
        old_head: ExecutionRecord | None,
        now: float,
        /,
    ) -> None:
        return None
