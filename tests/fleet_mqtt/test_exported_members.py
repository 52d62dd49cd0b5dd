"""The public API of :mod:`simulator.engine.mqtt` is its ``__all__``; pinned so changes are
deliberate."""

from __future__ import annotations

import simulator.engine.mqtt as package

PUBLIC = {
    "DeviceTransport",
    "EmbeddedPlane",
    "JobInfo",
    "MqttDeviceLink",
    "MqttOptions",
    "MqttRun",
    "MqttWorld",
    "Plane",
    "RunLedger",
    "WallClockHeap",
    "device_topics",
    "parse_control_plane",
    "parse_source_addresses",
    "real_clock",
    "run_mqtt_scenario",
}


def test_exported_members() -> None:
    assert set(package.__all__) == PUBLIC
    for name in package.__all__:
        assert hasattr(package, name), name
