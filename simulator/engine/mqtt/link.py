"""The devices' side of an MQTT run: every device of this process on its own broker connection.

:class:`MqttDeviceLink` is the :class:`~simulator.core.device.DeviceIO` of every device (the
device state machine is the same object the in-process bus drives) over one
:class:`DeviceTransport`, in practice a :class:`~simulator.transport.mqtt.ConnectionPool`: one
connection per device, client id = thing name, QoS 1. What differs from the in-process bus:

* ``lossless`` is False: a broker can lose a message (a restart loses sessions and in-flight
  messages), so a device re-sends an unanswered request after its response timeout, with a
  fresh clientToken; the device ignores answers to earlier tokens, and the emulator treats a
  repeated request as AWS does (see :mod:`simulator.core.device.machine`);
* timers sit on the run's shared :class:`~simulator.engine.heap.WallClockHeap`;
  messages from the pool reach ``device.on_message`` directly in the read callback, after
  ``now`` is advanced to the wall clock;
* a device comes online when its connection does (the pool's connect ramp replaces the
  scenario's ``fleet.connect`` draw), then asks ``start-next`` as on any connect. When a
  reconnect does not resume the session (the broker restarted and forgot it), notifications
  sent meanwhile are gone, so an idle device is handed a ``notify-next`` wake-up, as the
  Device Client looks for pending jobs when its connection resumes. A device whose connection
  is down keeps its state: its publishes queue in the connection until it is back.

What the devices did is kept in a :class:`~simulator.engine.mqtt.ledger.RunLedger`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from typing import Any, Literal, Protocol

import orjson

from simulator.core.device import Device, DeviceState
from simulator.engine.eventlog import EventLog
from simulator.engine.heap import WallClockHeap
from simulator.engine.mqtt.ledger import RunLedger
from simulator.transport.mqtt import MessageCallback, PoolStats

__all__ = ["DeviceTransport", "MqttDeviceLink", "TransportFactory", "device_topics"]

_S = DeviceState


class DeviceTransport(Protocol):
    """What the link needs of the device-side client (``ConnectionPool`` or a benchmark's)."""

    async def start(self) -> None: ...

    def publish(self, index: int, topic: str, payload: bytes, qos: Literal[0, 1] = 1) -> bool: ...

    def stats(self) -> PoolStats: ...

    async def close(self, *, timeout: float = 5.0) -> None: ...


class TransportFactory(Protocol):
    """``ConnectionPool``'s constructor, as the run calls it."""

    def __call__(
        self,
        broker: Any,
        client_ids: Sequence[str],
        *,
        on_message: MessageCallback,
        subscriptions: Callable[[int], Sequence[str]] | None = None,
        on_online: Callable[[int, bool], None] | None = None,
        on_offline: Callable[[int], None] | None = None,
        options: Any = None,
    ) -> DeviceTransport: ...


def device_topics(name: str) -> list[str]:
    """The topic filters a device subscribes to: its Jobs replies and notifications."""
    jobs = f"$aws/things/{name}/jobs"
    return [
        f"{jobs}/notify-next",
        f"{jobs}/start-next/accepted",
        f"{jobs}/start-next/rejected",
        f"{jobs}/+/update/accepted",
        f"{jobs}/+/update/rejected",
    ]


class MqttDeviceLink:
    """The :class:`~simulator.core.device.DeviceIO` of every device of one MQTT run."""

    __slots__ = (
        "_begun",
        "_heap",
        "_on_inventory",
        "devices",
        "ledger",
        "log",
        "received",
        "sent",
        "transport",
    )

    lossless = False

    def __init__(self, heap: WallClockHeap, on_inventory: Callable[[Device, str], None]) -> None:
        self._heap = heap
        self._on_inventory = on_inventory
        self.devices: list[Device] = []
        self.transport: DeviceTransport | None = None
        self._begun = bytearray()
        self.ledger = RunLedger()
        self.sent = 0
        self.received = 0
        self.log: EventLog | None = None

    def attach(self, devices: Sequence[Device]) -> None:
        """The devices, in the transport's client order (device ``i`` is client ``i``)."""
        self.devices = list(devices)
        self._begun = bytearray(len(devices))

    def add(self, device: Device) -> None:
        """One more device, the transport's next client (a fleet that grows as it runs)."""
        assert device.index == len(self.devices), "devices join in the transport's order"
        self.devices.append(device)
        self._begun.append(0)

    # -- DeviceIO ---------------------------------------------------------------------------

    def now(self) -> float:
        return self._heap.now

    def publish(self, device: Device, topic: str, payload: bytes, /) -> None:
        self.sent += 1
        if self.log is not None:
            self.log.message(self._heap.now, "up", topic, payload)
        transport = self.transport
        assert transport is not None, "attach a transport before devices publish"
        transport.publish(device.index, topic, payload)

    def set_timer(self, device: Device, delay: float, token: int, /) -> None:
        heap = self._heap
        heap.at(heap.now + delay, _timer, device, token)

    def inventory_changed(self, device: Device, package: str, /) -> None:
        self._on_inventory(device, package)

    # -- the transport's callbacks ----------------------------------------------------------

    def subscriptions(self, index: int) -> list[str]:
        device = self.devices[index]
        topics = device_topics(device.name)
        if device.hears_package_answers:  # it reports with a version precondition
            package = f"$aws/things/{device.name}/shadow/name/$package"
            topics += [f"{package}/+/accepted", f"{package}/+/rejected"]
        return topics

    def deliver(self, index: int, topic: str, payload: bytes, /) -> None:
        heap = self._heap
        heap.advance(time.time())
        self.received += 1
        if self.log is not None:
            self.log.message(heap.now, "down", topic, payload)
        ledger = self.ledger
        if ledger.first_notify_at is None and topic.endswith("/notify-next"):
            ledger.first_notify_at = heap.now
            ledger.messages_at_first_notify = self.sent + self.received
        device = self.devices[index]
        before = device.state
        device.on_message(topic, payload)
        after = device.state
        if after is not before:
            if before is _S.REQUESTING and (after is _S.RUNNING or after is _S.REPORTING):
                ledger.started.setdefault(index, []).append(_execution(payload))
            elif before is _S.REPORTING:
                ledger.terminal_answers += 1
                ledger.last_terminal_at = heap.now
                ledger.messages_at_last_terminal = self.sent + self.received

    def online(self, index: int, session_present: bool, /) -> None:
        self._heap.advance(time.time())
        device = self.devices[index]
        if not self._begun[index]:
            self._begun[index] = 1
            device.connect(0.0)
        elif device.state is _S.IDLE and not session_present:
            self.ledger.wakeups += 1
            device.on_message(f"$aws/things/{device.name}/jobs/notify-next", b"{}")

    def offline(self, index: int, /) -> None:
        self.ledger.offline += 1


def _timer(device: Device, token: int) -> None:
    device.on_timer(token)


def _execution(payload: bytes) -> tuple[str, int]:
    execution = orjson.loads(payload).get("execution") or {}
    number = execution.get("executionNumber")
    return str(execution.get("jobId")), number if type(number) is int else 1
