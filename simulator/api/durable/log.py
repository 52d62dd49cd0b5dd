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
the loop writes a batch to the file (the page cache: microseconds) and asks a syncer process to
``fdatasync`` it; the records appended in the meantime form the next batch, so one
``fdatasync`` covers every reply of a burst. :meth:`~GroupCommitWriter.durable` waits until
everything appended so far is on disk. A failed write or sync is fatal (after a failed ``fsync``
the kernel may have dropped the dirty pages, so nothing later could be trusted): ``on_fatal`` is
called and nothing more is acknowledged.
"""

from __future__ import annotations

import asyncio
import errno
import os
import struct
import subprocess
import sys
import zlib
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final

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

    Create it inside the running loop. ``fd`` is the journal ``path`` opened for appending
    (``O_APPEND``); the syncer process opens ``path`` itself.
    """

    def __init__(self, fd: int, path: Path, *, on_fatal: Callable[[OSError], None]) -> None:
        self._fd = fd
        self._on_fatal = on_fatal
        self._loop = asyncio.get_running_loop()
        self._buffer: list[bytes] = []
        self._appended = 0
        #: Records written to a journal file (and handed to the syncer, or about to be).
        self._submitted = 0
        self._durable = 0
        self._in_flight = -1  # the target of the syncer's current request; -1: idle
        #: Journal files to move to, in order, each with the records that precede it.
        self._switches: deque[tuple[bytes, int]] = deque([(b"o" + bytes(path), 0)])
        self._scheduled = False
        self._waiters: deque[list[Any]] = deque()  # [target, future], targets increasing
        self._callbacks: deque[tuple[int, Callable[[], None]]] = deque()
        self._failed: OSError | None = None
        self._closed = False
        self.bytes_written = 0
        self.syncs = 0
        #: Called after each batch is written (on the loop, between two records).
        self.after_write: Callable[[], None] | None = None
        self._syncer = subprocess.Popen(  # our interpreter, our code
            [sys.executable, "-I", "-S", "-c", _SYNCER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C to the terminal's group is the server's to handle
        )
        assert self._syncer.stdin is not None and self._syncer.stdout is not None
        self._request = self._syncer.stdin.fileno()
        self._reply = self._syncer.stdout.fileno()
        os.set_blocking(self._reply, False)
        self._loop.add_reader(self._reply, self._on_reply)
        self._submit()

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
        if self._in_flight < 0 and not self._scheduled:
            # Next loop turn: the records the other ready callbacks append join this batch.
            self._scheduled = True
            self._loop.call_soon(self._submit)

    def durable(self) -> asyncio.Future[None]:
        """A future done once every record appended so far is on disk."""
        target = self._appended
        waiters = self._waiters
        if waiters and waiters[-1][0] > self._submitted:
            # Records not yet submitted are all written and synced together: one future.
            waiters[-1][0] = target
            future: asyncio.Future[None] = waiters[-1][1]
            return future
        future = self._loop.create_future()
        if self._durable >= target:
            future.set_result(None)
        else:
            waiters.append([target, future])
        return future

    def after(self, callback: Callable[[], None]) -> None:
        """Call ``callback`` on the loop once every record appended so far is on disk."""
        if not self.pending:
            callback()
        else:
            self._callbacks.append((self._appended, callback))

    def rotate(self, fd: int, path: Path) -> None:
        """Append from now on to ``fd``, the new journal file ``path`` (holding just its
        magic); what was appended so far goes to the current file, durable before any later
        record."""
        if self._buffer:
            self._write(b"".join(self._buffer))
            self._buffer.clear()
        self._submitted = self._appended
        self._fd = fd
        self._switches.append((b"o" + bytes(path), self._appended))
        self._submit()

    def _write(self, data: bytes) -> None:
        view = memoryview(data)
        while view:
            view = view[os.write(self._fd, view) :]
        self.bytes_written += len(data)

    def _submit(self) -> None:
        """Hand the syncer its next request, if it is idle and there is one."""
        self._scheduled = False
        if self._in_flight >= 0 or self._failed is not None or self._closed:
            return
        try:
            if self._switches:
                request, target = self._switches.popleft()
            elif self._buffer:
                self._write(b"".join(self._buffer))
                self._buffer.clear()
                request, target = b"s", self._appended
                self._submitted = target
            else:
                return
            os.write(self._request, request)
        except OSError as exc:
            self._fail(exc)
            return
        self._in_flight = target
        if self.after_write is not None:
            self.after_write()

    def _on_reply(self) -> None:
        try:
            reply = os.read(self._reply, 256)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(exc)
            return
        if reply != b"k":
            detail = reply[1:].decode(errors="replace") if reply else "the syncer exited"
            self._fail(OSError(errno.EIO, f"fdatasync failed ({detail})"))
            return
        target, self._in_flight = self._in_flight, -1
        if target > self._durable:
            self.syncs += 1
            self._durable = target
            self._release(target)
        self._submit()

    def _fail(self, exc: OSError) -> None:
        if self._failed is None:
            self._failed = exc
            self._on_fatal(exc)

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
        while self.pending and self._failed is None:
            await asyncio.shield(self.durable())

    def close(self) -> None:
        """Stop the syncer (after :meth:`drain`); nothing is written after."""
        self._closed = True
        self._loop.remove_reader(self._reply)
        assert self._syncer.stdin is not None and self._syncer.stdout is not None
        self._syncer.stdin.close()
        self._syncer.wait()
        self._syncer.stdout.close()


#: The syncer: a process of its own, so that waiting for the disk neither takes the event loop
#: nor contends for its interpreter lock (a sync thread measured ~30 % slower: each completion
#: waited for the loop thread to yield the GIL). One request at a time on stdin: ``s`` syncs
#: the journal; ``o<path>`` syncs it, then opens ``path`` (a new journal file) and syncs it and
#: its directory. Each answer on stdout: ``k``, or ``E<error>`` and exit.
_SYNCER: Final = """
import os, signal
signal.signal(signal.SIGINT, signal.SIG_IGN)
signal.signal(signal.SIGTERM, signal.SIG_IGN)
sync = getattr(os, "fdatasync", os.fsync)
fd = -1
while True:
    request = os.read(0, 65536)
    if not request:
        break
    try:
        if fd >= 0:
            sync(fd)
        if request[:1] == b"o":
            path = request[1:]
            new = os.open(path, os.O_RDONLY)
            os.fsync(new)
            parent = os.open(os.path.dirname(path) or b".", os.O_RDONLY)
            os.fsync(parent)
            os.close(parent)
            if fd >= 0:
                os.close(fd)
            fd = new
    except OSError as exc:
        os.write(1, b"E" + str(exc).encode())
        break
    os.write(1, b"k")
"""
