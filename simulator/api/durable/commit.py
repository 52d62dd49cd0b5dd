"""Group commit with pipelined syncs: how an appended record becomes durable, and when.

**The policy.** The event loop appends framed records (:func:`~.log.frame`) to a buffer; at the
next loop turn the buffer, with whatever the other ready callbacks appended meanwhile, is written
to the journal file (the page cache: microseconds) and one of :data:`SYNCS_IN_FLIGHT` syncer
processes is asked to ``fdatasync`` it. A record is *durable* once an ``fdatasync`` that
*started after the record was written* has returned: ``fdatasync`` returns once every page of the
file written before the call is on disk (including pages another process's sync is still writing
back, which it waits for), so one completion covers every batch written before it started, its
own and any earlier one still in flight. :meth:`GroupCommitWriter.durable` and
:meth:`~GroupCommitWriter.after` hand out futures and callbacks tagged with the records appended
so far; a completion covering target ``n`` releases every tag ``<= n``, in append order. Replies,
MQTT replies and notifications wait for that (:mod:`.journal`), so acknowledged means durable.

**Why two syncs in flight.** With one, a record arriving just after a sync started waits for
that sync and then a whole sync of its own (up to two sync times). With a second syncer idle it
starts its own sync at once (the disk may serve both; if it serialises them, the second
completes right after the first, no later than it would have started), so its wait is one sync
time plus what the disk queues. More than two buys little: a third batch would only hold what
arrives during both. Measured (benchmarks/RESULTS.md, "fleetsim serve --state-dir"): two beat one
by a median 1.1-1.5x in durable write rate, at less CPU per write; three or four were no better
than two.

**Why processes.** Waiting for the disk in a thread of the server measured 30-60 µs more CPU per
durable write (each completion waited for the loop's thread to yield the GIL); a syncer process
costs 20-45 µs including its own CPU. Syncers are normal tasks: as ``SCHED_BATCH`` tasks (which
do not preempt the loop when woken) they spared the loop some preemptions on a busy machine but
took twice as long from request to reply (2.5 ms against 1.3 ms median, their ``fdatasync``
2.0 ms against 1.1 ms: each wake-up waited for a CPU), and the durable rate fell by a third.

**Journal switches** (compaction, :mod:`.compaction`) are a barrier: the switch waits until no
sync is in flight, then every syncer syncs the old file, opens the new one and syncs it and its
directory; syncs of records for the new file start once their syncer has switched.

A failed write or sync is fatal (after a failed ``fsync`` the kernel may have dropped the dirty
pages, so nothing later could be trusted): ``on_fatal`` is called and nothing more is
acknowledged.
"""

from __future__ import annotations

import asyncio
import errno
import os
import subprocess
import sys
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from simulator.api.durable.log import frame

__all__ = ["SYNCS_IN_FLIGHT", "GroupCommitWriter"]

#: Syncs in flight at most (syncer processes); see the module docstring.
SYNCS_IN_FLIGHT: Final = 2


class _Syncer:
    """One syncer process and the target of its request in flight (-1: idle)."""

    __slots__ = ("process", "reply", "request", "target")

    def __init__(self) -> None:
        self.process = subprocess.Popen(  # our interpreter, our code
            [sys.executable, "-I", "-S", "-c", _SYNCER],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            start_new_session=True,  # a Ctrl-C to the terminal's group is the server's to handle
        )
        assert self.process.stdin is not None and self.process.stdout is not None
        self.request = self.process.stdin.fileno()
        self.reply = self.process.stdout.fileno()
        os.set_blocking(self.reply, False)
        self.target = -1

    def close(self) -> None:
        assert self.process.stdin is not None and self.process.stdout is not None
        self.process.stdin.close()
        self.process.wait()
        self.process.stdout.close()


class GroupCommitWriter:
    """Appends frames to an open file descriptor, durable in batches (see the module docstring).

    Create it inside the running loop. ``fd`` is the journal ``path`` opened for appending
    (``O_APPEND``); the syncer processes open ``path`` themselves. ``syncs_in_flight`` (at least
    1) bounds the syncs running at once.
    """

    def __init__(
        self,
        fd: int,
        path: Path,
        *,
        on_fatal: Callable[[OSError], None],
        syncs_in_flight: int = SYNCS_IN_FLIGHT,
    ) -> None:
        if syncs_in_flight < 1:
            raise ValueError("syncs_in_flight must be at least 1")
        self._fd = fd
        self._on_fatal = on_fatal
        self._loop = asyncio.get_running_loop()
        self._buffer: list[bytes] = []
        self._appended = 0
        #: Records written to a journal file (and handed to a syncer, or about to be).
        self._submitted = 0
        self._durable = 0
        self._busy = 0  # syncers with a request in flight
        #: Journal files to move to, in order, each with the records that precede it.
        self._switches: deque[tuple[bytes, int]] = deque([(b"o" + bytes(path), 0)])
        self._scheduled = False
        self._waiters: deque[list[Any]] = deque()  # [target, future], targets increasing
        self._callbacks: deque[tuple[int, Callable[[], None]]] = deque()
        self._failed: OSError | None = None
        self._closed = False
        self.bytes_written = 0
        #: Syncs that made records durable (a sync overtaken by a later one is not counted).
        self.syncs = 0
        #: Called after each batch is written (on the loop, between two records).
        self.after_write: Callable[[], None] | None = None
        self._syncers: list[_Syncer] = []
        try:
            for _ in range(syncs_in_flight):
                syncer = _Syncer()
                self._syncers.append(syncer)
                self._loop.add_reader(syncer.reply, self._on_reply, syncer)
        except BaseException:
            self.close()
            raise
        self._submit()

    @property
    def pending(self) -> bool:
        """Whether some appended record is not on disk yet."""
        return self._durable < self._appended

    @property
    def syncer_pids(self) -> tuple[int, ...]:
        """The syncer processes' ids, in the order idle syncers are picked (for diagnostics)."""
        return tuple(syncer.process.pid for syncer in self._syncers)

    @property
    def in_flight(self) -> int:
        """Requests the syncers are working on (syncs, or a journal switch)."""
        return self._busy

    @property
    def appended(self) -> int:
        """Records appended so far (the position :meth:`after` callbacks are tagged with)."""
        return self._appended

    def append(self, payload: bytes) -> None:
        self._buffer.append(frame(payload))
        self._appended += 1
        if not self._scheduled and self._busy < len(self._syncers):
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
        """Hand idle syncers their next request, if there is one."""
        self._scheduled = False
        if self._failed is not None or self._closed:
            return
        try:
            if self._switches:
                if self._busy:
                    return  # a barrier: every syncer moves to the new file together
                request, target = self._switches.popleft()
                for syncer in self._syncers:
                    os.write(syncer.request, request)
                    syncer.target = target
                self._busy = len(self._syncers)
            elif self._buffer and self._busy < len(self._syncers):
                syncer = next(s for s in self._syncers if s.target < 0)
                self._write(b"".join(self._buffer))
                self._buffer.clear()
                target = self._submitted = self._appended
                os.write(syncer.request, b"s")
                syncer.target = target
                self._busy += 1
            else:
                return
        except OSError as exc:
            self._fail(exc)
            return
        if self.after_write is not None:
            self.after_write()

    def _on_reply(self, syncer: _Syncer) -> None:
        try:
            reply = os.read(syncer.reply, 256)
        except BlockingIOError:
            return
        except OSError as exc:
            self._fail(exc)
            return
        if reply != b"k":
            detail = reply[1:].decode(errors="replace") if reply else "the syncer exited"
            self._fail(OSError(errno.EIO, f"fdatasync failed ({detail})"))
            return
        target, syncer.target = syncer.target, -1
        self._busy -= 1
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
        """Stop the syncers (after :meth:`drain`); nothing is written after."""
        self._closed = True
        for syncer in self._syncers:
            self._loop.remove_reader(syncer.reply)
            syncer.close()
        self._syncers.clear()


#: A syncer: a process of its own, so that waiting for the disk neither takes the event loop
#: nor contends for its interpreter lock. One request at a time on stdin: ``s`` syncs the
#: journal; ``o<path>`` syncs it, then opens ``path`` (a new journal file) and syncs it and its
#: directory. Each answer on stdout: ``k``, or ``E<error>`` and exit.
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
