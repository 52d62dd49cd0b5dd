"""The ``$package`` history of a run: who read and wrote it, what the devices ran, and every
execution transition, as lines of the event log (the record kinds are in :mod:`.eventlog`).

:class:`HistoryRecorder` listens where those things happen, on a
:class:`~simulator.engine.world.World`: the shadow service's change subscription (every
accepted ``$package`` write), the Jobs store's execution listener (every transition), the
devices' ``inventory_changed`` hook, the manual writers (their reads, and their refused
writes), and the devices' own ``$package`` updates as they reach the MQTT API. Whoever causes a
write says so first (:meth:`HistoryRecorder.intend`: who, the precondition, the entries); the
accepted write is recorded when the shadow service announces it, a refused one by the caller.
Jobs announces its own write just before it makes it (``JobsService.on_package_write``).
It is attached only when the run writes an event log: without one the run pays nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, Protocol

import orjson

from simulator.core.device import Device, DeviceState
from simulator.core.errors import AwsError, ConflictException
from simulator.core.jobs import Actor, ExecutionStatus
from simulator.engine.eventlog import EventLog
from simulator.services.jobs.records import ExecutionRecord

__all__ = ["PACKAGE_UPDATE", "HistoryRecorder", "PackageView"]

#: How the topic of a device's own ``$package`` update ends.
PACKAGE_UPDATE: Final = "/shadow/name/$package/update"
_OFFLINE: Final = DeviceState.OFFLINE
_VERIFYING: Final = DeviceState.VERIFYING

_Intent = tuple[str, str, int | None, dict[str, str | None] | None, int | None]


class PackageView(Protocol):
    """What the recorder reads of ``$package`` (the shadow service and the tracker)."""

    def version(self, thing: str) -> int | None:
        """The ``$package`` version, ``None`` without one."""
        ...

    def versions(self, thing: str) -> dict[str, str | None]:
        """Catalog package -> the version ``$package`` names."""
        ...


class HistoryRecorder:
    """Writes the history lines of one run to its :class:`EventLog`."""

    __slots__ = ("_intent", "_log", "_now", "_packages", "_view", "writer")

    def __init__(
        self,
        log: EventLog,
        now: Callable[[], float],
        view: PackageView,
        packages: frozenset[str],
        writer: Callable[[], str],
    ) -> None:
        """Record to ``log`` at ``now()``; ``writer()`` names who writes when nobody said
        (the consistency tracker's attribution)."""
        self._log = log
        self._now = now
        self._view = view
        self._packages = packages
        self.writer = writer
        #: The next $package write: (thing, by, precondition, entries, version read), until it
        #: is recorded.
        self._intent: _Intent | None = None

    def init(self, device: Device) -> None:
        """The device as the run starts."""
        name = device.name
        packages = self._packages
        self._log.record(
            self._now(),
            "init",
            name,
            {
                "inv": {p: v for p, v in device.inventory.items() if p in packages},
                "v": self._view.version(name) or 0,
                "pkg": self._view.versions(name),
            },
        )

    # -- $package reads and writes ------------------------------------------------------------

    def read(self, thing: str, by: str, document: Mapping[str, Any] | None) -> None:
        """A writer read ``$package`` (``document``: the GET document, ``None`` when absent)."""
        fields: dict[str, Any] = {"by": by, "v": None, "pkg": None}
        if document is not None:
            fields["v"] = document.get("version")
            fields["pkg"] = self._view.versions(thing)
        self._log.record(self._now(), "read", thing, fields)

    def intend(
        self,
        thing: str,
        by: str,
        pre: int | None,
        entries: dict[str, str | None] | None,
        read: int | None = None,
    ) -> None:
        """The next ``$package`` write of ``thing`` is ``by``'s, with these details (``read``:
        the version a read-modify-write read)."""
        self._intent = (thing, by, pre, entries, read)

    def refused(self, thing: str, answer: str) -> None:
        """The intended write was refused (``409`` or ``rejected``)."""
        intent = self._intent
        self._intent = None
        if intent is None or intent[0] != thing:
            return
        self._log.record(self._now(), "write", thing, _write_fields(intent, answer))

    def shadow_changed(self, thing: str, shadow: str | None) -> None:
        """The shadow service's listener: an accepted update or a delete."""
        if shadow != "$package":
            return
        intent = self._intent
        self._intent = None
        if intent is None or intent[0] != thing:
            intent = (thing, self.writer(), None, None, None)
        version = self._view.version(thing)
        if version is None:
            self._log.record(self._now(), "delete", thing, {"by": intent[1]})
            return
        fields = _write_fields(intent, "accepted")
        fields["v"] = version
        fields["pkg"] = self._view.versions(thing)
        self._log.record(self._now(), "write", thing, fields)

    def device_update(
        self,
        topic: str,
        payload: bytes,
        handle: Callable[[str, bytes], list[tuple[str, bytes]]],
    ) -> list[tuple[str, bytes]]:
        """A device's ``$package`` update (a topic ending in :data:`PACKAGE_UPDATE`) through
        ``handle``, recorded: the entries it sent, and the answer when refused."""
        thing = topic.split("/", 3)[2]
        try:
            body = orjson.loads(payload)
        except orjson.JSONDecodeError:
            body = None
        pre = body.get("version") if isinstance(body, dict) else None
        reported = ((body.get("state") or {}).get("reported") or {}) if body else {}
        entries = _entries(reported) if isinstance(reported, dict) else None
        self.intend(thing, "device", pre if type(pre) is int else None, entries)
        replies = handle(topic, payload)
        for reply_topic, reply in replies:
            if reply_topic.endswith("/update/rejected"):
                code = (orjson.loads(reply) or {}).get("code")
                self.refused(thing, "409" if code == 409 else "rejected")
        self._intent = None
        return replies

    def manual_write(
        self,
        thing: str,
        by: str,
        *,
        read: int,
        pre: int | None,
        entries: dict[str, str | None],
        write: Callable[[], object],
    ) -> None:
        """A manual writer's UpdateThingShadow (``write``) of what it read at version ``read``;
        re-raises what it raises."""
        self.intend(thing, by, pre, entries, read)
        try:
            write()
        except ConflictException:
            self.refused(thing, "409")
            raise
        except AwsError:
            self.refused(thing, "rejected")
            raise
        finally:
            self._intent = None

    # -- devices and executions ---------------------------------------------------------------

    def inventory_changed(self, device: Device, package: str) -> None:
        """The device's ``inventory_changed`` hook: an install, uninstall or rollback."""
        if package not in self._packages:
            return
        version = device.inventory.get(package)
        # A rollback happens as the device boots again (still offline: see Device._boot), or as
        # a failed health check ends (Device._roll_back).
        state = device.state
        rollback = state is _OFFLINE or state is _VERIFYING
        op = "rollback" if rollback else "install" if version else "uninstall"
        self._log.record(
            self._now(), "inv", device.name, {"op": op, "pkg": package, "ver": version}
        )

    def execution(
        self,
        ex: ExecutionRecord,
        previous: ExecutionStatus | None,
        actor: Actor | None,
        now: float,
    ) -> None:
        """The Jobs store's execution listener."""
        job = ex.job
        # Job ids are [a-zA-Z0-9_-]+ (checked by CreateJob), statuses and actors enum values:
        # nothing to escape, and one format is cheaper than a dict encoded (3 per device).
        origin = "null" if previous is None else f'"{previous._value_}"'
        by = "jobs" if actor is None else actor._value_
        self._log.record_members(
            now,
            "exec",
            ex.thing,
            f'"job":"{job.job_id}","n":{ex.number},"from":{origin},'
            f'"to":"{ex.status._value_}","by":"{by}"',
        )

    def jobs_write(self, thing: str, versions: Mapping[str, str | None]) -> None:
        """The Jobs service's ``on_package_write`` listener: its write follows (in the same
        call as the SUCCEEDED transition, or later when Jobs' write is delayed)."""
        self.intend(thing, "jobs", None, dict(versions))


def _write_fields(intent: _Intent, answer: str) -> dict[str, Any]:
    _, by, pre, entries, read = intent
    fields: dict[str, Any] = {"by": by, "pre": pre, "set": entries, "ans": answer}
    if read is not None:
        fields["read"] = read
    return fields


def _entries(reported: Mapping[str, Any]) -> dict[str, str | None]:
    """package -> version of a ``reported`` section (``None``: removed or no version)."""
    out: dict[str, str | None] = {}
    for package, entry in reported.items():
        version = entry.get("version") if isinstance(entry, dict) else None
        out[package] = version if isinstance(version, str) else None
    return out
