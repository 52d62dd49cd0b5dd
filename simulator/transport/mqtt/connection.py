"""One device's MQTT connection: a slotted ``asyncio.Protocol`` that outlives its sockets.

The same object is handed to every (re)connection of its device, so the session state it keeps
(unacknowledged QoS 1 publishes, the packet-id counter) survives a dropped socket. It owns no
task and no timer: the :class:`~simulator.transport.mqtt.pool.ConnectionPool` dials it, calls
:meth:`Connection.keepalive_tick` from one shared sweep, and schedules its reconnects.

Life of a connection (``state``)::

    IDLE ──dial──> CONNECTING ──CONNACK 0──> SUBSCRIBING ──last SUBACK──> ONLINE
                       │           └─(session resumed or nothing to subscribe)──┘
                       └─refused/lost/timeout─> BACKOFF ──retry due──> CONNECTING
    any ──pool.close()──> CLOSED

On CONNACK the connection subscribes (unless the broker resumed the session: CONNACK
session-present), then re-sends every unacknowledged QoS 1 publish with DUP set, then sends the
publishes queued while offline. Replies written while handling received bytes (PUBACKs, and
whatever the ``on_message`` callback publishes) are gathered and written once per read.
"""

from __future__ import annotations

import asyncio
import enum
from collections import deque
from collections.abc import Sequence
from typing import Literal, Protocol, cast

from simulator.transport.mqtt.codec import (
    DISCONNECT,
    PINGREQ,
    ConnAck,
    Decoder,
    PingResp,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    encode,
    encode_puback,
    encode_publish,
)
from simulator.transport.mqtt.errors import ConnectionRefused, ProtocolError

__all__ = ["Connection", "ConnectionState", "MessageCallback"]

#: AWS IoT Core accepts at most 8 topic filters per SUBSCRIBE.
FILTERS_PER_SUBSCRIBE = 8
_SUBSCRIBE_FIRST_BYTE = 0x82


class ConnectionState(enum.Enum):
    IDLE = "idle"  # created, waiting for its first dial
    CONNECTING = "connecting"  # TCP/TLS handshake done or under way, CONNACK awaited
    SUBSCRIBING = "subscribing"  # CONNACK accepted, SUBACK awaited
    ONLINE = "online"
    BACKOFF = "backoff"  # lost or refused; a reconnect is scheduled
    CLOSED = "closed"  # stopped for good by the pool


class MessageCallback(Protocol):
    def __call__(self, client_index: int, topic: str, payload: bytes, /) -> None: ...


class Owner(Protocol):
    """What a connection needs from its pool."""

    max_inflight: int

    def connect_packet(self, conn: Connection, /) -> bytes: ...

    def subscriptions(self, index: int, /) -> Sequence[str]: ...

    def opened(self, conn: Connection, /) -> None: ...

    def online(self, conn: Connection, /) -> None: ...

    def offline(self, conn: Connection, dropped: bool, /) -> None: ...

    def lost(self, conn: Connection, /) -> None: ...

    def subscribe_failed(self, conn: Connection, filters: int, /) -> None: ...


_S = ConnectionState


class Connection(asyncio.Protocol):
    """The MQTT session of one device (client id = thing name)."""

    __slots__ = (
        "_backlog",
        "_cork",
        "_decoder",
        "_deliver",
        "_inflight",
        "_next_id",
        "_owner",
        "_quiet",
        "_ready",
        "_subacks",
        "_transport",
        "_wrote",
        "attempts",
        "client_id",
        "connects",
        "index",
        "session_present",
        "state",
    )

    def __init__(self, index: int, client_id: str, owner: Owner, deliver: MessageCallback) -> None:
        self.index = index
        self.client_id = client_id
        self.state = ConnectionState.IDLE
        self.session_present = False
        self.attempts = 0  # consecutive failed attempts (drives the backoff)
        self.connects = 0  # accepted CONNACKs so far
        self._owner = owner
        self._deliver = deliver
        self._transport: asyncio.Transport | None = None
        self._decoder = Decoder()
        self._inflight: dict[int, bytes] = {}  # packet id -> PUBLISH (or SUBSCRIBE) bytes
        self._backlog: deque[tuple[bytes, bytes]] | None = None  # (topic, payload), QoS 1
        self._next_id = 1
        self._subacks = 0
        self._cork: list[bytes] | None = None
        self._wrote = False
        self._quiet = 0
        self._ready: asyncio.Future[None] | None = None

    # -- what the device (through the pool) calls ----------------------------------------

    @property
    def connected(self) -> bool:
        return self.state is _S.ONLINE or self.state is _S.SUBSCRIBING

    @property
    def sockname(self) -> tuple[str, int] | None:
        """Local (address, port) of the current socket, None while there is none."""
        if self._transport is None:
            return None
        address = self._transport.get_extra_info("sockname")
        return (str(address[0]), int(address[1])) if address else None

    @property
    def unacknowledged(self) -> int:
        """QoS 1 publishes sent or queued and not yet acknowledged by the broker."""
        return len(self._inflight) - self._subacks + (len(self._backlog) if self._backlog else 0)

    def publish(self, topic: str, payload: bytes, qos: Literal[0, 1] = 1) -> bool:
        """Send a message, or queue it (QoS 1) until the connection is up.

        Returns False when the message was dropped: QoS 0 while not connected, or any QoS
        after :meth:`close`.
        """
        if not self.connected:
            if qos == 0 or self.state is _S.CLOSED:
                return False
            self._queue(topic.encode(), payload)
            return True
        if qos == 0:
            self._write(encode_publish(topic.encode(), payload))
            return True
        if self._backlog or len(self._inflight) - self._subacks >= self._owner.max_inflight:
            self._queue(topic.encode(), payload)  # keep the order of queued messages
            return True
        self._send_qos1(topic.encode(), payload)
        return True

    def close(self) -> None:
        """Stop for good: DISCONNECT (so the broker discards no will and logs no error)."""
        was_online = self.state is _S.ONLINE
        self.state = ConnectionState.CLOSED
        if was_online:
            self._owner.offline(self, False)
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(DISCONNECT)
            transport.close()

    def abort(self) -> bool:
        """Drop the socket without DISCONNECT (as a network failure would); it reconnects.

        Returns False if there was no socket to drop.
        """
        if self._transport is None:
            return False
        self._transport.abort()
        return True

    def expect_connack(self, loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
        """A future that the next CONNACK resolves (or a refusal or lost socket fails)."""
        self._ready = loop.create_future()
        return self._ready

    def keepalive_tick(self) -> bool:
        """One pass of the pool's keepalive sweep, which runs every ``keepalive / 2`` seconds.

        Sends PINGREQ if nothing was written since the previous pass (so the broker hears from
        us at least every ``keepalive`` seconds, well inside its 1.5x grace) or if nothing was
        heard; aborts the socket when three passes went by without a byte from the broker,
        the last of them after a ping. Returns True if it sent a PINGREQ.
        """
        transport = self._transport
        if transport is None or not self.connected:
            return False
        quiet = self._quiet
        if quiet >= 3:
            transport.abort()
            return False
        self._quiet = quiet + 1
        ping = bool(quiet) or not self._wrote
        if ping:
            transport.write(PINGREQ)
        self._wrote = False
        return ping

    # -- asyncio.Protocol ---------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, only alike
        self._transport = transport = cast(asyncio.Transport, transport)
        self._decoder = Decoder()
        self._quiet = 0
        self.state = ConnectionState.CONNECTING
        self._owner.opened(self)
        transport.write(self._owner.connect_packet(self))
        self._wrote = True

    def connection_lost(self, exc: Exception | None) -> None:
        self._transport = None
        if self._subacks:  # SUBSCRIBEs are recomputed on the next CONNACK
            self._inflight = {
                k: v for k, v in self._inflight.items() if v[0] != _SUBSCRIBE_FIRST_BYTE
            }
            self._subacks = 0
        ready, self._ready = self._ready, None
        if ready is not None and not ready.done():
            ready.set_exception(ConnectionResetError("connection lost before CONNACK"))
        if self.state is _S.ONLINE:
            self._owner.offline(self, True)
        self._owner.lost(self)

    def data_received(self, data: bytes) -> None:
        self._quiet = 0
        try:
            packets = self._decoder.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if not packets:
            return
        cork: list[bytes] = []
        self._cork = cork
        try:
            for packet in packets:
                if type(packet) is Publish:
                    if self.state is _S.CONNECTING:
                        raise ProtocolError("PUBLISH before CONNACK")
                    if packet.qos:
                        cork.append(encode_puback(packet.packet_id))
                    self._deliver(self.index, packet.topic, packet.payload)
                elif type(packet) is PubAck:
                    self._acknowledged(packet.packet_id)
                else:
                    self._control(packet)
        except ProtocolError as exc:
            self._fail(exc)
        finally:
            self._cork = None
            transport = self._transport
            if cork and transport is not None and not transport.is_closing():
                transport.write(b"".join(cork) if len(cork) > 1 else cork[0])
                self._wrote = True

    # -- internals ------------------------------------------------------------------------------

    def _fail(self, exc: Exception) -> None:
        ready = self._ready
        if ready is not None and not ready.done():
            ready.set_exception(exc)
        if self._transport is not None:
            self._transport.abort()

    def _write(self, data: bytes) -> None:
        self._wrote = True
        if self._cork is not None:
            self._cork.append(data)
        elif self._transport is not None:
            self._transport.write(data)

    def _take_id(self) -> int:
        inflight = self._inflight
        packet_id = self._next_id
        while packet_id in inflight:
            packet_id = packet_id % 0xFFFF + 1
        self._next_id = packet_id % 0xFFFF + 1
        return packet_id

    def _queue(self, topic: bytes, payload: bytes) -> None:
        if self._backlog is None:
            self._backlog = deque()
        self._backlog.append((topic, payload))

    def _send_qos1(self, topic: bytes, payload: bytes) -> None:
        packet_id = self._take_id()
        packet = encode_publish(topic, payload, 1, packet_id)
        self._inflight[packet_id] = packet
        self._write(packet)

    def _drain_backlog(self) -> None:
        backlog = self._backlog
        limit = self._owner.max_inflight
        while backlog and len(self._inflight) - self._subacks < limit:
            self._send_qos1(*backlog.popleft())
        if not backlog:
            self._backlog = None

    def _acknowledged(self, packet_id: int) -> None:
        packet = self._inflight.get(packet_id)
        if packet is not None and packet[0] & 0xF0 == 0x30:
            del self._inflight[packet_id]
            if self._backlog:
                self._drain_backlog()
        # else: a duplicate PUBACK for a publish re-sent after a reconnect; nothing to do

    def _control(self, packet: object) -> None:
        if type(packet) is ConnAck and self.state is _S.CONNECTING:
            self._connack(packet.session_present, packet.return_code)
        elif type(packet) is SubAck and self.state is not _S.CONNECTING:
            sent = self._inflight.get(packet.packet_id)
            if sent is None or sent[0] != _SUBSCRIBE_FIRST_BYTE:
                raise ProtocolError(f"SUBACK for unknown packet id {packet.packet_id}")
            del self._inflight[packet.packet_id]
            self._subacks -= 1
            failed = sum(1 for code in packet.return_codes if code & 0x80)
            if failed:
                self._owner.subscribe_failed(self, failed)
            if not self._subacks and self.state is _S.SUBSCRIBING:
                self._go_online()
        elif type(packet) is not PingResp:
            raise ProtocolError(f"unexpected {type(packet).__name__} in state {self.state.value}")

    def _connack(self, session_present: bool, return_code: int) -> None:
        ready, self._ready = self._ready, None
        if return_code:
            refused = ConnectionRefused(return_code)
            if ready is not None and not ready.done():
                ready.set_exception(refused)
            if self._transport is not None:
                self._transport.close()
            return
        self.session_present = session_present
        self.attempts = 0
        self.connects += 1
        if ready is not None and not ready.done():
            ready.set_result(None)
        unacked = list(self._inflight.items())
        topics = () if session_present else self._owner.subscriptions(self.index)
        self.state = ConnectionState.SUBSCRIBING
        for start in range(0, len(topics), FILTERS_PER_SUBSCRIBE):
            chunk = topics[start : start + FILTERS_PER_SUBSCRIBE]
            packet_id = self._take_id()
            packet = encode(Subscribe(packet_id, tuple((t, 1) for t in chunk)))
            self._inflight[packet_id] = packet
            self._subacks += 1
            self._write(packet)
        for _, packet in unacked:  # re-send with DUP (bit 3 of the first byte)
            self._write(bytes((packet[0] | 0x08,)) + packet[1:])
        self._drain_backlog()
        if not self._subacks:
            self._go_online()

    def _go_online(self) -> None:
        self.state = ConnectionState.ONLINE
        self._owner.online(self)
