"""``fleetsim serve --state-dir DIR``: the directory, its checks, restore, and going live.

The directory holds::

    meta.json        format, the settings replay depends on, the control plane's creation time
    ca.pem/.key      the CA that signs CreateKeysAndCertificate's certificates (without --ca-dir)
    snapshot.<g>     the whole state at the start of journal generation g (:mod:`.snapshot`)
    journal[.<g>].log  every recorded call and timer firing since (:mod:`.log`, :mod:`.journal`)
    lock             flock-ed while a server uses the directory

Restore loads the newest snapshot and replays the journals from its generation on; the live
journal is compacted into a new snapshot as it grows (:mod:`.compaction`).

:meth:`StateDir.open` checks all of it before anything listens; every problem is one
:class:`StateError` line (``fleetsim serve`` exits 2). A torn last record is dropped with a
warning. Region, account and ``--rollout-rate`` must be those the directory was created with:
replay depends on them.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import fcntl
import gc
import json
import os
import pickle
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any, Final

from simulator.api.durable import compaction, snapshot
from simulator.api.durable.commit import GroupCommitWriter
from simulator.api.durable.journal import (
    DeferringPublisher,
    JournalClock,
    JournaledPlane,
    JournalScheduler,
    RecordingIssuer,
    Replayer,
    ReplayMismatch,
)
from simulator.api.durable.log import MAGIC, JournalCorrupt, scan
from simulator.services.registry.ca import LocalCA
from simulator.services.runtime import NullPublisher, Publisher, Runtime

__all__ = ["Restored", "Settings", "StateDir", "StateError"]

FORMAT: Final = 1
_META: Final = "meta.json"
#: The live journal is compacted once it holds this many bytes (``--compact-journal-mb``).
COMPACT_BYTES: Final = 64 << 20


class StateError(Exception):
    """The state directory cannot be used; the message is one line."""


@dataclass(frozen=True, slots=True)
class Settings:
    """What replay depends on: a directory is only reopened with the same values."""

    region: str
    account: str
    rollout_per_minute: int | None

    def as_json(self) -> dict[str, Any]:
        return {
            "region": self.region,
            "account": self.account,
            "rollout_per_minute": self.rollout_per_minute,
        }


@dataclass(frozen=True, slots=True)
class Restored:
    """What :meth:`StateDir.restore` loaded and replayed."""

    #: The control plane to serve: the one given to restore, or the one of the snapshot.
    plane: Any
    records: int
    seconds: float
    #: The generation of the snapshot loaded (0: none).
    snapshot: int = 0


def _fsync_dir(directory: Path) -> None:
    fd = os.open(directory, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _write_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    tmp = path.with_name(path.name + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    tmp.replace(path)
    _fsync_dir(path.parent)


class StateDir:
    """An opened (locked, checked) state directory; see the module docstring.

    Use: :meth:`open`; build the control plane on :meth:`runtime` and :attr:`issuer`;
    :meth:`restore`; then, inside the loop, :meth:`go_live`, and :meth:`close` at shutdown.
    """

    def __init__(
        self,
        directory: Path,
        lock_fd: int,
        *,
        created: float,
        ca: LocalCA,
        layout: compaction.Layout,
        wall: Callable[[], float],
        compact_bytes: int,
    ) -> None:
        self.directory = directory
        self._lock_fd = lock_fd
        self.created = created
        self._layout = layout
        self._compact_bytes = compact_bytes
        self._journal_size = 0
        self._warn: Callable[[str], None] = lambda _: None
        self.compactor: compaction.Compactor | None = None
        self.clock = JournalClock(created)
        self.scheduler = JournalScheduler(self.clock, wall)
        self.issuer = RecordingIssuer(ca)
        self.publisher: DeferringPublisher | None = None
        self.writer: GroupCommitWriter | None = None
        self._fd = -1

    # -- opening ---------------------------------------------------------------------------

    @classmethod
    def open(
        cls,
        directory: Path,
        settings: Settings,
        *,
        ca: LocalCA | None,
        wall: Callable[[], float] = time.time,
        compact_bytes: int = COMPACT_BYTES,
    ) -> StateDir:
        """Lock and check ``directory`` (created when missing). Raises :class:`StateError`.

        ``wall`` is the real clock calls and timer firings are stamped with (tests inject one);
        the live journal is compacted once it holds ``compact_bytes``.
        """
        try:
            return cls._open(directory, settings, ca, wall, compact_bytes)
        except OSError as exc:
            where = exc.filename or directory
            raise StateError(f"--state-dir {directory}: {where}: {exc.strerror}") from None

    @classmethod
    def _open(
        cls,
        directory: Path,
        settings: Settings,
        ca: LocalCA | None,
        wall: Callable[[], float],
        compact_bytes: int,
    ) -> StateDir:
        if directory.exists() and not directory.is_dir():
            raise StateError(f"--state-dir {directory}: not a directory")
        directory.mkdir(parents=True, exist_ok=True)
        lock_fd = os.open(directory / "lock", os.O_WRONLY | os.O_CREAT, 0o644)
        try:
            try:
                fcntl.flock(lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise StateError(
                    f"--state-dir {directory}: in use by another fleetsim serve"
                ) from None
            created = cls._meta(directory, settings, wall())
            if ca is None:
                ca = cls._local_ca(directory)
            try:
                layout = compaction.layout(directory)
            except ValueError as exc:
                raise StateError(f"--state-dir {directory}: {exc}") from None
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(
            directory,
            lock_fd,
            created=created,
            ca=ca,
            layout=layout,
            wall=wall,
            compact_bytes=compact_bytes,
        )

    @staticmethod
    def _meta(directory: Path, settings: Settings, now: float) -> float:
        path = directory / _META
        if not path.exists():
            others = {p.name for p in directory.iterdir()} - {"lock", f"{_META}.tmp"}
            if others:
                raise StateError(
                    f"--state-dir {directory}: not a fleetsim state directory (no {_META}, "
                    f"but {len(others)} other entries)"
                )
            created = now
            meta = {"format": FORMAT, "created": created, **settings.as_json()}
            _write_atomic(path, json.dumps(meta, indent=2).encode() + b"\n")
            return created
        try:
            meta = json.loads(path.read_bytes())
            version = meta["format"]
            created = float(meta["created"])
            stored = {key: meta[key] for key in settings.as_json()}
        except (ValueError, KeyError, TypeError):
            raise StateError(f"--state-dir {directory}: {_META} is unreadable") from None
        if version != FORMAT:
            raise StateError(
                f"--state-dir {directory}: state format {version!r}, this fleetsim reads "
                f"format {FORMAT}"
            )
        for key, value in settings.as_json().items():
            if stored[key] != value:
                raise StateError(
                    f"--state-dir {directory}: created with {key} {stored[key]!r}, not "
                    f"{value!r}; restart with the same setting"
                )
        return created

    @staticmethod
    def _local_ca(directory: Path) -> LocalCA:
        cert_path, key_path = directory / "ca.pem", directory / "ca.key"
        if cert_path.exists() or key_path.exists():
            try:
                return LocalCA.from_pem(cert_path.read_bytes(), key_path.read_bytes())
            except ValueError as exc:
                raise StateError(f"--state-dir {directory}: ca.pem/ca.key: {exc}") from None
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

        from simulator.core.x509ca import build_ca  # noqa: PLC0415 - cryptography on demand

        cert, key = build_ca("fleetsim emulator CA", datetime.datetime.now(datetime.UTC))
        key_pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        _write_atomic(key_path, key_pem, 0o600)
        _write_atomic(cert_path, cert.public_bytes(serialization.Encoding.PEM))
        return LocalCA(cert, key)

    # -- building and restoring ------------------------------------------------------------

    def runtime(self, publisher: Publisher | None) -> Runtime:
        """The runtime of the control plane to restore: journal clock, scheduler, publisher."""
        self.publisher = DeferringPublisher(
            publisher if publisher is not None else NullPublisher(), self.scheduler.depth
        )
        return Runtime(clock=self.clock, scheduler=self.scheduler, publisher=self.publisher)

    def restore(self, plane: Any, *, warn: Callable[[str], None]) -> Restored:
        """Load the newest snapshot (into a new control plane bound to ``plane``'s options) or
        keep ``plane`` (fresh, built on :meth:`runtime` and :attr:`issuer`), and replay the
        journals since; drop a torn tail with a ``warn``-ing. Raises :class:`StateError`."""
        started = time.perf_counter()
        self._warn = warn
        layout = self._layout
        # Replay only allocates: the cyclic collector's passes over a heap growing by 100,000s
        # of records cost ~15% of a restore (5.7 s -> 4.9 s for 300k records, measured); collect
        # once at the end instead, and freeze the restored state so later collections skip it.
        gc.disable()
        try:
            if layout.base:
                plane = self._load(plane, layout.base)
            records = self._replay(plane, layout.journals)
        finally:
            gc.enable()
        gc.collect()
        gc.freeze()
        try:
            compaction.remove(layout.stale)
        except OSError as exc:
            where = f"{exc.filename}: {exc.strerror}"
            raise StateError(f"--state-dir {self.directory}: {where}") from None
        return Restored(plane, records, time.perf_counter() - started, layout.base)

    def _load(self, plane: Any, generation: int) -> Any:
        assert self.publisher is not None, "runtime() first"
        path = compaction.snapshot_path(self.directory, generation)
        objects = snapshot.persistent_objects(
            plane, self.clock, self.scheduler, self.publisher, self.issuer
        )
        try:
            return snapshot.read_snapshot(path, objects, self.scheduler).plane
        except snapshot.SnapshotCorrupt as exc:
            raise StateError(f"--state-dir: {exc}") from None
        except OSError as exc:
            raise StateError(f"--state-dir: {path}: {exc.strerror}") from None

    def _replay(self, plane: Any, generations: list[int]) -> int:
        replayer = Replayer(plane, self.clock, self.scheduler, self.issuer)
        apply = replayer.apply
        loads = pickle.loads
        records = 0
        for position, generation in enumerate(generations):
            path = compaction.journal_path(self.directory, generation)
            try:
                found = scan(path.read_bytes() if path.exists() else b"", name=str(path))
            except JournalCorrupt as exc:
                raise StateError(f"--state-dir: {exc}") from None
            except OSError as exc:
                raise StateError(f"--state-dir: {path}: {exc.strerror}") from None
            try:
                for index, payload in enumerate(found.payloads):
                    try:
                        record = loads(payload)
                    except Exception as exc:  # any unpickling failure: one line
                        raise StateError(
                            f"--state-dir: {path}: record {index} is unreadable ({exc})"[:300]
                        ) from None
                    apply(record)
            except ReplayMismatch as exc:
                raise StateError(f"--state-dir: {path}: {exc}") from None
            records += len(found.payloads)
            last = position == len(generations) - 1
            if found.torn and not last:
                # Only what was never synced can be torn, and a later file is written only
                # after this one is synced: records after a torn tail are damage.
                later = generations[position + 1 :]
                if any(self._has_records(g) for g in later):
                    raise StateError(
                        f"--state-dir: {path}: damaged at byte {found.end} with later journals"
                    )
            if found.torn or last or found.end == 0:
                fd = self._prepare_journal(path, found.end, found.torn, self._warn)
                if last:
                    self._fd = fd
                    self._journal_size = max(found.end, len(MAGIC))
                else:
                    os.close(fd)
        return records

    def _has_records(self, generation: int) -> bool:
        path = compaction.journal_path(self.directory, generation)
        try:
            return path.stat().st_size > len(MAGIC)
        except FileNotFoundError:
            return False

    def _prepare_journal(self, path: Path, end: int, torn: int, warn: Callable[[str], None]) -> int:
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_APPEND, 0o644)
            if torn:
                warn(
                    f"{path}: dropped a torn last record ({torn} bytes after byte {end}): "
                    "a write that was never acknowledged"
                )
                os.ftruncate(fd, end)
                os.fsync(fd)
            if end == 0:
                os.ftruncate(fd, 0)
                os.write(fd, MAGIC)
                os.fsync(fd)
                _fsync_dir(path.parent)
        except OSError as exc:
            raise StateError(f"--state-dir: {path}: {exc.strerror}") from None
        return fd

    # -- live ------------------------------------------------------------------------------

    def go_live(self, plane: Any) -> JournaledPlane:
        """Start recording (inside the running loop): the control plane the APIs must use
        (``plane`` is :attr:`Restored.plane`)."""
        assert self.publisher is not None, "runtime() first"
        generation = self._layout.journals[-1]
        path = compaction.journal_path(self.directory, generation)
        writer = GroupCommitWriter(self._fd, path, on_fatal=self._fatal)
        self.writer = writer
        self.scheduler.go_live(asyncio.get_running_loop(), writer.append, self.publisher.arm)
        self.publisher.go_live(writer)
        objects = snapshot.persistent_objects(
            plane, self.clock, self.scheduler, self.publisher, self.issuer
        )
        self.compactor = compaction.Compactor(
            self.directory,
            writer,
            self._fd,
            generation=generation,
            journal_bytes=self._journal_size,
            threshold=self._compact_bytes,
            build=partial(snapshot.dumps, plane, self.scheduler, objects),
            warn=self._warn,
        )
        return JournaledPlane(
            plane,
            clock=self.clock,
            scheduler=self.scheduler,
            issuer=self.issuer,
            publisher=self.publisher,
            record=writer.append,
        )

    def _fatal(self, exc: OSError) -> None:
        # Nothing more can be acknowledged: stop at once rather than answer without durability.
        print(
            f"fleetsim serve: ERROR cannot write the journal in {self.directory}: {exc.strerror}; "
            "exiting (every acknowledged write is on disk)",
            file=sys.stderr,
            flush=True,
        )
        os._exit(1)

    async def close(self, *, compact: bool = True) -> None:
        """Flush what is appended, snapshot the state if the journal is long (``compact``),
        and release the directory."""
        self.scheduler.stop()
        if self.writer is not None:
            await self.writer.drain()
        if self.compactor is not None:
            try:
                await self.compactor.close(final=compact)
            except OSError as exc:  # the journals are intact: the next start replays them
                self._warn(f"no snapshot at shutdown: {exc.strerror}")
            self._fd = self.compactor.fd
        if self.writer is not None:
            self.writer.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)
