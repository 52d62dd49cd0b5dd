"""One MQTT 3.1.1 connection of the bridge to the broker, as an ``asyncio.Protocol``.

Built on the sans-IO codec of :mod:`simulator.transport.mqtt.codec`: bytes in, packets out. A
session lives for one TCP (or TLS) connection: CONNECT, SUBSCRIBE to its share of the request
filters, then PUBLISH in (requests) and PUBLISH out (replies and broadcasts) until the socket
closes; :class:`~simulator.transport.broker.bridge.Bridge` then opens a fresh session.

Outgoing packets are batched: everything queued while one ``data_received`` call runs (the
PUBACKs of a burst of requests and all their replies) leaves in one ``write`` on the next loop
turn, which is where most of the bridge's throughput comes from. When the socket's send buffer
fills (a slow broker), reading from the broker pauses until it drains, so the emulator never
queues more replies than the kernel holds.
"""

from __future__ import annotations

import asyncio
import logging
import socket
import time
from collections.abc import Callable
from typing import Final, cast

from simulator.transport.mqtt.codec import (
    DISCONNECT,
    PINGREQ,
    ConnAck,
    Connect,
    Decoder,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    encode,
    encode_puback,
    encode_publish,
)
from simulator.transport.mqtt.errors import ConnectionRefused, MqttError, ProtocolError

__all__ = ["Session", "SubscriptionRefused"]

_log = logging.getLogger("simulator.transport.broker")
_SUBSCRIBE_ID: Final = 1
_MAX_PACKET_ID: Final = 0xFFFF


class SubscriptionRefused(MqttError):
    """The broker answered SUBACK with failure (0x80) for a request filter: an ACL refusal."""


class Session(asyncio.Protocol):
    """One connection: connects, subscribes, hands requests to ``on_request``, publishes.

    ``ready`` resolves once CONNACK and SUBACK came back clean (or fails with
    :class:`ConnectionRefused` / :class:`SubscriptionRefused`); ``closed`` resolves when the
    connection is gone, whatever the reason.
    """

    def __init__(
        self,
        connect: Connect,
        filters: tuple[str, ...],
        *,
        request_qos: int,
        on_request: Callable[[Session, Publish], None],
    ) -> None:
        loop = asyncio.get_running_loop()
        self._loop = loop
        self._connect = connect
        self._filters = filters
        self._request_qos = request_qos
        self._on_request = on_request
        self._decoder = Decoder()
        self._transport: asyncio.Transport | None = None
        self._out: list[bytes] = []
        self._flush_handle: asyncio.Handle | None = None
        self._inflight: set[int] = set()
        self._next_id = 0
        self._last_in = time.monotonic()
        self._ping: asyncio.TimerHandle | None = None
        self.ready: asyncio.Future[None] = loop.create_future()
        self.closed: asyncio.Future[None] = loop.create_future()
        self.dropped = 0

    # -- asyncio.Protocol ------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports implement asyncio.Transport without subclassing it.
        self._transport = transport = cast(asyncio.Transport, transport)
        sock = transport.get_extra_info("socket")
        if sock is not None and sock.family in (socket.AF_INET, socket.AF_INET6):
            # A reply must not wait for Nagle's algorithm (~40 ms per round trip measured).
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        transport.write(encode(self._connect))
        if self._connect.keepalive:
            self._ping = self._loop.call_later(self._connect.keepalive / 2, self._keepalive)

    def data_received(self, data: bytes) -> None:
        self._last_in = time.monotonic()
        try:
            packets = self._decoder.feed(data)
        except ProtocolError as exc:
            _log.warning("mqtt: broker sent malformed data (%s); reconnecting", exc)
            self.abort()
            return
        for packet in packets:
            if isinstance(packet, Publish):
                if packet.qos:
                    self._queue(encode_puback(packet.packet_id))
                self._on_request(self, packet)
            elif isinstance(packet, PubAck):
                self._inflight.discard(packet.packet_id)
            elif isinstance(packet, ConnAck):
                self._connack(packet)
            elif isinstance(packet, SubAck):
                self._suback(packet)
            # PINGRESP only refreshes _last_in; anything else a broker never sends a client.

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._ping is not None:
            self._ping.cancel()
        if self._flush_handle is not None:
            self._flush_handle.cancel()
        self._out.clear()
        if not self.ready.done():
            self.ready.set_exception(exc or ConnectionResetError("connection closed by broker"))
            self.ready.exception()  # retrieved here: the supervisor may be waiting elsewhere
        if not self.closed.done():
            self.closed.set_result(None)

    def pause_writing(self) -> None:
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    # -- handshake -------------------------------------------------------------------------

    def _connack(self, packet: ConnAck) -> None:
        if packet.return_code:
            if not self.ready.done():
                self.ready.set_exception(ConnectionRefused(packet.return_code))
            self.abort()
            return
        filters = tuple((topic, self._request_qos) for topic in self._filters)
        self._queue(encode(Subscribe(_SUBSCRIBE_ID, filters)))

    def _suback(self, packet: SubAck) -> None:
        refused = [
            topic
            for topic, code in zip(self._filters, packet.return_codes, strict=False)
            if code >= 0x80
        ]
        if refused or len(packet.return_codes) != len(self._filters):
            if not self.ready.done():
                self.ready.set_exception(
                    SubscriptionRefused(f"broker refused the subscription to {', '.join(refused)}")
                )
            self.abort()
        elif not self.ready.done():
            self.ready.set_result(None)

    # -- sending ---------------------------------------------------------------------------

    @property
    def is_open(self) -> bool:
        return self._transport is not None and self.ready.done() and not self.ready.exception()

    def publish(self, topic: str, payload: bytes) -> None:
        """Queue a QoS 1 PUBLISH (dropped, and counted, when the connection is gone)."""
        if self._transport is None:
            self.dropped += 1
            return
        packet_id = self._packet_id()
        if packet_id == 0:  # 65,535 unacknowledged: the broker is not acknowledging at all
            self.dropped += 1
            return
        self._inflight.add(packet_id)
        self._queue(encode_publish(topic.encode(), payload, 1, packet_id))

    def _packet_id(self) -> int:
        inflight = self._inflight
        if len(inflight) >= _MAX_PACKET_ID:
            return 0
        packet_id = self._next_id
        while True:
            packet_id = packet_id + 1 if packet_id < _MAX_PACKET_ID else 1
            if packet_id not in inflight:
                self._next_id = packet_id
                return packet_id

    def _queue(self, data: bytes) -> None:
        self._out.append(data)
        if self._flush_handle is None:
            self._flush_handle = self._loop.call_soon(self._flush)

    def _flush(self) -> None:
        self._flush_handle = None
        out, self._out = self._out, []
        if self._transport is not None and out:
            self._transport.write(b"".join(out))

    def _keepalive(self) -> None:
        keepalive = self._connect.keepalive
        if self._transport is None:
            return
        if time.monotonic() - self._last_in > keepalive * 1.5:
            _log.warning("mqtt: no answer from the broker for %.0f s; reconnecting", keepalive)
            self.abort()
            return
        self._queue(PINGREQ)
        self._ping = self._loop.call_later(keepalive / 2, self._keepalive)

    # -- closing ---------------------------------------------------------------------------

    def abort(self) -> None:
        if self._transport is not None:
            self._transport.abort()

    def disconnect(self) -> None:
        """Send DISCONNECT after whatever is queued, then close."""
        if self._transport is None:
            return
        self._flush()
        self._transport.write(DISCONNECT)
        self._transport.close()
