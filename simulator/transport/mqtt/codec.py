"""Sans-IO MQTT 3.1.1 packet codec: the packets a device-side client needs, and nothing else.

Bytes in, packets out; packets in, bytes out. No sockets, no clock. The decoder is incremental:
:meth:`Decoder.feed` takes whatever the socket delivered and returns the packets completed by
it; on malformed input it raises :class:`~simulator.transport.mqtt.errors.ProtocolError` and
nothing else (the fuzz test states that invariant), after which the connection must be closed.

Supported: CONNECT (no will message), CONNACK, PUBLISH at QoS 0 and 1, PUBACK, SUBSCRIBE,
SUBACK, PINGREQ, PINGRESP, DISCONNECT. A QoS 2 PUBLISH or a PUBREC/PUBREL/PUBCOMP, UNSUBSCRIBE
or UNSUBACK is refused as a protocol error: the client never asks for them.

Why not a library: ``mqtt5`` (Rust, MQTT 5 only) aborts with a ``pyo3_runtime.PanicException``
(a ``BaseException``, with a Rust backtrace on stderr) on a topic that is not UTF-8, and reports
both "need more bytes" and "field overruns its packet" as ``IndexError``; ``moat-lib-mqtt``
raises ``RuntimeError`` on some malformed packets and decodes ~10x slower. See the "MQTT
clients" section of ``benchmarks/RESULTS.md``.

The hot path (a PUBLISH in, a PUBACK out) has dedicated helpers: :func:`encode_publish` takes
the topic already encoded, :func:`encode_puback` caches nothing and allocates one 4-byte object.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final, Literal, TypeAlias

from simulator.transport.mqtt.errors import ProtocolError

__all__ = [
    "DISCONNECT",
    "MAX_REMAINING_LENGTH",
    "PINGREQ",
    "ConnAck",
    "Connect",
    "Decoder",
    "Disconnect",
    "Packet",
    "PacketType",
    "PingReq",
    "PingResp",
    "PubAck",
    "Publish",
    "SubAck",
    "Subscribe",
    "encode",
    "encode_puback",
    "encode_publish",
]

#: Largest "remaining length" the 4-byte variable integer can express (section 2.2.3).
MAX_REMAINING_LENGTH: Final = 268_435_455
PROTOCOL_LEVEL: Final = 4  # MQTT 3.1.1
SUBACK_FAILURE: Final = 0x80


class PacketType(enum.IntEnum):
    CONNECT = 1
    CONNACK = 2
    PUBLISH = 3
    PUBACK = 4
    SUBSCRIBE = 8
    SUBACK = 9
    PINGREQ = 12
    PINGRESP = 13
    DISCONNECT = 14


@dataclass(frozen=True, slots=True)
class Connect:
    client_id: str
    keepalive: int = 60
    clean_session: bool = True
    username: str | None = None
    password: bytes | None = None


@dataclass(frozen=True, slots=True)
class ConnAck:
    session_present: bool
    return_code: int = 0


@dataclass(frozen=True, slots=True)
class Publish:
    topic: str
    payload: bytes
    qos: Literal[0, 1] = 0
    packet_id: int = 0
    dup: bool = False
    retain: bool = False


@dataclass(frozen=True, slots=True)
class PubAck:
    packet_id: int


@dataclass(frozen=True, slots=True)
class Subscribe:
    packet_id: int
    filters: tuple[tuple[str, int], ...]  # (topic filter, requested QoS)


@dataclass(frozen=True, slots=True)
class SubAck:
    packet_id: int
    return_codes: tuple[int, ...]  # granted QoS 0..2 or SUBACK_FAILURE


@dataclass(frozen=True, slots=True)
class PingReq:
    pass


@dataclass(frozen=True, slots=True)
class PingResp:
    pass


@dataclass(frozen=True, slots=True)
class Disconnect:
    pass


Packet: TypeAlias = (
    Connect | ConnAck | Publish | PubAck | Subscribe | SubAck | PingReq | PingResp | Disconnect
)

PINGREQ: Final = b"\xc0\x00"
DISCONNECT: Final = b"\xe0\x00"
_PINGRESP: Final = b"\xd0\x00"
_SMALL_LENGTHS: Final = tuple(bytes((n,)) for n in range(128))

# -- encoding -------------------------------------------------------------------------------


def _length(n: int) -> bytes:
    if n < 128:
        return _SMALL_LENGTHS[n]
    if n > MAX_REMAINING_LENGTH:
        raise ValueError(f"packet too large: remaining length {n}")
    out = bytearray()
    while n:
        n, digit = divmod(n, 128)
        out.append(digit | 0x80 if n else digit)
    return bytes(out)


def _string(value: str | bytes) -> bytes:
    raw = value.encode() if isinstance(value, str) else value
    if len(raw) > 0xFFFF:
        raise ValueError(f"string longer than 65535 bytes: {len(raw)}")
    return len(raw).to_bytes(2, "big") + raw


def _packet_id(packet_id: int) -> bytes:
    if not 0 < packet_id <= 0xFFFF:
        raise ValueError(f"packet id out of range 1..65535: {packet_id}")
    return packet_id.to_bytes(2, "big")


def _frame(first: int, body: bytes) -> bytes:
    return bytes((first,)) + _length(len(body)) + body


def encode_publish(
    topic: bytes, payload: bytes, qos: Literal[0, 1] = 0, packet_id: int = 0, *, dup: bool = False
) -> bytes:
    """A PUBLISH packet from an already-encoded topic name (the hot path; no validation)."""
    size = len(topic)
    if qos:
        first = b"\x3a" if dup else b"\x32"
        length = _length(size + 4 + len(payload))
        pid = packet_id.to_bytes(2, "big")
        return b"".join((first, length, size.to_bytes(2, "big"), topic, pid, payload))
    length = _length(size + 2 + len(payload))
    return b"".join((b"\x30", length, size.to_bytes(2, "big"), topic, payload))


def encode_puback(packet_id: int) -> bytes:
    return b"\x40\x02" + packet_id.to_bytes(2, "big")


def encode(packet: Packet, /) -> bytes:
    """Encode one packet; ``ValueError`` if a field is out of range (a bug of the caller)."""
    match packet:
        case Publish(topic, payload, qos, packet_id, dup, retain):
            if not topic or "+" in topic or "#" in topic or "\x00" in topic:
                raise ValueError(f"invalid topic name: {topic!r}")
            if qos not in (0, 1) or (qos == 0 and (packet_id or dup)):
                raise ValueError(f"invalid QoS/packet id/dup: {qos}/{packet_id}/{dup}")
            head = _string(topic) + (_packet_id(packet_id) if qos else b"")
            first = 0x30 | (qos << 1) | (0x08 if dup else 0) | (0x01 if retain else 0)
            return _frame(first, head + payload)
        case PubAck(packet_id):
            return b"\x40\x02" + _packet_id(packet_id)
        case Connect(client_id, keepalive, clean_session, username, password):
            if not 0 <= keepalive <= 0xFFFF:
                raise ValueError(f"keepalive out of range 0..65535: {keepalive}")
            if password is not None and username is None:
                raise ValueError("a password needs a user name in MQTT 3.1.1")
            flags = (0x02 if clean_session else 0) | (0x80 if username is not None else 0)
            flags |= 0x40 if password is not None else 0
            body = b"\x00\x04MQTT\x04" + bytes((flags,)) + keepalive.to_bytes(2, "big")
            body += _string(client_id)
            body += _string(username) if username is not None else b""
            body += _string(password) if password is not None else b""
            return _frame(0x10, body)
        case ConnAck(session_present, return_code):
            if not 0 <= return_code <= 5 or (return_code and session_present):
                raise ValueError(f"invalid CONNACK: {session_present}/{return_code}")
            return bytes((0x20, 2, 1 if session_present else 0, return_code))
        case Subscribe(packet_id, filters):
            if not filters or any(not f or q not in (0, 1, 2) for f, q in filters):
                raise ValueError(f"invalid subscription list: {filters!r}")
            body = _packet_id(packet_id) + b"".join(_string(f) + bytes((q,)) for f, q in filters)
            return _frame(0x82, body)
        case SubAck(packet_id, codes):
            if not codes or any(c not in (0, 1, 2, SUBACK_FAILURE) for c in codes):
                raise ValueError(f"invalid SUBACK return codes: {codes!r}")
            return _frame(0x90, _packet_id(packet_id) + bytes(codes))
        case PingReq():
            return PINGREQ
        case PingResp():
            return _PINGRESP
        case Disconnect():
            return DISCONNECT
    raise TypeError(f"not an MQTT packet: {packet!r}")  # pragma: no cover - exhaustive above


# -- decoding -------------------------------------------------------------------------------


def _u16(buf: bytes, pos: int, end: int) -> int:
    if pos + 2 > end:
        raise ProtocolError("field overruns its packet")
    return (buf[pos] << 8) | buf[pos + 1]


def _text(buf: bytes, pos: int, end: int) -> tuple[str, int]:
    size = _u16(buf, pos, end)
    stop = pos + 2 + size
    if stop > end:
        raise ProtocolError("string overruns its packet")
    try:
        text = buf[pos + 2 : stop].decode()
    except UnicodeDecodeError:
        raise ProtocolError("string is not well-formed UTF-8") from None
    if "\x00" in text:
        raise ProtocolError("string contains U+0000")
    return text, stop


def _nonzero_id(buf: bytes, pos: int, end: int) -> int:
    packet_id = _u16(buf, pos, end)
    if packet_id == 0:
        raise ProtocolError("packet id 0")
    return packet_id


def _publish(flags: int, buf: bytes, pos: int, end: int) -> Publish:
    qos = (flags >> 1) & 3
    if qos > 1:
        raise ProtocolError(f"PUBLISH with QoS {qos} (only 0 and 1 are supported)")
    dup = bool(flags & 0x08)
    if dup and not qos:
        raise ProtocolError("DUP set on a QoS 0 PUBLISH")
    topic, pos = _text(buf, pos, end)
    if not topic or "+" in topic or "#" in topic:
        raise ProtocolError(f"invalid topic name {topic!r}")
    packet_id = 0
    if qos:
        packet_id = _nonzero_id(buf, pos, end)
        pos += 2
    return Publish(topic, buf[pos:end], 1 if qos else 0, packet_id, dup, bool(flags & 1))


def _connect(buf: bytes, pos: int, end: int) -> Connect:
    name, pos = _text(buf, pos, end)
    if name != "MQTT" or pos + 4 > end or buf[pos] != PROTOCOL_LEVEL:
        raise ProtocolError("not an MQTT 3.1.1 CONNECT")
    flags = buf[pos + 1]
    if flags & 0x01:
        raise ProtocolError("reserved CONNECT flag set")
    if flags & 0x3C:
        raise ProtocolError("will messages are not supported")
    if flags & 0x40 and not flags & 0x80:
        raise ProtocolError("password without user name")
    keepalive = _u16(buf, pos + 2, end)
    client_id, pos = _text(buf, pos + 4, end)
    username = password = None
    if flags & 0x80:
        username, pos = _text(buf, pos, end)
    if flags & 0x40:
        size = _u16(buf, pos, end)
        if pos + 2 + size > end:
            raise ProtocolError("password overruns its packet")
        password, pos = buf[pos + 2 : pos + 2 + size], pos + 2 + size
    if pos != end:
        raise ProtocolError("trailing bytes after CONNECT payload")
    return Connect(client_id, keepalive, bool(flags & 0x02), username, password)


def _subscribe(buf: bytes, pos: int, end: int) -> Subscribe:
    packet_id = _nonzero_id(buf, pos, end)
    pos += 2
    filters: list[tuple[str, int]] = []
    while pos < end:
        topic, pos = _text(buf, pos, end)
        if not topic or pos >= end or buf[pos] > 2:
            raise ProtocolError("invalid subscription")
        filters.append((topic, buf[pos]))
        pos += 1
    if not filters:
        raise ProtocolError("SUBSCRIBE without topic filters")
    return Subscribe(packet_id, tuple(filters))


def _suback(buf: bytes, pos: int, end: int) -> SubAck:
    packet_id = _nonzero_id(buf, pos, end)
    codes = tuple(buf[pos + 2 : end])
    if not codes or any(c not in (0, 1, 2, SUBACK_FAILURE) for c in codes):
        raise ProtocolError(f"invalid SUBACK return codes {codes!r}")
    return SubAck(packet_id, codes)


def _connack(buf: bytes, pos: int) -> ConnAck:
    flags, code = buf[pos], buf[pos + 1]
    if flags & 0xFE or code > 5 or (code and flags):
        raise ProtocolError(f"invalid CONNACK flags/return code {flags}/{code}")
    return ConnAck(bool(flags), code)


#: (packet type, flags) -> required remaining length, for the fixed-size packets.
_FIXED: Final = {(2, 0): 2, (4, 0): 2, (12, 0): 0, (13, 0): 0, (14, 0): 0}
_PING_REQ: Final = PingReq()
_PING_RESP: Final = PingResp()
_DISCONNECT: Final = Disconnect()


def _decode(first: int, buf: bytes, pos: int, end: int) -> Packet:
    kind, flags = first >> 4, first & 0x0F
    if kind == 3:
        return _publish(flags, buf, pos, end)
    size = _FIXED.get((kind, flags))
    if size is not None:
        if end - pos != size:
            raise ProtocolError(f"packet type {kind} with remaining length {end - pos}")
        if kind == 4:
            return PubAck(_nonzero_id(buf, pos, end))
        if kind == 2:
            return _connack(buf, pos)
        return _PING_REQ if kind == 12 else _PING_RESP if kind == 13 else _DISCONNECT
    if kind == 1 and flags == 0:
        return _connect(buf, pos, end)
    if kind == 8 and flags == 2:
        return _subscribe(buf, pos, end)
    if kind == 9 and flags == 0:
        return _suback(buf, pos, end)
    raise ProtocolError(f"unsupported packet type {kind} with flags {flags:#x}")


class Decoder:
    """Incremental decoder: feed it bytes as they arrive, get back the completed packets."""

    __slots__ = ("_buf", "_max")

    def __init__(self, *, max_packet_size: int = MAX_REMAINING_LENGTH) -> None:
        self._buf = b""
        self._max = max_packet_size

    @property
    def buffered(self) -> int:
        """Bytes received but not yet part of a complete packet."""
        return len(self._buf)

    def feed(self, data: bytes, /) -> list[Packet]:
        """Append ``data``; return the packets it completes (possibly none).

        Raises:
            ProtocolError: the bytes are not MQTT 3.1.1 (or a packet exceeds the size limit).
        """
        buf = self._buf + data if self._buf else bytes(data)
        out: list[Packet] = []
        pos, n = 0, len(buf)
        while n - pos >= 2:
            length = buf[pos + 1]
            start = pos + 2
            if length & 0x80:  # multi-byte remaining length
                length &= 0x7F
                shift = 7
                while True:
                    if shift > 21:
                        raise ProtocolError("remaining length longer than 4 bytes")
                    if start >= n:
                        self._buf = buf[pos:]
                        return out
                    digit = buf[start]
                    start += 1
                    length |= (digit & 0x7F) << shift
                    if not digit & 0x80:
                        break
                    shift += 7
            if length > self._max:
                raise ProtocolError(f"packet of {length} bytes exceeds the limit {self._max}")
            end = start + length
            if end > n:
                break
            out.append(_decode(buf[pos], buf, start, end))
            pos = end
        self._buf = buf[pos:] if pos < n else b""
        return out
