"""A fleet that grows and shrinks while it runs, one device at a time, on a loop of its own.

The Locust driver (:mod:`simulator.locustrun`) adds a device when a Locust user starts and hangs
it up when the user stops. :class:`ElasticFleet` runs those devices exactly as
:class:`~simulator.engine.runner.Runner` runs a whole fleet: the same
:class:`~simulator.core.device.Device` state machine with the scenario's inventory draws and
behaviour, one :class:`~simulator.transport.mqtt.ConnectionPool` connection per device (client
id = thing name), one :class:`~simulator.engine.heap.WallClockHeap` for every timer. Each
request/response pair goes through a :class:`~simulator.engine.mqtt.requests.RequestTimer`,
whose :attr:`ElasticFleet.requests` deque another thread drains.

Threads. The loop (uvloop) runs in its own OS thread, started with the function the caller
passes (under Locust, the unpatched ``_thread.start_new_thread``: gevent's threads are
greenlets). Methods marked *any thread* only append to a deque and wake the loop; results come
back through deques and plain attributes that the caller polls. No lock and no future crosses
the threads: gevent's locks must not be shared with a real OS thread.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import traceback
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Final, Protocol

import msgspec
import uvloop

from simulator.core.device import Device
from simulator.core.errors import FleetsimError
from simulator.engine.draws import draw_fleet
from simulator.engine.heap import WallClockHeap
from simulator.engine.mqtt.link import MqttDeviceLink
from simulator.engine.mqtt.options import MqttOptions
from simulator.engine.mqtt.requests import Request, RequestTimer
from simulator.engine.scenario import Scenario
from simulator.transport.mqtt import ConnectionPool, PoolStats, raise_open_file_limit

__all__ = ["DeviceFactory", "DeviceRecord", "ElasticFleet", "TimedDeviceLink", "resized"]

_BATCH: Final = 4096
_IDLE_S: Final = 0.25
_SWEEP_S: Final = 1.0
#: Accepted requests after which ``$package`` holds what the device runs (Jobs' own update on
#: SUCCEEDED, or the device's report).
_WRITES_PACKAGE: Final = frozenset({"update SUCCEEDED", "shadow update $package"})

StartThread = Callable[[Callable[[], None], tuple[()]], object]


class DeviceFactory(Protocol):
    """Builds the device of pool slot ``slot`` (default: the scenario's
    :class:`~simulator.core.device.Device`); benchmarks pass a device of another behaviour."""

    def __call__(
        self, slot: int, name: str, inventory: dict[str, str], io: MqttDeviceLink, /
    ) -> Device: ...


def resized(scenario: Scenario, devices: int) -> Scenario:
    """``scenario`` with a fleet of ``devices`` (Locust's ``-u`` replaces ``fleet.devices``)."""
    if devices == scenario.fleet.devices:
        return scenario
    fleet = msgspec.structs.replace(scenario.spec.fleet, devices=devices)
    return Scenario(msgspec.structs.replace(scenario.spec, fleet=fleet), scenario.path)


class TimedDeviceLink(MqttDeviceLink):
    """:class:`MqttDeviceLink` that also times every request and subscribes to the answers
    of a device's own ``$package`` updates (when it writes them)."""

    __slots__ = ("timer", "written_at")

    def __init__(
        self, heap: WallClockHeap, on_inventory: Callable[[Device, str], None], timer: RequestTimer
    ) -> None:
        super().__init__(heap, on_inventory)
        self.timer = timer
        self.written_at: list[float] = []  # per device: last $package write it caused

    def publish(self, device: Device, topic: str, payload: bytes, /) -> None:
        self.timer.sent(topic[len(device.name) + 13 :], payload, self._heap.now)
        super().publish(device, topic, payload)

    def deliver(self, index: int, topic: str, payload: bytes, /) -> None:
        if topic[-9:] == "/accepted":
            heap = self._heap
            heap.advance(time.time())
            if self.timer.answered(payload, heap.now, accepted=True) in _WRITES_PACKAGE:
                self.written_at[index] = heap.now
        elif topic[-9:] == "/rejected":
            self._heap.advance(time.time())
            self.timer.answered(payload, self._heap.now, accepted=False)
        super().deliver(index, topic, payload)

    def subscriptions(self, index: int) -> list[str]:
        topics = super().subscriptions(index)
        device = self.devices[index]
        if device.reports_shadow:
            shadow = f"$aws/things/{device.name}/shadow/name/$package/update"
            topics += [f"{shadow}/accepted", f"{shadow}/rejected"]
        return topics


@dataclass(frozen=True, slots=True)
class DeviceRecord:
    """What one device of the fleet ended with: the truth a ``$package`` audit compares."""

    index: int  # in the whole fleet (0-based from fleet.first_index)
    name: str
    inventory: dict[str, str]
    changed_at: float  # last inventory change of a catalog package (-inf: none)
    written_at: float  # last $package write by Jobs or the device for it (-inf: none)


class ElasticFleet:
    """Devices of a ``size``-device fleet that join and leave by fleet index.

    Args:
        scenario: the scenario (its fleet size is replaced by ``size``).
        options: broker, TLS, keepalive and connect pacing (``connect_rate``).
        size: devices in the whole fleet, over every process (thing names and draws).
        device_factory: how a device is built (default: the scenario's behaviour).
    """

    def __init__(
        self,
        scenario: Scenario,
        options: MqttOptions,
        *,
        size: int,
        device_factory: DeviceFactory | None = None,
    ) -> None:
        self.scenario = scenario = resized(scenario, size)
        self.options = options
        self.size = size
        self.draws = draw_fleet(scenario)
        self.profile = scenario.device_profile()
        self.packages = frozenset(p.name for p in scenario.catalog.packages)
        self.heap = WallClockHeap(time.time())
        self.timer = RequestTimer(self.profile.response_timeout_s)
        self.requests: deque[Request] = self.timer.done
        self.link = TimedDeviceLink(self.heap, self._inventory_changed, self.timer)
        self.pool: ConnectionPool | None = None
        self._factory = device_factory
        self.names: list[str] = []  # per pool index
        self.fleet_index: list[int] = []  # per pool index
        self.changed_at: list[float] = []  # per pool index
        self._slot: dict[int, int] = {}  # fleet index -> pool index of its latest connection
        self._inbox: deque[Callable[[], None]] = deque()
        self._loop: asyncio.AbstractEventLoop | None = None
        self._closing = False
        self.closed = False
        self.error: str | None = None
        self.joined = 0
        self.left = 0

    # -- any thread -------------------------------------------------------------------------------

    def start(self, start_thread: StartThread) -> None:
        """Start the loop in a new OS thread made by ``start_thread(fn, ())``."""
        start_thread(self._thread, ())

    def join(self, index: int) -> None:
        """Connect device ``index`` of the fleet (0 <= index < size)."""
        if not 0 <= index < self.size:
            raise ValueError(f"device index {index} outside the fleet of {self.size}")
        self._post(lambda: self._join(index))

    def leave(self, index: int) -> None:
        """Disconnect device ``index`` for good."""
        self._post(lambda: self._leave(index))

    def job_created(self, job_id: str, at: float) -> None:
        """CreateJob of ``job_id`` returned at epoch ``at`` (for completion latencies)."""
        self._post(lambda: self.timer.job_created(job_id, at))

    def close(self) -> None:
        """Disconnect every device and end the loop; :attr:`closed` turns True when done."""
        self._post(self._stop)

    def online(self) -> int:
        pool = self.pool
        return 0 if pool is None else pool.stats().online

    # -- after close ----------------------------------------------------------------------------

    def records(self) -> list[DeviceRecord]:
        """Every device that joined (its latest connection), with what it runs now."""
        assert self.closed, "close() first"
        return [
            DeviceRecord(
                index,
                self.names[slot],
                dict(device.inventory),
                self.changed_at[slot],
                self.link.written_at[slot],
            )
            for index, slot in sorted(self._slot.items())
            for device in (self.link.devices[slot],)
        ]

    def stats(self) -> PoolStats | None:
        return None if self.pool is None else self.pool.stats()

    # -- the loop's thread --------------------------------------------------------------------

    def _post(self, call: Callable[[], None]) -> None:
        self._inbox.append(call)  # before looking at _loop: see _main
        loop = self._loop
        if loop is not None and not self.closed:
            with contextlib.suppress(RuntimeError):  # the loop closed meanwhile
                loop.call_soon_threadsafe(self._drain)

    def _drain(self) -> None:
        inbox = self._inbox
        while inbox:
            call = inbox.popleft()
            try:
                call()
            except FleetsimError as exc:
                self.error = exc.message
                self._stop()

    def _thread(self) -> None:
        try:
            uvloop.run(self._main())
        except Exception as exc:  # the caller polls error; a traceback would be lost here
            self.error = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        finally:
            self.closed = True

    async def _main(self) -> None:
        raise_open_file_limit()
        link, options = self.link, self.options
        pool = self.pool = ConnectionPool(
            options.broker,
            [],
            on_message=link.deliver,
            subscriptions=link.subscriptions,
            on_online=link.online,
            on_offline=link.offline,
            options=options.pool_options(self.names),
        )
        await pool.start(dial=False)
        link.transport = pool
        self._loop = asyncio.get_running_loop()
        self._drain()  # whatever was posted before the loop existed
        heap = self.heap
        heap.at(heap.now + _SWEEP_S, self._sweep)
        try:
            while not self._closing:
                if heap.run_due(_BATCH) == _BATCH:
                    await asyncio.sleep(0)
                else:
                    await heap.idle(_IDLE_S)
        finally:
            await pool.close()

    def _sweep(self, _a: Any = None, _b: Any = None) -> None:
        heap = self.heap
        self.timer.expire(heap.now)
        if not self._closing:
            heap.at(heap.now + _SWEEP_S, self._sweep)

    def _stop(self) -> None:
        self._closing = True
        self.heap.at(self.heap.now, _noop)  # wake the idle loop now

    def _join(self, index: int) -> None:
        pool = self.pool
        assert pool is not None
        previous = self._slot.get(index)
        if previous is not None and pool.connections[previous].state.value != "closed":
            return  # already connected
        name = self.scenario.thing_name(self.scenario.fleet.first_index + index)
        self.options.check_credentials([name])
        inventory = (
            dict(self.draws.inventories[index])
            if previous is None
            else self.link.devices[previous].inventory  # the same device, back again
        )
        self.names.append(name)
        slot = pool.add(name)
        if self._factory is not None:
            device = self._factory(slot, name, inventory, self.link)
        else:
            device = Device(
                slot,
                name,
                inventory,
                self.profile,
                self.link,
                reports_shadow=self.draws.reports_shadow[index],
            )
        self.fleet_index.append(index)
        self.changed_at.append(float("-inf") if previous is None else self.changed_at[previous])
        self.link.add(device)
        self.link.written_at.append(
            float("-inf") if previous is None else self.link.written_at[previous]
        )
        self._slot[index] = slot
        self.joined += 1

    def _leave(self, index: int) -> None:
        slot = self._slot.get(index)
        if slot is not None and self.pool is not None:
            self.pool.hang_up(slot)
            self.left += 1

    def _inventory_changed(self, device: Device, package: str) -> None:
        if package in self.packages:
            self.changed_at[device.index] = self.heap.now


def _noop(_a: Any, _b: Any) -> None:
    return None
