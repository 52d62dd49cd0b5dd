"""Compaction: a snapshot of the state, then a fresh journal, without stopping the server.

Files of generation *g* (:func:`journal_path`, :func:`snapshot_path`): ``journal.log`` is
generation 0, ``journal.<g>.log`` and ``snapshot.<g>`` the later ones. The state is the newest
snapshot (or an empty control plane) followed by every journal from its generation on.

Compacting generation *g* into *g + 1*, on the event loop between two records:

1. create ``journal.<g+1>.log`` (its magic only);
2. fork: the child writes the snapshot of the state so far to ``snapshot.<g+1>.tmp`` and syncs
   it (:func:`~simulator.api.durable.snapshot.fork_snapshot`);
3. the journal writer moves to the new file at once: records appended before the fork stay in
   ``journal.<g>.log``, synced before any later record (:meth:`GroupCommitWriter.rotate`);
4. when the child exits 0: rename the snapshot into place, sync the directory, then delete the
   files of earlier generations.

A crash at any point leaves a restorable directory: before step 4's rename, the previous
snapshot and every journal since are all there (the new journal continues the old one); after
it, the new snapshot and the new journal; stale files of earlier generations and a ``.tmp``
are deleted on the next start.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import signal
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from simulator.api.durable import snapshot
from simulator.api.durable.commit import GroupCommitWriter
from simulator.api.durable.log import MAGIC

__all__ = [
    "Compactor",
    "Layout",
    "fsync_dir",
    "journal_path",
    "layout",
    "remove",
    "snapshot_path",
]

#: How long a clean shutdown waits for its snapshot (the whole stop must fit in 5 s).
SHUTDOWN_BUDGET_S: Final = 2.5
_JOURNAL: Final = re.compile(r"journal(?:\.([1-9][0-9]*))?\.log")
_SNAPSHOT: Final = re.compile(r"snapshot\.([1-9][0-9]*)")


def journal_path(directory: Path, generation: int) -> Path:
    return directory / ("journal.log" if generation == 0 else f"journal.{generation}.log")


def snapshot_path(directory: Path, generation: int) -> Path:
    return directory / f"snapshot.{generation}"


@dataclass(frozen=True, slots=True)
class Layout:
    """The generations found in a state directory."""

    #: The newest snapshot's generation (0: none, start from an empty control plane).
    base: int
    #: Generations of the journals to replay, in order, from ``base`` on.
    journals: list[int]
    #: Files of earlier generations and unfinished snapshots, to delete once restored.
    stale: list[Path]


def layout(directory: Path) -> Layout:
    """The generations in ``directory``. Raises :class:`ValueError` (a journal missing)."""
    journals: set[int] = set()
    snapshots: set[int] = set()
    unfinished: list[Path] = []
    for entry in directory.iterdir():
        name = entry.name
        if (found := _JOURNAL.fullmatch(name)) is not None:
            journals.add(int(found[1] or 0))
        elif (found := _SNAPSHOT.fullmatch(name)) is not None:
            snapshots.add(int(found[1]))
        elif name.startswith("snapshot.") and name.endswith(".tmp"):
            unfinished.append(entry)
    base = max(snapshots, default=0)
    live = sorted(g for g in journals if g >= base) or [base]
    if live[0] != base or live != list(range(base, base + len(live))):
        missing = sorted(set(range(base, live[-1] + 1)) - set(live))
        raise ValueError(f"{journal_path(directory, (missing or [base])[0]).name} is missing")
    stale = [journal_path(directory, g) for g in journals if g < base]
    stale += [snapshot_path(directory, g) for g in snapshots if g < base]
    return Layout(base, live, stale + unfinished)


def remove(paths: list[Path]) -> None:
    for path in paths:
        with contextlib.suppress(FileNotFoundError):
            path.unlink()


def fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class Compactor:
    """Compacts the live journal once it holds ``threshold`` bytes (see the module docstring).

    ``build`` returns the snapshot file's bytes for the state at the instant it is called.
    """

    def __init__(
        self,
        directory: Path,
        writer: GroupCommitWriter,
        fd: int,
        *,
        generation: int,
        journal_bytes: int,
        threshold: int,
        build: Callable[[], bytes],
        warn: Callable[[str], None],
    ) -> None:
        self._directory = directory
        self._writer = writer
        self.generation = generation
        self._threshold = threshold
        self._build = build
        self._warn = warn
        self._loop = asyncio.get_running_loop()
        #: Journal bytes at the start of the live file (counted from ``writer.bytes_written``).
        self._origin = writer.bytes_written - journal_bytes
        self._next = threshold
        self._child: tuple[int, int, int, float] | None = None  # pid, pidfd, generation, t0
        self._closed = False
        self.fd = fd  #: the live journal's descriptor (closed here once rotated away from)
        #: Completed compactions, and the seconds (fork to installed) of the last one.
        self.compactions = 0
        self.last_seconds = 0.0
        writer.after_write = self._check

    @property
    def journal_bytes(self) -> int:
        """Bytes in the live journal file."""
        return self._writer.bytes_written - self._origin

    def _check(self) -> None:
        if self._child is None and not self._closed and self.journal_bytes >= self._next:
            self._next = 1 << 62  # until this compaction ends
            self._loop.call_soon(self.compact)  # a callback of its own: between two records

    def compact(self) -> None:
        """Start compacting now (between two records, on the loop)."""
        if self._child is not None or self._closed:
            return
        generation = self.generation + 1
        path = journal_path(self._directory, generation)
        started = time.perf_counter()
        try:
            fd = _new_journal(path)
            try:
                pid = snapshot.fork_snapshot(
                    snapshot_path(self._directory, generation), self._build
                )
            except OSError:
                os.close(fd)
                path.unlink()
                raise
        except OSError as exc:
            self._warn(f"cannot compact {self._directory}: {exc.strerror}; retrying later")
            self._next = self.journal_bytes + self._threshold
            return
        self._writer.rotate(fd, path)
        os.close(self.fd)  # written to (the syncer syncs it through its own descriptor)
        self.fd = fd
        self.generation = generation
        self._origin = self._writer.bytes_written - len(MAGIC)
        pidfd = os.pidfd_open(pid)
        self._child = (pid, pidfd, generation, started)
        self._loop.add_reader(pidfd, self._finished)

    def _finished(self) -> None:
        if self._child is None:
            return
        pid, pidfd, generation, started = self._child
        self._child = None
        self._loop.remove_reader(pidfd)
        os.close(pidfd)
        _, status = os.waitpid(pid, 0)
        self._next = self.journal_bytes + self._threshold
        path = snapshot_path(self._directory, generation)
        code = os.waitstatus_to_exitcode(status)
        if code != 0:
            snapshot.discard(path)
            self._warn(f"compaction of {self._directory} failed (snapshot exit {code})")
            return
        try:
            snapshot.install(path)
            fsync_dir(self._directory)
            remove(self._older(generation))
        except OSError as exc:  # the journals since the old snapshot are still all there
            self._warn(f"compaction of {self._directory}: {exc.strerror}")
            return
        self.compactions += 1
        self.last_seconds = time.perf_counter() - started

    def _older(self, generation: int) -> list[Path]:
        return [
            path
            for g in range(generation)
            for path in (journal_path(self._directory, g), snapshot_path(self._directory, g))
        ]

    async def close(self, *, final: bool, budget: float = SHUTDOWN_BUDGET_S) -> None:
        """Stop compacting (a running child is abandoned); with ``final``, and a live journal
        of at least an eighth of the threshold, snapshot the state once more, waiting at most
        ``budget`` seconds (then abandoning it: the journals are intact)."""
        self._closed = True
        self._abandon()
        # A short journal replays in milliseconds: not worth pickling the whole state for.
        if not final or self.journal_bytes < max(self._threshold // 8, len(MAGIC) + 1):
            return
        generation = self.generation + 1
        path = journal_path(self._directory, generation)
        os.close(_new_journal(path))  # the continuation: empty, as nothing is recorded now
        self.generation = generation
        pid = snapshot.fork_snapshot(snapshot_path(self._directory, generation), self._build)
        pidfd = os.pidfd_open(pid)
        exited = self._loop.create_future()
        self._loop.add_reader(pidfd, _set_once, exited)
        self._child = (pid, pidfd, generation, time.perf_counter())
        try:
            await asyncio.wait_for(exited, budget)
        except TimeoutError:
            self._warn(f"no snapshot at shutdown: not written within {budget} s")
            self._abandon()
            return
        self._finished()

    def _abandon(self) -> None:
        if self._child is None:
            return
        pid, pidfd, generation, _ = self._child
        self._child = None
        self._loop.remove_reader(pidfd)
        os.close(pidfd)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
        snapshot.discard(snapshot_path(self._directory, generation))
        # Its journal holds the records since: the next start replays it after the old one.


def _set_once(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


def _new_journal(path: Path) -> int:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | os.O_APPEND, 0o644)
    try:
        os.write(fd, MAGIC)
        os.fsync(fd)
    except OSError:
        os.close(fd)
        raise
    return fd
