"""The journal file: framed records, and a scan that tells a torn tail from corruption.

A journal file is an 8-byte magic (:data:`MAGIC`, which carries the format version) followed by
frames::

    u32 length | u32 crc32(payload) | u32 crc32(first 8 bytes) | payload (length bytes)

little-endian. The header has its own checksum so that a damaged length is not mistaken for a
frame running past the end of the file.

:func:`scan` reads every intact frame. What follows the last intact frame is either a **torn
tail** (what a SIGKILL or a power cut leaves: fewer bytes than a header, a frame longer than the
rest of the file, zeros to the end, or damaged frames with no intact frame after them) which is
reported so that the caller can warn and truncate it, or **corruption** (a damaged frame with an
intact frame after it, or a damaged stretch longer than :data:`TORN_SEARCH_BYTES`), which raises
:class:`JournalCorrupt`: dropping it would silently lose acknowledged writes.

Which tails a crash can leave. The writer (:mod:`.commit`) only appends, through ``O_APPEND``,
and acknowledges a record once an ``fdatasync`` that started after the record was written has
returned; with two syncs in flight, up to two batches (plus the one being gathered) may be
written but not yet synced. A SIGKILL leaves every written byte (the page cache survives the
process), so at most the frame of a ``write`` cut short. A power cut leaves the synced prefix
intact and can cut or damage only the unsynced batches after it; on ext4 (``data=ordered``, the
default) a larger file size is committed only after the data up to it is written, so that end
is cut short or zero-filled. Either way every acknowledged frame comes before the first damaged
one, and no intact frame can follow a damaged one unless something other than a crash damaged
the file: hence the rule above (and a damaged stretch longer than any batch is refused too).
A preallocated, pre-zeroed file would make syncs cheaper (no size to commit), but a power cut
could then persist the pages of the unsynced batches out of order, leaving intact frames after
a hole, which this rule would refuse to start on; this format does not preallocate.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Final

__all__ = ["MAGIC", "TORN_SEARCH_BYTES", "JournalCorrupt", "Scan", "frame", "scan"]

#: File magic; the last two characters are the format version.
MAGIC: Final = b"FSJRNL01"
_HEADER: Final = struct.Struct("<III")
_PREFIX: Final = struct.Struct("<II")


class JournalCorrupt(Exception):
    """A journal file that is not a torn tail away from valid (damaged in the middle, wrong
    magic): the message is one line for the operator."""


def frame(payload: bytes) -> bytes:
    """``payload`` as one frame."""
    prefix = _PREFIX.pack(len(payload), zlib.crc32(payload))
    return prefix + struct.pack("<I", zlib.crc32(prefix)) + payload


@dataclass(frozen=True, slots=True)
class Scan:
    """The frames of a journal file, and where the intact part ends."""

    payloads: list[bytes]
    #: Offset just past the last intact frame (the file is truncated here to drop a torn tail).
    end: int
    #: Bytes after ``end`` (a torn tail; 0 for a clean file).
    torn: int


def scan(data: bytes, *, name: str = "journal") -> Scan:
    """The frames of ``data`` (a whole journal file). Raises :class:`JournalCorrupt`."""
    if not data.startswith(MAGIC):
        if MAGIC.startswith(data):  # killed while writing the magic of a new file
            return Scan([], 0, len(data))
        if data[:6] == MAGIC[:6]:
            raise JournalCorrupt(
                f"{name} has format {data[6:8]!r}, this fleetsim reads {MAGIC[6:8]!r}"
            )
        raise JournalCorrupt(f"{name} is not a fleetsim journal")
    payloads: list[bytes] = []
    offset = len(MAGIC)
    size = len(data)
    for payload, end in _frames(data, offset, name):
        payloads.append(payload)
        offset = end
    return Scan(payloads, offset, size - offset)


#: A damaged frame is a torn tail only if no intact frame starts within this many bytes after
#: it, searched byte by byte; a longer damaged stretch is refused (it cannot be a torn write:
#: the unsynced batches a crash can cut are far smaller).
TORN_SEARCH_BYTES: Final = 1 << 20


def _intact_after(view: memoryview, offset: int) -> bool:
    """Whether an intact frame starts after ``offset`` (or the rest is too long to search)."""
    size = len(view)
    if size - offset > TORN_SEARCH_BYTES:
        return True
    unpack, crc32, header = _HEADER.unpack_from, zlib.crc32, _HEADER.size
    for start in range(offset + 1, size - header + 1):
        length, crc, header_crc = unpack(view, start)
        end = start + header + length
        if (
            end <= size
            and header_crc == crc32(view[start : start + 8])
            and crc32(view[start + header : end]) == crc
        ):
            return True
    return False


def _frames(data: bytes, offset: int, name: str) -> Iterator[tuple[bytes, int]]:
    size = len(data)
    view = memoryview(data)
    while offset < size:
        rest = size - offset
        if rest < _HEADER.size:
            return  # torn: a header cut short
        length, crc, header_crc = _HEADER.unpack_from(data, offset)
        if header_crc != zlib.crc32(view[offset : offset + 8]):
            if not any(view[offset:]) or not _intact_after(view, offset):
                return  # torn: zeros, or a damaged header with nothing intact after it
            raise JournalCorrupt(f"{name}: damaged record header at byte {offset}")
        start = offset + _HEADER.size
        end = start + length
        if end > size:
            return  # torn: the last frame cut short
        payload = bytes(view[start:end])
        if zlib.crc32(payload) != crc:
            if end == size or not _intact_after(view, end - 1):
                return  # torn: the last frames' data never fully reached the disk
            raise JournalCorrupt(f"{name}: damaged record at byte {offset}")
        yield payload, end
        offset = end
