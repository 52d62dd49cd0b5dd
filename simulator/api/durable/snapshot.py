"""Snapshots: the control plane's whole state in one file, so that the journal can start over.

A snapshot of generation *g* is the state after every record of the journals before *g*;
restore loads the newest snapshot and replays the journals from its generation on (see
:mod:`.state` for the files and the order they are replaced in).

The state is pickled as it is: the control plane object (every service, cross-referenced as in
memory), the pending timers and the timer counter. What belongs to the running process rather
than to the state (the journal clock, scheduler, publisher and certificate issuer, and the
emulator options, which come from the command line) is pickled as a persistent reference and
bound to the new process's objects on load, so the loaded plane records, schedules and
publishes through them exactly as a replayed one would.

**Taken in a forked child** (:func:`fork_snapshot`): ``fork()`` copies the process in
milliseconds (its pages are shared copy-on-write), the child pickles the copy, a consistent
image of the state between two records, and writes it while the server goes on answering. The
parent learns the outcome through a pidfd on its event loop.

**What this asks of the services**: their state must pickle, and anything that depends on
object identity must say how to rebuild it (the shadow store's table of shared trees, keyed by
``id``, defines ``__getstate__``). A service state that does not pickle fails the compaction
(a warning; the journal keeps growing and restores as before), never a restore; one whose
identity-keyed table is not rebuilt is what the tests comparing a restore from snapshots with
a replay of the whole journal catch.

File: :data:`MAGIC`, ``u64 length``, ``u32 crc32``, then the pickle. A snapshot is written to a
temporary name, synced, and only then renamed into place, so one that exists is whole: a
damaged one is corruption, never a torn tail.
"""

from __future__ import annotations

import contextlib
import copyreg
import ctypes
import gc
import io
import os
import pickle
import resource
import signal
import struct
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, Final

from simulator.api.durable.journal import JournalClock, JournalScheduler

__all__ = ["MAGIC", "Loaded", "SnapshotCorrupt", "fork_snapshot", "read_snapshot", "write"]

#: File magic; the last two characters are the format version.
MAGIC: Final = b"FSSNAP01"
_HEADER: Final = struct.Struct("<QI")
_PR_SET_PDEATHSIG: Final = 1


class SnapshotCorrupt(Exception):
    """A snapshot file that does not read back (one line for the operator)."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """A control plane read from a snapshot, its timers bound to the new scheduler."""

    plane: Any
    timers: int


def _mappingproxy(proxy: MappingProxyType[Any, Any]) -> tuple[Any, tuple[Any]]:
    # The mapping itself, not a copy: a service's read-only view must stay a view of the dict
    # it mutates (the proxy's one referent is its mapping).
    (mapping,) = gc.get_referents(proxy)
    return _proxy, (mapping,)


def _proxy(mapping: Any) -> MappingProxyType[Any, Any]:
    return MappingProxyType(mapping)


def _persistent(name: str) -> object:
    """Stands for a persistent object in the pickle; :class:`_Unpickler` resolves it."""
    raise pickle.UnpicklingError(f"persistent reference {name!r} outside a snapshot")


class _Pickler(pickle.Pickler):
    """Pickles ``persistent``'s objects as references to their names.

    Through the dispatch table, keyed by their types, rather than ``persistent_id``: that is a
    Python call for every object pickled, measured at more than half of a snapshot's time.
    """

    def __init__(self, file: io.BytesIO, persistent: dict[str, object]) -> None:
        super().__init__(file, protocol=5)
        names = {id(obj): name for name, obj in persistent.items()}

        def reduce(obj: Any) -> Any:
            name = names.get(id(obj))
            return obj.__reduce_ex__(5) if name is None else (_persistent, (name,))

        table: dict[type, Any] = {**copyreg.dispatch_table, MappingProxyType: _mappingproxy}
        for obj in persistent.values():
            table[type(obj)] = reduce
        self.dispatch_table = table


class _Unpickler(pickle.Unpickler):
    def __init__(self, file: io.BytesIO, persistent: dict[str, object]) -> None:
        super().__init__(file)
        self._objects = persistent

    def find_class(self, module: str, name: str) -> Any:
        if module == __name__ and name == "_persistent":
            return self._resolve
        return super().find_class(module, name)

    def _resolve(self, name: str) -> object:
        try:
            return self._objects[name]
        except KeyError:
            raise pickle.UnpicklingError(f"unknown persistent reference {name!r}") from None


def persistent_objects(
    plane: Any, clock: JournalClock, scheduler: JournalScheduler, publisher: object, issuer: object
) -> dict[str, object]:
    """The objects pickled by reference (see the module docstring), by name."""
    options = plane.options
    objects: dict[str, object] = {
        "clock": clock,
        "scheduler": scheduler,
        "publisher": publisher,
        "issuer": issuer,
        "options": options,
    }
    for field in ("scope", "shadows", "jobs", "index", "security"):
        objects[f"options.{field}"] = getattr(options, field)
    return objects


def dumps(plane: Any, scheduler: JournalScheduler, persistent: dict[str, object]) -> bytes:
    """The snapshot file's bytes for ``plane`` and ``scheduler``'s pending timers."""
    body = io.BytesIO()
    start = len(MAGIC) + _HEADER.size
    body.write(bytes(start))
    timers = sorted(scheduler.pending.values(), key=lambda timer: timer.number)
    _Pickler(body, persistent).dump((plane, scheduler.next_number, timers))
    view = body.getbuffer()
    view[: len(MAGIC)] = MAGIC
    _HEADER.pack_into(view, len(MAGIC), len(view) - start, zlib.crc32(view[start:]))
    del view
    return body.getvalue()


def write(path: Path, build: Callable[[], bytes]) -> None:
    """Write ``build()`` to ``path``'s temporary name and sync it (renaming is the caller's).

    The temporary file exists while ``build`` runs: a snapshot in progress can be seen."""
    fd = os.open(_tmp(path), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        view = memoryview(build())
        while view:
            view = view[os.write(fd, view) :]
        os.fsync(fd)
    finally:
        os.close(fd)


def _tmp(path: Path) -> Path:
    return path.with_name(path.name + ".tmp")


def read_snapshot(
    path: Path, plane_objects: dict[str, object], scheduler: JournalScheduler
) -> Loaded:
    """Load the snapshot at ``path``, binding its references to ``plane_objects`` and its
    timers to ``scheduler``. Raises :class:`SnapshotCorrupt`."""
    data = path.read_bytes()
    start = len(MAGIC) + _HEADER.size
    if not data.startswith(MAGIC):
        kind = "format " + repr(data[6:8]) if data[:6] == MAGIC[:6] else "not a fleetsim snapshot"
        raise SnapshotCorrupt(f"{path}: {kind}")
    length, crc = _HEADER.unpack_from(data, len(MAGIC))
    payload = memoryview(data)[start:]
    if len(payload) != length or zlib.crc32(payload) != crc:
        raise SnapshotCorrupt(f"{path}: damaged (checksum or length mismatch)")
    try:
        plane, next_number, timers = _Unpickler(io.BytesIO(payload), plane_objects).load()
    except Exception as exc:  # any unpickling failure: one line
        raise SnapshotCorrupt(f"{path}: unreadable ({exc})"[:300]) from None
    scheduler.next_number = next_number
    scheduler.pending = {timer.number: timer for timer in timers}
    return Loaded(plane, len(timers))


def fork_snapshot(path: Path, build: Callable[[], bytes]) -> int:
    """Fork a child that writes ``build()`` to ``path``'s temporary name, synced, and exits
    0 (1 on failure). Returns the child's pid."""
    parent = os.getpid()
    pid = os.fork()
    if pid:
        return pid
    status = 1
    try:  # the child: nothing here may touch the parent's loop, sockets or journal
        gc.disable()  # the collector would touch (and so copy) every page of the state
        signal.set_wakeup_fd(-1)  # the loop's signal pipe is the parent's
        for signum in (signal.SIGINT, signal.SIGTERM):
            signal.signal(signum, signal.SIG_DFL)
        with contextlib.suppress(OSError, AttributeError):
            ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signal.SIGKILL)  # die with the server
        if os.getppid() == parent:
            # The server's sockets, journal and lock stay the server's alone: a connection it
            # closes must not linger open here.
            os.closerange(3, resource.getrlimit(resource.RLIMIT_NOFILE)[0])
            write(path, build)
            status = 0
    except BaseException as exc:  # one line on the server's stderr, then exit 1
        with contextlib.suppress(OSError):
            os.write(2, f"fleetsim serve: WARNING snapshot failed: {exc!r}\n"[:500].encode())
    finally:
        os._exit(status)


def install(path: Path) -> None:
    """Rename the synced temporary snapshot into place (syncing the directory is the
    caller's)."""
    _tmp(path).replace(path)


def discard(path: Path) -> None:
    """Remove what a failed or abandoned snapshot left."""
    with contextlib.suppress(OSError):
        _tmp(path).unlink()
