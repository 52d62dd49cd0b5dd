"""The journal file: framed records, a scan that tells a torn tail from corruption, group commit.

A journal file is an 8-byte magic (:data:`MAGIC`, which carries the format version) followed by
frames::

    u32 length | u32 crc32(payload) | u32 crc32(first 8 bytes) | payload (length bytes)

little-endian. The header has its own checksum so that a damaged length is not mistaken for a
frame running past the end of the file.

:func:`scan` reads every intact frame. What follows the last intact frame is either a **torn
tail** (what a SIGKILL or a power cut leaves: fewer bytes than a header, a frame longer than the
rest of the file, a damaged last frame, or zeros to the end) which is reported so that the caller
can warn and truncate it, or **corruption** (a damaged frame with intact data after it), which
raises :class:`JournalCorrupt`: dropping it would silently lose acknowledged writes.

:class:`GroupCommitWriter` appends frames from the event loop and makes them durable in batches:
while one batch is written and ``fdatasync``-ed on a dedicated thread, the records appended in
the meantime form the next batch, so one ``fdatasync`` covers every reply of a burst.
:meth:`~GroupCommitWriter.durable` waits until everything appended so far is on disk. A failed
write or sync is fatal (after a failed ``fsync`` the kernel may have dropped the dirty pages, so
nothing later could be trusted): ``on_fatal`` is called and nothing more is acknowledged.
"""

from __future__ import annotations

import asyncio
import os
import struct
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Final

__all__ = ["MAGIC", "GroupCommitWriter", "JournalCorrupt", "Scan", "frame", "scan"]

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


def _frames(data: bytes, offset: int, name: str) -> Iterator[tuple[bytes, int]]:
    size = len(data)
    view = memoryview(data)
    while offset < size:
        rest = size - offset
        if rest < _HEADER.size:
            return  # torn: a header cut short
        length, crc, header_crc = _HEADER.unpack_from(data, offset)
        if header_crc != zlib.crc32(view[offset : offset + 8]):
            if not any(view[offset:]):
                return  # torn: zeros to the end (size extended, data never written)
            raise JournalCorrupt(f"{name}: damaged record header at byte {offset}")
        start = offset + _HEADER.size
        end = start + length
        if end > size:
            return  # torn: the last frame cut short
        payload = bytes(view[start:end])
        if zlib.crc32(payload) != crc:
            if end == size:
                return  # torn: the last frame's data never fully reached the disk
            raise JournalCorrupt(f"{name}: damaged record at byte {offset}")
        yield payload, end
        offset = end


class GroupCommitWriter:
    """Appends frames to an open file descriptor, durable in batches (see the module docstring).

    Create it inside the running loop. ``fd`` is positioned at its end (opened with
    ``O_APPEND``); ``sync`` is ``os.fdatasync`` (``os.fsync`` where that is missing).
    """

    def __init__(self, fd: int, *, on_fatal: Callable[[OSError], None]) -> None:
        self._fd = fd
        self._on_fatal = on_fatal
        self._loop = asyncio.get_running_loop()
        self._pool = ThreadPoolExecutor(1, thread_name_prefix="fleetsim-journal")
        self._buffer: list[bytes] = []
        self._appended = 0
        self._durable = 0
        self._waiters: deque[tuple[int, asyncio.Future[None]]] = deque()
        self._callbacks: deque[tuple[int, Callable[[], None]]] = deque()
        self._flushing: asyncio.Task[None] | None = None
        self._failed: OSError | None = None
        self.bytes_written = 0
        self.syncs = 0

    @property
    def pending(self) -> bool:
        """Whether some appended record is not on disk yet."""
        return self._durable < self._appended

    @property
    def appended(self) -> int:
        """Records appended so far (the position :meth:`after` callbacks are tagged with)."""
        return self._appended

    def append(self, payload: bytes) -> None:
        self._buffer.append(frame(payload))
        self._appended += 1
        if self._flushing is None:
            self._flushing = self._loop.create_task(self._flush())

    def durable(self) -> asyncio.Future[None]:
        """A future done once every record appended so far is on disk."""
        future = self._loop.create_future()
        if not self.pending:
            future.set_result(None)
        else:
            self._waiters.append((self._appended, future))
        return future

    def after(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the loop once every record appended so far is on disk."""
        if not self.pending:
            callback()
        else:
            self._callbacks.append((self._appended, callback))

    async def _flush(self) -> None:
        try:
            while self._buffer and self._failed is None:
                data = b"".join(self._buffer)
                self._buffer.clear()
                target = self._appended
                try:
                    await self._loop.run_in_executor(self._pool, _write_and_sync, self._fd, data)
                except OSError as exc:
                    self._failed = exc
                    self._on_fatal(exc)
                    return
                self.bytes_written += len(data)
                self.syncs += 1
                self._durable = target
                self._release(target)
        finally:
            self._flushing = None

    def _release(self, target: int) -> None:
        waiters = self._waiters
        while waiters and waiters[0][0] <= target:
            future = waiters.popleft()[1]
            if not future.done():
                future.set_result(None)
        callbacks = self._callbacks
        while callbacks and callbacks[0][0] <= target:
            callbacks.popleft()[1]()

    async def drain(self) -> None:
        """Wait until every appended record is on disk (or writing failed)."""
        while self._flushing is not None:
            await asyncio.shield(self._flushing)

    def close(self) -> None:
        self._pool.shutdown(wait=True)


def _write_and_sync(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]
    _sync(fd)


_sync: Final = getattr(os, "fdatasync", os.fsync)
