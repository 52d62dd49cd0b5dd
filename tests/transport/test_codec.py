"""The sans-IO MQTT 3.1.1 codec: round trips, incremental decoding, and "parse or raise"."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.transport.mqtt.codec import (
    DISCONNECT,
    PINGREQ,
    ConnAck,
    Connect,
    Decoder,
    Disconnect,
    Packet,
    PingReq,
    PingResp,
    PubAck,
    Publish,
    SubAck,
    Subscribe,
    encode,
    encode_puback,
    encode_publish,
)
from simulator.transport.mqtt.errors import ProtocolError
from tests.hypothesis_profiles import examples

# MQTT strings: well-formed UTF-8 without U+0000 (surrogates cannot be encoded at all).
text = st.text(st.characters(exclude_categories=["Cs"], exclude_characters="\x00"), max_size=40)
topic_name = text.filter(lambda t: t and "+" not in t and "#" not in t)
packet_id = st.integers(1, 0xFFFF)

publishes = st.one_of(
    st.builds(
        Publish,
        topic_name,
        st.binary(max_size=300),
        st.just(0),
        st.just(0),
        st.just(False),
        st.booleans(),
    ),
    st.builds(
        Publish,
        topic_name,
        st.binary(max_size=300),
        st.just(1),
        packet_id,
        st.booleans(),
        st.booleans(),
    ),
)
connects = st.builds(
    lambda cid, ka, clean, user, pw: Connect(
        cid, ka, clean, user, pw if user is not None else None
    ),
    text,
    st.integers(0, 0xFFFF),
    st.booleans(),
    st.none() | text,
    st.none() | st.binary(max_size=30),
)
packets: st.SearchStrategy[Packet] = st.one_of(
    publishes,
    connects,
    st.builds(ConnAck, st.just(False), st.integers(0, 5)),
    st.builds(ConnAck, st.just(True), st.just(0)),
    st.builds(PubAck, packet_id),
    st.builds(
        Subscribe,
        packet_id,
        st.lists(st.tuples(text.filter(bool), st.integers(0, 2)), min_size=1, max_size=5).map(
            tuple
        ),
    ),
    st.builds(
        SubAck,
        packet_id,
        st.lists(st.sampled_from([0, 1, 2, 0x80]), min_size=1, max_size=5).map(tuple),
    ),
    st.just(PingReq()),
    st.just(PingResp()),
    st.just(Disconnect()),
)


@given(st.lists(packets, min_size=1, max_size=6), st.data())
@settings(max_examples=examples(300))
def test_round_trip_in_arbitrary_chunks(sent: list[Packet], data: st.DataObject) -> None:
    wire = b"".join(encode(p) for p in sent)
    cuts = sorted(data.draw(st.lists(st.integers(0, len(wire)), max_size=8)))
    decoder = Decoder()
    received: list[Packet] = []
    for start, end in zip([0, *cuts], [*cuts, len(wire)], strict=True):
        received += decoder.feed(wire[start:end])
    assert received == sent
    assert decoder.buffered == 0


@given(publishes)
def test_fast_publish_encoder_matches_the_general_one(packet: Publish) -> None:
    if packet.retain:
        return  # the device never publishes retained messages; encode_publish has no flag
    fast = encode_publish(
        packet.topic.encode(), packet.payload, packet.qos, packet.packet_id, dup=packet.dup
    )
    assert fast == encode(packet)


def test_known_encodings() -> None:
    assert encode(PingReq()) == PINGREQ == b"\xc0\x00"
    assert encode(Disconnect()) == DISCONNECT == b"\xe0\x00"
    assert encode(PubAck(0x1234)) == encode_puback(0x1234) == b"\x40\x02\x12\x34"
    assert encode(Connect("dev", 60)) == b"\x10\x0f\x00\x04MQTT\x04\x02\x00\x3c\x00\x03dev"
    assert encode(Publish("a/b", b"hi", 1, 10)) == b"\x32\x09\x00\x03a/b\x00\x0ahi"
    big = encode(Publish("t", b"x" * 200))  # two-byte remaining length: 203 = 0xCB 0x01
    assert big[:3] == b"\x30\xcb\x01"


@given(st.binary(max_size=64))
@settings(max_examples=examples(2000))
def test_garbage_parses_or_raises_protocol_error(data: bytes) -> None:
    decoder = Decoder()
    try:
        for packet in decoder.feed(data):
            encode(packet)  # whatever decodes is a valid packet again
    except ProtocolError:
        pass


@given(st.lists(packets, min_size=1, max_size=3), st.data())
@settings(max_examples=examples(1000))
def test_mutated_packets_parse_or_raise_protocol_error(
    sent: list[Packet], data: st.DataObject
) -> None:
    wire = bytearray(b"".join(encode(p) for p in sent))
    for _ in range(data.draw(st.integers(1, 4))):
        wire[data.draw(st.integers(0, len(wire) - 1))] = data.draw(st.integers(0, 255))
    decoder = Decoder()
    try:
        for packet in decoder.feed(bytes(wire)):
            encode(packet)
    except ProtocolError:
        pass


@pytest.mark.parametrize(
    ("wire", "why"),
    [
        (b"\x00\x00", "unsupported packet type 0"),
        (b"\x50\x02\x00\x01", "unsupported packet type 5"),  # PUBREC: QoS 2 is not supported
        (b"\x34\x07\x00\x01a\x00\x01hi", "QoS 2"),
        (b"\x36\x07\x00\x01a\x00\x01hi", "QoS 3"),
        (b"\x38\x05\x00\x01ahi", "DUP set on a QoS 0"),
        (b"\x30\x05\x00\x01+hi", "invalid topic name"),
        (b"\x30\x04\x00\x00hi", "invalid topic name"),
        (b"\x30\x05\x00\x01\xffhi", "not well-formed UTF-8"),
        (b"\x30\x05\x00\x01\x00hi", r"U\+0000"),
        (b"\x32\x05\x00\x01a\x00\x00", "packet id 0"),
        (b"\x30\x03\x00\x09a", "overruns"),
        (b"\x40\x03\x00\x01\x00", "remaining length 3"),
        (b"\x41\x02\x00\x01", "flags"),
        (b"\x20\x02\x02\x00", "CONNACK"),
        (b"\x20\x02\x01\x05", "CONNACK"),
        (b"\x20\x02\x00\x06", "CONNACK"),
        (b"\x90\x03\x00\x01\x03", "SUBACK return codes"),
        (b"\x80\x06\x00\x01\x00\x01a\x01", "flags"),  # SUBSCRIBE must have flags 0b0010
        (b"\x82\x02\x00\x01", "without topic filters"),
        (b"\x30\xff\xff\xff\xff\x01", "longer than 4 bytes"),
        (b"\x10\x0f\x00\x04MQTT\x05\x02\x00\x3c\x00\x03dev", "not an MQTT 3.1.1 CONNECT"),
        (b"\x10\x0f\x00\x04MQTT\x04\x06\x00\x3c\x00\x03dev", "will messages"),
        (b"\x10\x10\x00\x04MQTT\x04\x02\x00\x3c\x00\x03devX", "trailing bytes"),
    ],
)
def test_malformed_packets_are_protocol_errors(wire: bytes, why: str) -> None:
    with pytest.raises(ProtocolError, match=why):
        Decoder().feed(wire)


def test_incomplete_input_waits_for_more() -> None:
    decoder = Decoder()
    assert decoder.feed(b"\x30") == []
    assert decoder.feed(b"\x80") == []  # remaining length continues
    assert decoder.feed(b"\x01") == []  # 128 bytes to come
    assert decoder.buffered == 3
    packets = decoder.feed(b"\x00\x01t" + b"x" * 125 + b"\xd0\x00")
    assert packets == [Publish("t", b"x" * 125), PingResp()]


def test_size_limit() -> None:
    with pytest.raises(ProtocolError, match="exceeds the limit"):
        Decoder(max_packet_size=10).feed(b"\x30\x0b")


@pytest.mark.parametrize(
    "packet",
    [
        Publish("a/+", b""),
        Publish("", b""),
        Publish("t", b"", 0, 5),
        Publish("t", b"", 1, 0),
        Publish("t", b"", 2, 1),  # type: ignore[arg-type]
        PubAck(0),
        PubAck(70000),
        Connect("c", 70000),
        Connect("c", 60, True, None, b"pw"),
        ConnAck(True, 5),
        ConnAck(False, 9),
        Subscribe(1, ()),
        Subscribe(1, (("a", 3),)),
        SubAck(1, (7,)),
        Publish("\ud800", b""),
        Publish("t", b"x" * 268_435_456),
    ],
)
def test_encoding_a_bad_packet_is_a_value_error(packet: Packet) -> None:
    with pytest.raises(ValueError):
        encode(packet)
