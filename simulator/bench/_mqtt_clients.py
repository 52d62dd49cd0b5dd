"""The device-side MQTT clients compared by ``fleetsim bench mqtt``, each as a fleet of N devices.

Every fleet connects N devices (client id ``device-NNNNNN``, clean session, keepalive 60 s,
TCP_NODELAY), subscribes each to its own ``$aws/things/<name>/jobs/notify-next`` at QoS 1 and,
with ``echo``, answers every message there by publishing the same payload at QoS 1 to
``$aws/things/<name>/jobs/start-next`` (the round-trip test). At most 100 connects are between
TCP connect and CONNACK at a time for every client (Mosquitto's listen backlog is 100).

* ``raw``: the floor. One ``asyncio.Protocol`` per device writing CONNECT and SUBSCRIBE together
  (encoded once by :mod:`simulator.transport.mqtt.codec`), byte counting for the
  acknowledgements, a minimal PUBLISH parser; no reconnects, no keepalive pings, no validation.
* ``fleetsim``: :class:`simulator.transport.mqtt.ConnectionPool` with an unlimited ramp rate.
* ``gmqtt``: ``gmqtt.Client`` (MQTT 3.1.1), callbacks. It cannot bind a source address, so all
  its connections come from 127.0.0.1.
* ``aiomqtt``: ``aiomqtt.Client`` (paho underneath) with TCP_NODELAY via ``socket_options`` and
  ``bind_address``, one task per device iterating ``client.messages`` (the library's model).

Every client but gmqtt spreads its connections over the same 64 loopback source addresses.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import random
import socket
import time
from collections.abc import Callable
from typing import Any, Final, Protocol

from simulator.transport.mqtt import BrokerConfig, ConnectionPool, PoolOptions, loopback_sources
from simulator.transport.mqtt.codec import Connect, Subscribe, encode, encode_publish

__all__ = ["CLIENTS", "Fleet", "make_fleet", "publisher_load"]

KEEPALIVE: Final = 60
HANDSHAKES: Final = 100
#: Source addresses, device i binds SOURCES[i % 64] (where the client can bind at all): one
#: address would leave connect() searching a crowded ephemeral port range at 19k connections.
SOURCES: Final = loopback_sources(64)
IP_BIND_ADDRESS_NO_PORT: Final = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def thing(index: int) -> str:
    return f"device-{index:06d}"


def request_topic(index: int) -> str:
    return f"$aws/things/device-{index:06d}/jobs/notify-next"


def reply_topic(index: int) -> str:
    return f"$aws/things/device-{index:06d}/jobs/start-next"


class Fleet(Protocol):
    async def connect(self) -> None: ...

    async def close(self) -> None: ...


# -- raw: the floor ---------------------------------------------------------------------------


def _raw_hello(index: int) -> bytes:
    """CONNECT and SUBSCRIBE, written together (the project's encoder: built once a device)."""
    connect = encode(Connect(thing(index), KEEPALIVE))
    return connect + encode(Subscribe(1, ((request_topic(index), 1),)))


class _RawDevice(asyncio.Protocol):
    __slots__ = ("_buf", "_fleet", "_got", "_index", "_pid", "transport")

    def __init__(self, fleet: RawFleet, index: int) -> None:
        self._fleet = fleet
        self._index = index
        self._buf = b""
        self._got = 0  # bytes of CONNACK (4) + SUBACK (5) seen
        self._pid = 1
        self.transport: asyncio.Transport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        transport.write(_raw_hello(self._index))  # type: ignore[attr-defined]

    def data_received(self, data: bytes) -> None:
        if self._got < 9:
            take = min(9 - self._got, len(data))
            self._got += take
            data = data[take:]
            if self._got == 9:
                self._fleet.ready(self)
        if not data and not self._buf:
            return
        buf = self._buf + data
        out = []
        pos = 0
        while len(buf) - pos >= 2:
            length, shift, start = 0, 0, pos + 1
            while start < len(buf):
                digit = buf[start]
                length |= (digit & 0x7F) << shift
                start += 1
                shift += 7
                if not digit & 0x80:
                    break
            else:
                break
            end = start + length
            if end > len(buf):
                break
            if buf[pos] >> 4 == 3:  # PUBLISH: ack it, answer it
                size = (buf[start] << 8) | buf[start + 1]
                body = start + 2 + size
                qos = (buf[pos] >> 1) & 3
                if qos:
                    out.append(b"\x40\x02" + buf[body : body + 2])
                    body += 2
                if self._fleet.echo:
                    topic = reply_topic(self._index).encode()
                    pid = self._pid = self._pid % 65535 + 1
                    out.append(encode_publish(topic, buf[body:end], 1, pid))
            pos = end
        self._buf = buf[pos:]
        if out and self.transport is not None:
            self.transport.write(b"".join(out))


class RawFleet:
    def __init__(self, host: str, port: int, devices: int, echo: bool) -> None:
        self.host, self.port, self.devices, self.echo = host, port, devices, echo
        self.protocols: list[_RawDevice] = []
        self._ready = 0
        self._window = asyncio.Semaphore(HANDSHAKES)
        self._done: asyncio.Future[None] | None = None

    def ready(self, device: _RawDevice) -> None:
        self._ready += 1
        self._window.release()
        if self._ready == self.devices and self._done is not None:
            self._done.set_result(None)

    async def connect(self) -> None:
        loop = asyncio.get_running_loop()
        self._done = loop.create_future()
        tasks = set()
        for i in range(self.devices):
            await self._window.acquire()
            task = loop.create_task(self._open(loop, i))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        await self._done

    async def _open(self, loop: asyncio.AbstractEventLoop, index: int) -> None:
        device = _RawDevice(self, index)
        sock = socket.socket()
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
        sock.bind((SOURCES[index % len(SOURCES)], 0))
        await loop.sock_connect(sock, (self.host, self.port))
        await loop.create_connection(lambda: device, sock=sock)
        self.protocols.append(device)

    async def close(self) -> None:
        for proto in self.protocols:
            if proto.transport is not None:
                proto.transport.write(b"\xe0\x00")
                proto.transport.close()
        await asyncio.sleep(0.5)


# -- fleetsim ---------------------------------------------------------------------------------


class FleetsimFleet:
    def __init__(self, host: str, port: int, devices: int, echo: bool) -> None:
        on_message = self._echo if echo else _ignore
        self.pool = ConnectionPool(
            BrokerConfig(host, port),
            [thing(i) for i in range(devices)],
            on_message=on_message,
            subscriptions=lambda i: (request_topic(i),),
            options=PoolOptions(
                keepalive=KEEPALIVE,
                connect_rate=1e9,
                connect_burst=HANDSHAKES,
                max_handshakes=HANDSHAKES,
            ),
        )

    def _echo(self, index: int, topic: str, payload: bytes) -> None:
        self.pool.publish(index, reply_topic(index), payload)

    async def connect(self) -> None:
        await self.pool.start()
        await self.pool.wait_online()

    async def close(self) -> None:
        await self.pool.close()


def _ignore(index: int, topic: str, payload: bytes) -> None:
    pass


# -- gmqtt ------------------------------------------------------------------------------------


class GmqttFleet:
    def __init__(self, host: str, port: int, devices: int, echo: bool) -> None:
        import gmqtt  # type: ignore[import-untyped]  # noqa: PLC0415 - only its worker imports it

        logging.getLogger("gmqtt").setLevel(logging.ERROR)
        self.gmqtt = gmqtt
        self.host, self.port, self.devices, self.echo = host, port, devices, echo
        self.clients: list[Any] = []
        self._window = asyncio.Semaphore(HANDSHAKES)
        self._subscribed = 0
        self._done: asyncio.Future[None] | None = None

    def _on_subscribe(self, client: Any, mid: int, qos: Any, properties: Any) -> None:
        self._subscribed += 1
        self._window.release()
        if self._subscribed == self.devices and self._done is not None:
            self._done.set_result(None)

    async def _one(self, index: int) -> None:
        gmqtt = self.gmqtt
        client = gmqtt.Client(thing(index), clean_session=True)
        client.on_subscribe = self._on_subscribe
        if self.echo:

            def on_message(c: Any, topic: str, payload: bytes, qos: int, props: Any) -> int:
                c.publish(reply_topic(index), payload, qos=1)
                return 0

            client.on_message = on_message
        await client.connect(
            self.host, self.port, keepalive=KEEPALIVE, version=gmqtt.constants.MQTTv311
        )
        client.subscribe(request_topic(index), qos=1)
        self.clients.append(client)

    async def connect(self) -> None:
        self._done = asyncio.get_running_loop().create_future()
        tasks = []
        for i in range(self.devices):
            await self._window.acquire()
            tasks.append(asyncio.create_task(self._one(i)))
        await asyncio.gather(*tasks)
        await self._done

    async def close(self) -> None:
        await asyncio.gather(*(c.disconnect() for c in self.clients), return_exceptions=True)


# -- aiomqtt ----------------------------------------------------------------------------------


class AiomqttFleet:
    def __init__(self, host: str, port: int, devices: int, echo: bool) -> None:
        import aiomqtt  # noqa: PLC0415 - only the worker measuring aiomqtt imports it

        self.aiomqtt = aiomqtt
        self.host, self.port, self.devices, self.echo = host, port, devices, echo
        self._window = asyncio.Semaphore(HANDSHAKES)
        self._stop = asyncio.Event()
        self._online = 0
        self._done: asyncio.Future[None] | None = None
        self._tasks: list[asyncio.Task[None]] = []

    async def _device(self, index: int) -> None:
        client = self.aiomqtt.Client(
            self.host,
            self.port,
            identifier=thing(index),
            keepalive=KEEPALIVE,
            clean_session=True,
            protocol=self.aiomqtt.ProtocolVersion.V311,
            socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)],
            bind_address=SOURCES[index % len(SOURCES)],
        )
        try:
            async with client:
                await client.subscribe(request_topic(index), qos=1)
                self._window.release()
                self._online += 1
                if self._online == self.devices and self._done is not None:
                    self._done.set_result(None)
                if not self.echo:
                    await self._stop.wait()
                    return
                async for message in client.messages:
                    await client.publish(reply_topic(index), message.payload, qos=1)
        except asyncio.CancelledError:
            pass

    async def connect(self) -> None:
        self._done = asyncio.get_running_loop().create_future()
        for i in range(self.devices):
            await self._window.acquire()
            self._tasks.append(asyncio.create_task(self._device(i)))
        await self._done

    async def close(self) -> None:
        self._stop.set()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


CLIENTS: Final[dict[str, Callable[[str, int, int, bool], Fleet]]] = {
    "raw": RawFleet,
    "fleetsim": FleetsimFleet,
    "gmqtt": GmqttFleet,
    "aiomqtt": AiomqttFleet,
}


def make_fleet(client: str, host: str, port: int, devices: int, *, echo: bool = False) -> Fleet:
    return CLIENTS[client](host, port, devices, echo)


# -- the round-trip load generator ------------------------------------------------------------


async def publisher_load(
    host: str,
    port: int,
    devices: int,
    *,
    in_flight: int,
    payload_size: int,
    warmup: float,
    duration: float,
    on_measuring: Callable[[], None],
    seed: int = 7,
) -> dict[str, float]:
    """Keep ``in_flight`` requests outstanding to random devices; count answered round trips.

    One fleetsim connection publishes QoS 1 requests (``payload_size`` bytes, a sequence number
    first) to ``notify-next`` and subscribes to every device's ``start-next``.
    """
    rng = random.Random(seed)
    sent: dict[int, float] = {}
    latencies: list[float] = []
    state = {"seq": 0, "measuring": False, "count": 0}
    filler = b"x" * max(0, payload_size - 8)
    pool: ConnectionPool

    def send() -> None:
        state["seq"] += 1
        seq = state["seq"]
        sent[seq] = time.perf_counter()
        pool.publish(0, request_topic(rng.randrange(devices)), seq.to_bytes(8, "big") + filler)

    def on_message(index: int, topic: str, payload: bytes) -> None:
        started = sent.pop(int.from_bytes(payload[:8], "big"), None)
        if started is not None and state["measuring"]:
            state["count"] += 1
            latencies.append(time.perf_counter() - started)
        send()

    pool = ConnectionPool(
        BrokerConfig(host, port),
        ["bench-publisher"],
        on_message=on_message,
        subscriptions=lambda i: ("$aws/things/+/jobs/start-next",),
        options=PoolOptions(keepalive=KEEPALIVE, max_inflight=60_000, source_addresses=()),
    )
    await pool.start()
    await pool.wait_online(timeout=30)
    for _ in range(in_flight):
        send()
    await asyncio.sleep(warmup)
    on_measuring()
    state["measuring"] = True
    started, cpu = time.perf_counter(), _cpu_seconds()
    await asyncio.sleep(duration)
    state["measuring"] = False
    elapsed = time.perf_counter() - started
    cpu_pct = 100 * (_cpu_seconds() - cpu) / elapsed
    with contextlib.suppress(Exception):
        await pool.close()
    latencies.sort()
    p50 = latencies[len(latencies) // 2] * 1000 if latencies else float("nan")
    return {"roundtrips_per_s": state["count"] / elapsed, "p50_ms": p50, "cpu_pct": cpu_pct}


def _cpu_seconds() -> float:
    t = os.times()
    return t.user + t.system
