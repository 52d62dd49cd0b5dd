"""The MQTT 3.1.1 client connection: a slotted ``asyncio.Protocol`` that outlives its sockets.

The one client protocol implementation of the project: every simulated device (through the
:class:`~simulator.transport.mqtt.pool.ConnectionPool`) and each of the emulator's bridge
connections (:class:`~simulator.transport.broker.client.BrokerClient`) is a
:class:`Connection`. The same object is handed to every (re)connection of its client, so the
session state it keeps (unacknowledged QoS 1 publishes, the packet-id counter) survives a
dropped socket. It owns no task and no timer: its :class:`Owner` dials it
(:meth:`Connection.dial`), calls :meth:`Connection.keepalive_tick` every ``keepalive / 2``
seconds, and schedules its reconnects.

Life of a connection (``state``)::

    IDLE ──dial──> CONNECTING ──CONNACK 0──> SUBSCRIBING ──last SUBACK──> ONLINE
                       │           └─(session resumed or nothing to subscribe)──┘
                       └─refused/lost/timeout─> BACKOFF ──retry due──> CONNECTING
    any ──pool.close()──> CLOSED

On CONNACK the connection subscribes (unless the broker resumed the session: CONNACK
session-present), then re-sends every unacknowledged QoS 1 publish with DUP set (unless the
owner called :meth:`Connection.discard_unacknowledged`), then sends the publishes queued while
offline. Replies written while handling received bytes (PUBACKs, and whatever the
``on_message`` callback publishes) are gathered and written once per read; an owner can gather
a burst of its own the same way (:meth:`Connection.cork`). While the socket's send buffer is
full, reading pauses, so a slow broker cannot make the client queue replies without bound.
"""

from __future__ import annotations

import asyncio
import enum
import ssl
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
from simulator.transport.mqtt.net import client_socket

__all__ = ["Connection", "ConnectionState", "MessageCallback", "Owner"]

#: AWS IoT Core accepts at most 8 topic filters per SUBSCRIBE.
FILTERS_PER_SUBSCRIBE = 8


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
    """What a connection needs from whoever drives it (the pool, or the bridge's client).

    ``lost`` runs for every socket that closes, whatever the reason; the owner then sets
    ``state`` (BACKOFF or CLOSED) and decides when to dial again. ``subscribe_failed`` may
    abort the connection; it then does not go online.
    """

    @property
    def max_inflight(self) -> int: ...  # unacknowledged QoS 1 publishes; more wait queued

    @property
    def subscription_qos(self) -> Literal[0, 1]: ...

    def connect_packet(self, conn: Connection, /) -> bytes: ...

    def subscriptions(self, index: int, /) -> Sequence[str]: ...

    def opened(self, conn: Connection, /) -> None: ...

    def online(self, conn: Connection, /) -> None: ...

    def offline(self, conn: Connection, dropped: bool, /) -> None: ...

    def lost(self, conn: Connection, /) -> None: ...

    def subscribe_failed(self, conn: Connection, refused: Sequence[str], /) -> None: ...


_S = ConnectionState


class Connection(asyncio.Protocol):
    """The MQTT session of one client (a device: client id = thing name)."""

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
        "_subscribing",
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
        self._inflight: dict[int, bytes] = {}  # packet id -> QoS 1 PUBLISH bytes
        self._backlog: deque[tuple[bytes, bytes]] | None = None  # (topic, payload), QoS 1
        self._next_id = 1
        # packet id -> topic filters of each SUBSCRIBE awaiting its SUBACK (None: none)
        self._subscribing: dict[int, tuple[str, ...]] | None = None
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
        return len(self._inflight) + (len(self._backlog) if self._backlog else 0)

    def publish(
        self, topic: str, payload: bytes, qos: Literal[0, 1] = 1, *, queue: bool = True
    ) -> bool:
        """Send a message, or queue it (QoS 1) until the connection is up and the broker has
        acknowledged enough of those in flight (the owner's ``max_inflight``).

        Returns False when the message was dropped: QoS 0 while not connected, any QoS after
        :meth:`close`, or, with ``queue=False``, whatever would have waited in the queue.
        """
        state = self.state
        if state is not _S.ONLINE and state is not _S.SUBSCRIBING:
            if qos == 0 or not queue or state is _S.CLOSED:
                return False
            self._queue(topic.encode(), payload)
            return True
        if qos == 0:
            self._write(encode_publish(topic.encode(), payload))
            return True
        if self._backlog or len(self._inflight) >= self._owner.max_inflight:
            if not queue:
                return False
            self._queue(topic.encode(), payload)  # keep the order of queued messages
            return True
        self._send_qos1(topic.encode(), payload)
        return True

    def discard_unacknowledged(self) -> int:
        """Forget the QoS 1 publishes not acknowledged yet, and those queued; return how many.

        For an owner whose sessions are clean and who would rather lose them than deliver
        them late after a reconnect (the bridge: a reply to a request from before a broker
        restart). Without it they are re-sent, with DUP, on the next CONNACK.
        """
        count = self.unacknowledged
        self._inflight = {}
        self._backlog = None
        return count

    def cork(self) -> bool:
        """Gather what is written from now on until :meth:`uncork` writes it at once.

        Returns False if writes were being gathered already (by a read in progress, or an
        earlier call), in which case whoever started gathering writes them.
        """
        if self._cork is not None:
            return False
        self._cork = []
        return True

    def uncork(self) -> None:
        """Write what was gathered since :meth:`cork`, in one piece."""
        cork, self._cork = self._cork, None
        transport = self._transport
        if cork and transport is not None and not transport.is_closing():
            transport.write(b"".join(cork) if len(cork) > 1 else cork[0])
            self._wrote = True

    def close(self) -> None:
        """Stop for good: DISCONNECT (so the broker discards no will and logs no error)."""
        was_online = self.state is _S.ONLINE
        self.state = ConnectionState.CLOSED
        if was_online:
            self._owner.offline(self, False)
        self.uncork()  # what was published before close() goes before the DISCONNECT
        transport = self._transport
        if transport is not None and not transport.is_closing():
            transport.write(DISCONNECT)
            transport.close()

    async def dial(
        self,
        family: int,
        address: tuple[str, int],
        *,
        source: str | None = None,
        context: ssl.SSLContext | None = None,
        server_hostname: str | None = None,
    ) -> None:
        """Open a socket to ``address`` (TCP, then TLS with ``context``), send CONNECT, wait
        for CONNACK. The caller bounds it in time and, on failure, calls :meth:`abort`.

        Raises:
            OSError: the socket could not connect (``ssl.SSLError`` for TLS).
            ConnectionRefused: CONNACK with a non-zero return code.
            ProtocolError: the broker answered with something else than a CONNACK.
            ConnectionResetError: the broker closed the socket before CONNACK.
        """
        loop = asyncio.get_running_loop()
        sock = client_socket(family, source)
        try:
            await loop.sock_connect(sock, address)
            ready = self.expect_connack(loop)
            await loop.create_connection(
                lambda: self,
                sock=sock,
                ssl=context,
                server_hostname=server_hostname if context else None,
            )
        except BaseException:
            sock.close()  # not owned by a transport yet (or closed with it already)
            raise
        await ready

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
        self._subscribing = None  # SUBSCRIBEs are recomputed on the next CONNACK
        self._cork = None  # gathered publishes stay in _inflight: re-sent or discarded
        ready, self._ready = self._ready, None
        if ready is not None and not ready.done():
            # The socket's own error says more (a TLS alert: the broker wants a certificate).
            lost = exc if isinstance(exc, OSError) else None
            ready.set_exception(lost or ConnectionResetError("connection lost before CONNACK"))
        if self.state is _S.ONLINE:
            self._owner.offline(self, True)
        self._owner.lost(self)

    def pause_writing(self) -> None:
        # The send buffer is full: stop reading, which is what makes replies to write.
        if self._transport is not None:
            self._transport.pause_reading()

    def resume_writing(self) -> None:
        if self._transport is not None:
            self._transport.resume_reading()

    def data_received(self, data: bytes) -> None:
        self._quiet = 0
        try:
            packets = self._decoder.feed(data)
        except ProtocolError as exc:
            self._fail(exc)
            return
        if not packets:
            return
        outer = self._cork  # the owner is gathering a burst already: add to it
        cork: list[bytes] = [] if outer is None else outer
        self._cork = cork
        deliver, index = self._deliver, self.index
        try:
            for packet in packets:
                if type(packet) is Publish:
                    if self.state is _S.CONNECTING:
                        raise ProtocolError("PUBLISH before CONNACK")
                    if packet.qos:
                        cork.append(encode_puback(packet.packet_id))
                    deliver(index, packet.topic, packet.payload)
                elif type(packet) is PubAck:
                    # _acknowledged, inlined: one per QoS 1 publish, the other hot path
                    if self._inflight.pop(packet.packet_id, None) is not None and self._backlog:
                        self._drain_backlog()
                    # else: a duplicate PUBACK for a publish re-sent after a reconnect
                else:
                    self._control(packet)
        except ProtocolError as exc:
            self._fail(exc)
        finally:
            if outer is None:
                self.uncork()

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
        inflight, subscribing = self._inflight, self._subscribing
        packet_id = self._next_id
        while packet_id in inflight or (subscribing is not None and packet_id in subscribing):
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
        self._wrote = True  # _write, inlined: this is the hot path
        cork = self._cork
        if cork is not None:
            cork.append(packet)
        elif self._transport is not None:
            self._transport.write(packet)

    def _drain_backlog(self) -> None:
        backlog = self._backlog
        limit = self._owner.max_inflight
        while backlog and len(self._inflight) < limit:
            self._send_qos1(*backlog.popleft())
        if not backlog:
            self._backlog = None

    def _control(self, packet: object) -> None:
        if type(packet) is ConnAck and self.state is _S.CONNECTING:
            self._connack(packet.session_present, packet.return_code)
        elif type(packet) is SubAck and self.state is not _S.CONNECTING:
            self._suback(packet)
        elif type(packet) is not PingResp:
            raise ProtocolError(f"unexpected {type(packet).__name__} in state {self.state.value}")

    def _suback(self, packet: SubAck) -> None:
        subscribing = self._subscribing
        topics = None if subscribing is None else subscribing.pop(packet.packet_id, None)
        if topics is None:
            raise ProtocolError(f"SUBACK for unknown packet id {packet.packet_id}")
        codes = packet.return_codes
        if len(codes) != len(topics):
            raise ProtocolError(f"SUBACK with {len(codes)} return codes for {len(topics)} filters")
        refused = [topic for topic, code in zip(topics, codes, strict=True) if code & 0x80]
        if refused:
            self._owner.subscribe_failed(self, refused)
        if subscribing:
            return
        self._subscribing = None
        transport = self._transport
        if self.state is _S.SUBSCRIBING and transport is not None and not transport.is_closing():
            self._go_online()

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
        topics = () if session_present else tuple(self._owner.subscriptions(self.index))
        self.state = ConnectionState.SUBSCRIBING
        qos = self._owner.subscription_qos
        for start in range(0, len(topics), FILTERS_PER_SUBSCRIBE):
            chunk = topics[start : start + FILTERS_PER_SUBSCRIBE]
            packet_id = self._take_id()
            if self._subscribing is None:
                self._subscribing = {}
            self._subscribing[packet_id] = chunk
            self._write(encode(Subscribe(packet_id, tuple((t, qos) for t in chunk))))
        for _, packet in unacked:  # re-send with DUP (bit 3 of the first byte)
            self._write(bytes((packet[0] | 0x08,)) + packet[1:])
        self._drain_backlog()
        if self._subscribing is None:
            self._go_online()

    def _go_online(self) -> None:
        self.state = ConnectionState.ONLINE
        self._owner.online(self)
