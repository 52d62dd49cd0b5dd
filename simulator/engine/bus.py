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
from simulator.engine.faults import FaultSchedule
from simulator.engine.heap import EventHeap

__all__ = ["CloudLink", "DeviceLink", "Dispatcher"]

_MEMO_SIZE: Final = 4096
#: The ``$package`` answers a device reporting with a version precondition subscribes to.
_PACKAGE_ANSWERS: Final = frozenset(
    f"shadow/name/$package/{op}/{answer}"
    for op in ("update", "get")
    for answer in ("accepted", "rejected")
)

#: Handles one message published by a device; returns the replies addressed to it.
Dispatcher = Callable[[str, bytes], list[tuple[str, bytes]]]


def _wanted(rest: str) -> bool:
    """The topics a device subscribes to (the AWS IoT Device Client's set), by what follows
    ``$aws/things/<thing>/``."""
    return rest[:5] == "jobs/" and (
        rest == "jobs/notify-next" or rest[:16] == "jobs/start-next/" or "/update/" in rest
    )


class CloudLink:
    """Delivers what the cloud side publishes to the subscribed device, after a latency."""

    __slots__ = ("_devices", "_heap", "_latency", "_wanted", "delivered", "log", "package_answers")

    def __init__(self, heap: EventHeap, latency: Stream, devices: dict[str, Device]) -> None:
        self._heap = heap
        self._latency = latency.draw  # C-level: one draw per message
        self._devices = devices
        #: _wanted() by topic tail: a handful of distinct tails (per job), millions of messages.
        self._wanted: dict[str, bool] = {}
        self.delivered = 0
        self.log: EventLog | None = None
        #: Some device hears ``$package``'s answers (it reports with a version precondition).
        self.package_answers = False

    def _package_answer(self, topic: str) -> Device | None:
        """The device that hears ``topic``, a ``$package`` answer, if it subscribes to them."""
        parts = topic.split("/", 3)
        if len(parts) != 4 or parts[0] != "$aws" or parts[1] != "things":
            return None
        if parts[3] not in _PACKAGE_ANSWERS:
            return None
        device = self._devices.get(parts[2])
        return device if device is not None and device.hears_package_answers else None

    def _device(self, topic: str) -> Device | None:
        """The device that receives ``topic``, if one subscribes to it."""
        if "/jobs/" not in topic:
            # Shadow topics and the like: only a device reporting with a version precondition
            # subscribes to some ($package's answers).
            return self._package_answer(topic) if self.package_answers else None
        # One split, then == and dict lookups: str methods with offsets cost more here.
        parts = topic.split("/", 3)
        if len(parts) != 4 or parts[0] != "$aws" or parts[1] != "things":
            return None
        rest = parts[3]
        wanted = self._wanted.get(rest)
        if wanted is None:
            if len(self._wanted) >= _MEMO_SIZE:
                self._wanted.clear()
            wanted = self._wanted[rest] = _wanted(rest)
        return self._devices.get(parts[2]) if wanted else None

    def subscribed(self, topic: str, /) -> bool:
        # _device()'s first test, without the call: services ask about every shadow change they
        # make, and no device subscribes to shadow topics unless it reports with a version.
        if "/jobs/" not in topic and not self.package_answers:
            return False
        return self._device(topic) is not None

    def publish(self, topic: str, payload: bytes, /) -> None:
        device = self._device(topic)
        if device is None:
            return
        heap = self._heap
        # The device's own handler as the entry's function: no trampoline call per message.
        heap.at(heap.now + self._latency(), device.on_message, topic, payload)
        self.delivered += 1
        if self.log is not None:
            self.log.message(heap.now, "down", topic, payload)


class DeviceLink:
    """The driver side of every device: publish to the cloud, timers, inventory changes.

    The in-process link never loses a message to an online device, so devices need no response
    timers on it (``lossless``); an MQTT link does.
    """

    __slots__ = (
        "_arrive_fn",
        "_cloud",
        "_dispatch",
        "_faults",
        "_heap",
        "_latency",
        "_on_inventory",
        "log",
        "sent",
    )

    lossless = True

    def __init__(
        self,
        heap: EventHeap,
        latency: Stream,
        dispatch: Dispatcher,
        cloud: CloudLink,
        on_inventory: Callable[[Device, str], None],
        *,
        faults: FaultSchedule | None = None,
    ) -> None:
        self._heap = heap
        #: The scenario's faults: a $package report whose connection dropped lands late.
        self._faults = faults
        self._latency = latency.draw  # C-level: one draw per message
        self._dispatch = dispatch
        self._cloud = cloud
        self._on_inventory = on_inventory
        self._arrive_fn = self._arrive  # bound once, not per message
        self.sent = 0
        self.log: EventLog | None = None

    def now(self) -> float:
        return self._heap.now

    def publish(self, device: Device, topic: str, payload: bytes, /) -> None:
        heap = self._heap
        faults = self._faults
        if faults is None:
            heap.at(heap.now + self._latency(), self._arrive_fn, topic, payload)
        else:
            delay = self._latency() + faults.delay(heap.now, topic)
            heap.at(heap.now + delay, self._arrive_fn, topic, payload)
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
