"""The in-process transport: the same topics and payload bytes MQTT would carry, with latency.

Devices publish through :class:`DeviceLink` (the :class:`~simulator.core.device.DeviceIO` of a
device); the emulator's MQTT API answers through :class:`CloudLink`, which is also the services'
:class:`~simulator.services.runtime.Publisher`. Each hop is one heap entry delayed by a latency
draw, so message timing, ordering and loss-by-being-offline behave as on a broker, and the MQTT
transport can replace this module without the device or the emulator noticing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Final

from simulator.core.device import Device
from simulator.core.distributions import Stream
from simulator.engine.eventlog import EventLog
from simulator.engine.loop import EventHeap

__all__ = ["CloudLink", "DeviceLink", "Dispatcher"]

_PREFIX: Final = len("$aws/things/")

#: Handles one message published by a device; returns the replies addressed to it.
Dispatcher = Callable[[str, bytes], list[tuple[str, bytes]]]


def _wanted(topic: str, start: int) -> bool:
    """The topics a device subscribes to (the AWS IoT Device Client's set)."""
    rest = topic[start:]
    return rest.startswith("jobs/") and (
        rest == "jobs/notify-next" or rest.startswith("jobs/start-next/") or "/update/" in rest
    )


class CloudLink:
    """Delivers what the cloud side publishes to the subscribed device, after a latency."""

    __slots__ = ("_devices", "_heap", "_latency", "delivered", "log")

    def __init__(self, heap: EventHeap, latency: Stream, devices: dict[str, Device]) -> None:
        self._heap = heap
        self._latency = latency
        self._devices = devices
        self.delivered = 0
        self.log: EventLog | None = None

    def subscribed(self, topic: str, /) -> bool:
        end = topic.find("/", _PREFIX)
        return end > 0 and topic[_PREFIX:end] in self._devices and _wanted(topic, end + 1)

    def publish(self, topic: str, payload: bytes, /) -> None:
        end = topic.find("/", _PREFIX)
        if end < 0 or not topic.startswith("$aws/things/"):
            return
        device = self._devices.get(topic[_PREFIX:end])
        if device is None or not _wanted(topic, end + 1):
            return
        heap = self._heap
        heap.at(heap.now + self._latency(), _deliver, device, (topic, payload))
        self.delivered += 1
        if self.log is not None:
            self.log.message(heap.now, "down", topic, payload)


def _deliver(device: Device, message: tuple[str, bytes]) -> None:
    device.on_message(message[0], message[1])


class DeviceLink:
    """The driver side of every device: publish to the cloud, timers, inventory changes.

    The in-process link never loses a message to an online device, so devices need no response
    timers on it (``lossless``); an MQTT link does.
    """

    __slots__ = ("_cloud", "_dispatch", "_heap", "_latency", "_on_inventory", "log", "sent")

    lossless = True

    def __init__(
        self,
        heap: EventHeap,
        latency: Stream,
        dispatch: Dispatcher,
        cloud: CloudLink,
        on_inventory: Callable[[Device, str], None],
    ) -> None:
        self._heap = heap
        self._latency = latency
        self._dispatch = dispatch
        self._cloud = cloud
        self._on_inventory = on_inventory
        self.sent = 0
        self.log: EventLog | None = None

    def now(self) -> float:
        return self._heap.now

    def publish(self, device: Device, topic: str, payload: bytes, /) -> None:
        heap = self._heap
        heap.at(heap.now + self._latency(), self._arrive, topic, payload)
        self.sent += 1

    def _arrive(self, topic: str, payload: bytes) -> None:
        if self.log is not None:
            self.log.message(self._heap.now, "up", topic, payload)
        publish = self._cloud.publish
        for reply_topic, reply in self._dispatch(topic, payload):
            publish(reply_topic, reply)

    def set_timer(self, device: Device, delay: float, token: int, /) -> None:
        heap = self._heap
        heap.at(heap.now + delay, _timer, device, token)

    def inventory_changed(self, device: Device, package: str, /) -> None:
        self._on_inventory(device, package)


def _timer(device: Device, token: int) -> None:
    device.on_timer(token)
