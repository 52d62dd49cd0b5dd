"""Manual writers of ``$package``: an in-house process that calls UpdateThingShadow on its own.

Each writer wakes at Poisson-distributed times (``rate_per_s``), picks a device, reads its
``$package`` (GetThingShadow), waits its read-modify-write ``delay``, then writes back the entries
it read for its packages with an audit stamp added, with or without the ``version`` precondition.
Without the precondition a write that crosses a Jobs update silently restores the old version:
the race AWS warns about ("do not change version through other processes"). With it, the write
is refused with 409 and counted as a conflict.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import orjson

from simulator.core.distributions import Distribution, Stream, stream
from simulator.core.errors import AwsError, ConflictException
from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.heap import EventHeap
from simulator.services.shadow_results import ShadowDocument

if TYPE_CHECKING:
    from simulator.engine.history import HistoryRecorder
    from simulator.engine.scenario import Scenario

__all__ = ["ManualWriter", "ShadowApi", "build_writers"]


class ShadowApi(Protocol):
    def get_thing_shadow(
        self, *, thing_name: str, shadow_name: str | None = None
    ) -> ShadowDocument: ...

    def update_thing_shadow(
        self, *, thing_name: str, shadow_name: str | None = None, payload: bytes
    ) -> Any: ...


@dataclass(slots=True)
class _Read:
    thing: str
    version: int
    entries: dict[str, Any]


class ManualWriter:
    """One writer process; counts its writes, conflicts and skipped devices."""

    def __init__(
        self,
        *,
        name: str,
        seed: int,
        rate_per_s: float,
        delay: Distribution,
        use_version: bool,
        packages: frozenset[str],
        things: list[str],
        heap: EventHeap,
        shadows: ShadowApi,
        tracker: ConsistencyTracker,
        start: float,
        stop: float | None,
    ) -> None:
        self.name = name
        self.use_version = use_version
        self.packages = packages
        self._things = things
        self._heap = heap
        self._shadows = shadows
        self._tracker = tracker
        self._stop = stop
        self._gap: Stream = stream(
            seed, f"writer.{name}.gap", Distribution("exponential", 1 / rate_per_s)
        )
        self._pick: Stream = stream(seed, f"writer.{name}.pick", Distribution("uniform", 0, 1))
        self._delay: Stream = stream(seed, f"writer.{name}.delay", delay)
        self.writes = 0
        self.conflicts = 0
        self.skipped = 0
        self.active = True
        #: Where the run's history goes (reads, and writes with their answer), if it has one.
        self.history: HistoryRecorder | None = None
        heap.at(start + self._gap(), self._wake)

    def _wake(self, _a: object = None, _b: object = None) -> None:
        now = self._heap.now
        if not self.active or (self._stop is not None and now >= self._stop):
            return
        thing = self._things[min(int(self._pick() * len(self._things)), len(self._things) - 1)]
        read = self._read(thing)
        if read is None:
            self.skipped += 1
        else:
            self._heap.at(now + self._delay(), self._write, read)
        self._heap.at(now + self._gap(), self._wake)

    def _read(self, thing: str) -> _Read | None:
        try:
            result = self._shadows.get_thing_shadow(thing_name=thing, shadow_name="$package")
        except AwsError:
            if self.history is not None:
                self.history.read(thing, self.name, None)
            return None  # no $package yet: nothing to reconcile
        doc = result.document
        if self.history is not None:
            self.history.read(thing, self.name, doc)
        reported = (doc.get("state") or {}).get("reported") or {}
        entries = {
            p: e
            for p, e in reported.items()
            if isinstance(e, dict) and (not self.packages or p in self.packages)
        }
        if not entries:
            return None
        return _Read(thing, int(doc.get("version", 0)), entries)

    def _write(self, read: _Read, _b: object = None) -> None:
        if not self.active:
            return
        stamp = str(int(self._heap.now))
        reported = {
            package: {
                **entry,
                "attributes": {
                    **(entry.get("attributes") or {}),
                    "auditedBy": self.name,
                    "auditedAt": stamp,
                },
            }
            for package, entry in read.entries.items()
        }
        body: dict[str, Any] = {"state": {"reported": reported}}
        if self.use_version:
            body["version"] = read.version
        tracker = self._tracker
        previous, tracker.writer = tracker.writer, "manual"
        payload = orjson.dumps(body)
        try:
            if self.history is None:
                self._shadows.update_thing_shadow(
                    thing_name=read.thing, shadow_name="$package", payload=payload
                )
            else:
                self.history.manual_write(
                    read.thing,
                    self.name,
                    read=read.version,
                    pre=body.get("version"),
                    entries={p: e.get("version") for p, e in read.entries.items()},
                    write=lambda: self._shadows.update_thing_shadow(
                        thing_name=read.thing, shadow_name="$package", payload=payload
                    ),
                )
            self.writes += 1
        except ConflictException:
            self.conflicts += 1
        except AwsError:
            self.skipped += 1
        finally:
            tracker.writer = previous


def build_writers(
    scenario: Scenario,
    things: list[str],
    *,
    heap: EventHeap,
    shadows: ShadowApi,
    tracker: ConsistencyTracker,
    start: float,
) -> list[ManualWriter]:
    """The scenario's ``[[writers]]``, over ``things``, from ``start`` on ``heap``."""
    return [
        ManualWriter(
            name=spec.name,
            seed=scenario.run.seed,
            rate_per_s=spec.rate_per_s,
            delay=scenario.writer_delays[i],
            use_version=spec.use_version,
            packages=frozenset(spec.packages),
            things=things,
            heap=heap,
            shadows=shadows,
            tracker=tracker,
            start=start + spec.start_s,
            stop=None if spec.stop_s is None else start + spec.stop_s,
        )
        for i, spec in enumerate(scenario.writers)
    ]
