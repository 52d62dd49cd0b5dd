"""The consistency tracker on its own: verdicts, causes and counts as writes and installs happen."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from simulator.engine.consistency import ConsistencyTracker


@dataclass
class _Device:
    index: int
    name: str
    inventory: dict[str, str] = field(default_factory=dict)


class _Shadows:
    def __init__(self) -> None:
        self.reported: dict[str, dict[str, Any]] = {}

    def state(self, thing: str, shadow: str) -> Mapping[str, Any] | None:
        return self.reported.get(thing) if shadow == "$package" else None

    def write(self, tracker: ConsistencyTracker, thing: str, version: str, writer: str) -> None:
        self.reported[thing] = {"agent": {"version": version}}
        tracker.writer = writer
        tracker.shadow_changed(thing, "$package")


def _fleet(n: int) -> tuple[list[_Device], _Shadows, ConsistencyTracker, list[float]]:
    devices = [_Device(i, f"d{i}", {"agent": "1.0"}) for i in range(n)]
    shadows = _Shadows()
    for d in devices:
        shadows.reported[d.name] = {"agent": {"version": "1.0"}}
    clock = [0.0]
    tracker = ConsistencyTracker(devices, frozenset({"agent"}), shadows.state)
    tracker.now = lambda: clock[0]
    tracker.audit()
    return devices, shadows, tracker, clock


def test_every_device_starts_consistent_and_is_counted_once() -> None:
    _, _, tracker, _ = _fleet(5)
    assert (tracker.consistent, tracker.inconsistent, tracker.checked) == (5, 0, 5)
    tracker.audit()  # re-checking changes no count
    assert (tracker.consistent, tracker.inconsistent) == (5, 0)


def test_causes_follow_the_last_writer_and_the_last_change() -> None:
    devices, shadows, tracker, clock = _fleet(3)
    # Device 0 installs 1.2 and nobody writes $package: not reported.
    clock[0] = 10.0
    devices[0].inventory["agent"] = "1.2"
    tracker.inventory_changed(devices[0], "agent")
    # Device 1: a manual writer's stale read-modify-write puts an old version back.
    clock[0] = 20.0
    shadows.write(tracker, "d1", "0.9", "manual")
    # Device 2: Jobs writes a version the device does not run.
    shadows.write(tracker, "d2", "2.0", "jobs")
    assert [tracker.classify(i) for i in range(3)] == [
        "not_reported",
        "manual_overwrite",
        "phantom_version",
    ]
    assert dict(tracker.by_cause) == {
        "not_reported": 1,
        "manual_overwrite": 1,
        "phantom_version": 1,
    }
    assert (tracker.consistent, tracker.inconsistent) == (0, 3)
    # A manual rewrite of an already wrong $package keeps the blame where it was.
    shadows.write(tracker, "d0", "1.1", "manual")
    assert tracker.classify(0) == "not_reported"
    # Fixing them brings the counts back.
    shadows.write(tracker, "d0", "1.2", "device")
    shadows.write(tracker, "d1", "1.0", "jobs")
    shadows.write(tracker, "d2", "1.0", "jobs")
    assert (tracker.consistent, tracker.inconsistent) == (3, 0)
    assert not tracker.by_cause


def test_attributed_writers_may_be_any_name() -> None:
    _, shadows, tracker, _ = _fleet(2)
    tracker.attribute(0, writer="manual", written_at=5.0, changed_at=1.0)
    tracker.attribute(1, writer="someone-else", written_at=5.0, changed_at=1.0)
    shadows.reported["d0"] = shadows.reported["d1"] = {"agent": {"version": "0.1"}}
    assert tracker.classify(0) == "manual_overwrite"
    assert tracker.classify(1) == "phantom_version"


def test_writes_to_unknown_things_and_other_shadows_are_ignored() -> None:
    _, shadows, tracker, _ = _fleet(2)
    tracker.shadow_changed("not-a-device", "$package")
    shadows.reported["d0"] = {"agent": {"version": "9"}}
    tracker.shadow_changed("d0", None)  # the classic shadow: not followed
    assert (tracker.consistent, tracker.inconsistent) == (2, 0)


def test_a_callers_mapping_by_name_is_used() -> None:
    devices = [_Device(i, f"d{i}", {"agent": "1.0"}) for i in range(2)]
    shadows = _Shadows()
    by_name = {d.name: d for d in devices}
    tracker = ConsistencyTracker(devices, frozenset({"agent"}), shadows.state, by_name=by_name)
    tracker.audit()
    assert tracker.inconsistent == 2  # no $package yet: missing entries
    assert dict(tracker.by_cause) == {"missing_entry": 2}
    shadows.write(tracker, "d1", "1.0", "device")
    assert (tracker.consistent, tracker.inconsistent) == (1, 1)
