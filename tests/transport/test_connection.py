"""``Connection`` driven by hand, over a recording transport: the handshake, SUBACK checks, the
owner's subscription QoS, gathered writes, back-pressure and a clean-session discard.

The pool and bridge tests run the same class against a real Mosquitto; these pin what a broker
does not make easy to provoke (a SUBACK with too few codes, a full send buffer, a TLS alert
before CONNACK) and state the read path's invariant: whatever the broker sends, ``data_received``
handles it or aborts the socket, and never raises.
"""

from __future__ import annotations

import asyncio
import ssl
from collections.abc import Sequence
from typing import Any, Literal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.transport.mqtt.codec import (
    DISCONNECT,
    ConnAck,
    Connect,
    Decoder,
    Packet,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    encode,
    encode_publish,
)
from simulator.transport.mqtt.connection import Connection, ConnectionState
from simulator.transport.mqtt.errors import ProtocolError
from tests.hypothesis_profiles import examples

CONNACK = encode(ConnAck(False, 0))
TOPICS = tuple(f"$aws/things/t/jobs/{i}/update" for i in range(10))  # 2 SUBSCRIBEs (8 + 2)


class Wire:
    """A transport that records what is written (one entry per ``write``)."""

    def __init__(self) -> None:
        self.writes: list[bytes] = []
        self.closing = False
        self.aborted = False
        self.reading = True

    def write(self, data: bytes) -> None:
        assert not self.closing, "write after close"
        self.writes.append(bytes(data))

    def packets(self) -> list[Packet]:
        return Decoder().feed(b"".join(self.writes))

    def is_closing(self) -> bool:
        return self.closing

    def abort(self) -> None:
        self.closing = self.aborted = True

    def close(self) -> None:
        self.closing = True

    def pause_reading(self) -> None:
        self.reading = False

    def resume_reading(self) -> None:
        self.reading = True

    def get_extra_info(self, name: str, default: Any = None) -> Any:
        return default


class Owner:
    """Records the connection's calls; ``abort_on_refusal`` acts as the bridge does."""

    def __init__(
        self,
        topics: Sequence[str] = TOPICS,
        qos: Literal[0, 1] = 1,
        *,
        abort_on_refusal: bool = False,
    ) -> None:
        self.topics = topics
        self.qos: Literal[0, 1] = qos
        self.abort_on_refusal = abort_on_refusal
        self.refused: list[str] = []
        self.events: list[str] = []

    @property
    def max_inflight(self) -> int:
        return 100

    @property
    def subscription_qos(self) -> Literal[0, 1]:
        return self.qos

    def connect_packet(self, conn: Connection, /) -> bytes:
        return encode(Connect(conn.client_id))

    def subscriptions(self, index: int, /) -> Sequence[str]:
        return self.topics

    def opened(self, conn: Connection, /) -> None:
        self.events.append("opened")

    def online(self, conn: Connection, /) -> None:
        self.events.append("online")

    def offline(self, conn: Connection, dropped: bool, /) -> None:
        self.events.append("offline")

    def lost(self, conn: Connection, /) -> None:
        self.events.append("lost")
        conn.state = ConnectionState.BACKOFF

    def subscribe_failed(self, conn: Connection, refused: Sequence[str], /) -> None:
        self.refused.extend(refused)
        if self.abort_on_refusal:
            conn.abort()


def _connect(owner: Owner) -> tuple[Connection, Wire, list[tuple[str, bytes]]]:
    """A connection past CONNACK (SUBSCRIBEs sent, none acknowledged)."""
    inbox: list[tuple[str, bytes]] = []
    conn = Connection(0, "client", owner, lambda _i, topic, payload: inbox.append((topic, payload)))
    wire = Wire()
    conn.connection_made(wire)  # type: ignore[arg-type]
    conn.data_received(CONNACK)
    return conn, wire, inbox


def _state(conn: Connection) -> ConnectionState:
    return conn.state  # read through a call: mypy would keep an earlier assert's narrowing


def _subscribes(wire: Wire) -> list[Subscribe]:
    return [p for p in wire.packets() if isinstance(p, Subscribe)]


def _suback_all(conn: Connection, wire: Wire) -> None:
    for sub in _subscribes(wire):
        conn.data_received(encode(SubAck(sub.packet_id, tuple(q for _, q in sub.filters))))


@pytest.mark.parametrize("qos", [0, 1])
def test_subscribes_in_chunks_of_eight_at_the_owners_qos(qos: Literal[0, 1]) -> None:
    owner = Owner(qos=qos)
    conn, wire, _ = _connect(owner)
    subs = _subscribes(wire)
    assert [len(s.filters) for s in subs] == [8, 2]
    assert [t for s in subs for t, _ in s.filters] == list(TOPICS)
    assert {q for s in subs for _, q in s.filters} == {qos}
    assert _state(conn) is ConnectionState.SUBSCRIBING and conn.unacknowledged == 0
    _suback_all(conn, wire)
    assert _state(conn) is ConnectionState.ONLINE
    assert owner.events == ["opened", "online"]


def test_refused_filters_are_named_and_the_owner_may_abort() -> None:
    owner = Owner(abort_on_refusal=True)
    conn, wire, _ = _connect(owner)
    first, second = _subscribes(wire)
    conn.data_received(encode(SubAck(first.packet_id, (1,) * 8)))
    conn.data_received(encode(SubAck(second.packet_id, (0x80, 1))))
    assert owner.refused == [TOPICS[8]]
    assert wire.aborted and _state(conn) is ConnectionState.SUBSCRIBING  # not online
    assert "online" not in owner.events


def test_a_suback_with_the_wrong_number_of_codes_aborts() -> None:
    conn, wire, _ = _connect(Owner(topics=TOPICS[:3]))
    (sub,) = _subscribes(wire)
    conn.data_received(encode(SubAck(sub.packet_id, (1, 1))))
    assert wire.aborted and _state(conn) is not ConnectionState.ONLINE


def test_a_suback_for_an_unknown_packet_id_aborts() -> None:
    conn, wire, _ = _connect(Owner(topics=TOPICS[:1]))
    (sub,) = _subscribes(wire)
    conn.data_received(encode(SubAck(sub.packet_id % 0xFFFF + 1, (1,))))
    assert wire.aborted


def test_packet_ids_of_pending_subscribes_are_not_reused_by_publishes() -> None:
    conn, wire, _ = _connect(Owner(topics=TOPICS[:1]))
    (sub,) = _subscribes(wire)
    conn.publish("a/b", b"x")  # while subscribing: sent at once
    publishes = [p for p in wire.packets() if isinstance(p, Publish)]
    assert [p.packet_id for p in publishes] != [sub.packet_id]
    assert conn.unacknowledged == 1  # a SUBSCRIBE is not an unacknowledged publish


def test_cork_gathers_publishes_into_one_write_and_a_read_adds_to_it() -> None:
    conn, wire, inbox = _connect(Owner(topics=()))
    assert _state(conn) is ConnectionState.ONLINE
    before = len(wire.writes)
    assert conn.cork() and not conn.cork()  # a second cork joins the first
    conn.publish("a/1", b"1")
    conn.publish("a/2", b"2")
    conn.data_received(encode_publish(b"in", b"request", 1, 7))  # PUBACK joins the cork too
    assert inbox == [("in", b"request")]
    assert len(wire.writes) == before  # nothing written yet
    conn.uncork()
    assert len(wire.writes) == before + 1
    gathered = Decoder().feed(wire.writes[-1])
    assert [type(p).__name__ for p in gathered] == ["Publish", "Publish", "PubAck"]
    conn.uncork()  # nothing left: no empty write
    assert len(wire.writes) == before + 1


def test_close_writes_what_was_gathered_before_disconnect() -> None:
    conn, wire, _ = _connect(Owner(topics=()))
    conn.cork()
    conn.publish("a/1", b"1")
    conn.close()
    assert wire.writes[-2:] == [encode_publish(b"a/1", b"1", 1, 1), DISCONNECT]
    assert wire.closing


def test_a_full_send_buffer_pauses_reading() -> None:
    conn, wire, _ = _connect(Owner(topics=()))
    conn.pause_writing()
    assert not wire.reading
    conn.resume_writing()
    assert wire.reading


def test_discarded_publishes_are_not_resent_after_a_reconnect() -> None:
    owner = Owner(topics=())
    conn, wire, _ = _connect(owner)
    conn.publish("a/1", b"1")
    conn.publish("a/2", b"2")
    conn.data_received(encode(PubAck(1)))
    wire.abort()
    conn.connection_lost(None)
    assert conn.unacknowledged == 1
    assert conn.discard_unacknowledged() == 1 and conn.unacknowledged == 0
    again = Wire()
    conn.connection_made(again)  # type: ignore[arg-type]
    conn.data_received(CONNACK)
    assert not [p for p in again.packets() if isinstance(p, Publish)]
    # ...whereas without the discard the publish goes again, with DUP.
    conn.publish("a/3", b"3")
    again.abort()
    conn.connection_lost(None)
    third = Wire()
    conn.connection_made(third)  # type: ignore[arg-type]
    conn.data_received(CONNACK)
    (resent,) = [p for p in third.packets() if isinstance(p, Publish)]
    assert resent.topic == "a/3" and resent.dup


@pytest.mark.asyncio
async def test_the_sockets_own_error_fails_the_connack_wait() -> None:
    """A TLS alert after the handshake (the broker wants a client certificate) is an SSLError,
    which the bridge reports at once instead of retrying."""
    conn = Connection(0, "client", Owner(), lambda *_: None)
    ready = conn.expect_connack(asyncio.get_running_loop())
    conn.connection_made(Wire())  # type: ignore[arg-type]
    alert = ssl.SSLError(1, "[SSL: TLSV13_ALERT_CERTIFICATE_REQUIRED] alert")
    conn.connection_lost(alert)
    with pytest.raises(ssl.SSLError):
        await ready
    conn = Connection(0, "client", Owner(), lambda *_: None)
    ready = conn.expect_connack(asyncio.get_running_loop())
    conn.connection_made(Wire())  # type: ignore[arg-type]
    conn.connection_lost(None)
    with pytest.raises(ConnectionResetError):
        await ready


@settings(max_examples=examples(300), deadline=None)
@given(
    codes=st.lists(st.sampled_from([0, 1, 2, 0x80]), min_size=1, max_size=12),
    shift=st.integers(0, 2),
)
def test_any_suback_goes_online_names_refusals_or_aborts(codes: list[int], shift: int) -> None:
    owner = Owner(topics=TOPICS[:5])
    conn, wire, _ = _connect(owner)
    (sub,) = _subscribes(wire)
    conn.data_received(encode(SubAck(sub.packet_id + shift, tuple(codes))))
    if shift or len(codes) != 5:  # unknown id or a code per filter missing: a protocol error
        assert wire.aborted and _state(conn) is ConnectionState.SUBSCRIBING and not owner.refused
    else:
        assert not wire.aborted and _state(conn) is ConnectionState.ONLINE
        assert owner.refused == [t for t, c in zip(TOPICS[:5], codes, strict=True) if c & 0x80]


# What a broker sends a client (some of it out of place), and bytes that are not MQTT at all.
from_broker = st.one_of(
    st.binary(max_size=40),
    st.builds(
        lambda pid, qos: encode_publish(b"t", b"p", qos, pid if qos else 0),
        st.integers(1, 0xFFFF),
        st.sampled_from([0, 1]),
    ),
    st.builds(lambda pid: encode(PubAck(pid)), st.integers(1, 0xFFFF)),
    st.builds(
        lambda pid, codes: encode(SubAck(pid, codes)),
        st.integers(1, 3),
        st.tuples(st.sampled_from([0, 1, 0x80])),
    ),
    st.sampled_from([CONNACK, b"\xd0\x00", b"\xc0\x00", b"\xe0\x00"]),
)


@settings(max_examples=examples(300), deadline=None)
@given(chunks=st.lists(from_broker, max_size=6), online=st.booleans())
def test_whatever_the_broker_sends_is_handled_or_aborts_never_raises(
    chunks: list[bytes], online: bool
) -> None:
    conn, wire, _ = _connect(Owner(topics=TOPICS[:1]))
    if online:
        _suback_all(conn, wire)
    for chunk in chunks:
        conn.data_received(chunk)  # the invariant: no exception escapes
    if not wire.aborted:  # everything parsed: each was a packet the client accepts
        try:
            Decoder().feed(b"".join(chunks))
        except ProtocolError:
            pytest.fail("malformed bytes were accepted")
