"""The ``$package`` audit of devices whose control plane is elsewhere (a ``fleetsim serve`` or AWS).

In process, the consistency tracker follows every write as it happens and knows who made it. A
load test against an external control plane sees each device's ``$package`` only at the end
(GetThingShadow), and ``$package`` keeps no metadata (AWS: it "doesn't update with metadata").
Who wrote last is pieced together instead: the device's process knows when Jobs (an accepted
SUCCEEDED update) or the device itself last wrote it (:attr:`DeviceTruth.written_at`), and a
manual writer (:mod:`simulator.engine.writers`) stamps every entry it writes back with
``attributes.auditedAt`` (epoch seconds). The newer of the two is the last writer; stamps are whole
seconds, so a manual write and a device change in the same second count the write as the later.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import orjson

from simulator.engine.consistency import ConsistencyTracker
from simulator.engine.mqtt.provision import NOT_FOUND, thread_map, tolerate

__all__ = ["AuditResult", "DeviceTruth", "audit_devices", "last_writer"]


@dataclass(frozen=True, slots=True)
class DeviceTruth:
    """A device as the tracker reads it: what it runs, and when that last changed."""

    index: int
    name: str
    inventory: Mapping[str, str]
    changed_at: float = float("-inf")
    written_at: float = float("-inf")


@dataclass(frozen=True, slots=True)
class AuditResult:
    """Per-cause counts of one audit (see :mod:`simulator.engine.consistency`)."""

    checked: int
    consistent: int
    inconsistent: int
    by_cause: dict[str, int] = field(default_factory=dict)
    examples: dict[str, list[str]] = field(default_factory=dict)


def last_writer(
    reported: Mapping[str, Any], packages: Iterable[str], device_wrote_at: float
) -> tuple[str, float]:
    """Who last wrote a device's ``$package``, and when: ``("manual", t)`` when a manual
    writer's ``auditedAt`` stamp is newer than the last write Jobs or the device made for it
    (``device_wrote_at``), else ``("device", device_wrote_at)``."""
    stamped = float("-inf")
    for package in packages:
        entry = reported.get(package)
        attributes = entry.get("attributes") if isinstance(entry, dict) else None
        stamp = attributes.get("auditedAt") if isinstance(attributes, dict) else None
        if isinstance(stamp, str) and stamp.isdigit():
            stamped = max(stamped, float(stamp))
    if stamped >= device_wrote_at and stamped > float("-inf"):
        return "manual", stamped
    return "device", device_wrote_at


def audit_devices(
    get_shadow: Callable[[str], bytes | None],
    devices: Sequence[DeviceTruth],
    packages: frozenset[str],
    *,
    examples: int = 10,
) -> AuditResult:
    """Fetch every device's ``$package`` (``get_shadow(thing)``: the document, or None when the
    thing has none) over worker threads, and classify each device as the tracker does."""
    truths = [DeviceTruth(i, d.name, d.inventory, d.changed_at) for i, d in enumerate(devices)]

    def fetch(name: str) -> dict[str, Any]:
        payload = get_shadow(name)
        document = orjson.loads(payload) if payload else {}
        return document if isinstance(document, dict) else {}

    documents = dict(
        zip((d.name for d in truths), thread_map(fetch, [d.name for d in truths]), strict=True)
    )

    def state(thing: str, shadow: str) -> Mapping[str, Any] | None:
        reported = (documents.get(thing) or {}).get("state", {}).get("reported")
        return reported if shadow == "$package" and isinstance(reported, dict) else None

    tracker = ConsistencyTracker(truths, packages, state)
    for truth in truths:
        writer, written_at = last_writer(
            state(truth.name, "$package") or {}, packages, truth.written_at
        )
        tracker.attribute(
            truth.index, writer=writer, written_at=written_at, changed_at=truth.changed_at
        )
    by_example: dict[str, list[str]] = {}
    for truth in truths:
        cause = tracker.classify(truth.index)
        tracker.check(truth.index)
        if cause and len(by_example.setdefault(cause, [])) < examples:
            by_example[cause].append(truth.name)
    return AuditResult(
        checked=tracker.checked,
        consistent=tracker.consistent,
        inconsistent=tracker.inconsistent,
        by_cause=dict(tracker.by_cause),
        examples=by_example,
    )


def shadow_getter(data: Any) -> Callable[[str], bytes | None]:
    """``get_shadow`` for :func:`audit_devices` over an ``iot-data`` client."""

    def get(name: str) -> bytes | None:
        found = tolerate(
            {NOT_FOUND}, lambda: data.get_thing_shadow(thingName=name, shadowName="$package")
        )
        return None if found is None else bytes(found["payload"].read())

    return get
