"""``fleetsim serve --state-dir DIR``: the directory, its checks, restore, and going live.

The directory holds::

    meta.json     format, the settings replay depends on, the control plane's creation time
    ca.pem/.key   the CA that signs CreateKeysAndCertificate's certificates (without --ca-dir)
    journal.log   every recorded call and timer firing (:mod:`.log`, :mod:`.journal`)
    lock          flock-ed while a server uses the directory

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
from pathlib import Path
from typing import Any, Final

from simulator.api.durable.journal import (
    DeferringPublisher,
    JournalClock,
    JournaledPlane,
    JournalScheduler,
    RecordingIssuer,
    Replayer,
    ReplayMismatch,
)
from simulator.api.durable.log import MAGIC, GroupCommitWriter, JournalCorrupt, scan
from simulator.services.registry.ca import LocalCA
from simulator.services.runtime import NullPublisher, Publisher, Runtime

__all__ = ["Restored", "Settings", "StateDir", "StateError"]

FORMAT: Final = 1
_META: Final = "meta.json"
_JOURNAL: Final = "journal.log"


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
    """What :meth:`StateDir.restore` replayed."""

    records: int
    seconds: float


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
        journal: bytes,
        wall: Callable[[], float],
    ) -> None:
        self.directory = directory
        self._lock_fd = lock_fd
        self.created = created
        self._journal_bytes: bytes | None = journal
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
    ) -> StateDir:
        """Lock and check ``directory`` (created when missing). Raises :class:`StateError`.

        ``wall`` is the real clock calls and timer firings are stamped with (tests inject one).
        """
        try:
            return cls._open(directory, settings, ca, wall)
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
            journal = cls._journal(directory)
        except BaseException:
            os.close(lock_fd)
            raise
        return cls(directory, lock_fd, created=created, ca=ca, journal=journal, wall=wall)

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

    @staticmethod
    def _journal(directory: Path) -> bytes:
        path = directory / _JOURNAL
        if not path.exists():
            return b""
        return path.read_bytes()

    # -- building and restoring ------------------------------------------------------------

    def runtime(self, publisher: Publisher | None) -> Runtime:
        """The runtime of the control plane to restore: journal clock, scheduler, publisher."""
        self.publisher = DeferringPublisher(
            publisher if publisher is not None else NullPublisher(), self.scheduler.depth
        )
        return Runtime(clock=self.clock, scheduler=self.scheduler, publisher=self.publisher)

    def restore(self, plane: Any, *, warn: Callable[[str], None]) -> Restored:
        """Replay the journal onto ``plane`` (fresh, built on :meth:`runtime` and
        :attr:`issuer`); drop a torn tail with a ``warn``-ing. Raises :class:`StateError`."""
        started = time.perf_counter()
        data = self._journal_bytes or b""
        self._journal_bytes = None
        path = self.directory / _JOURNAL
        try:
            found = scan(data, name=str(path))
        except JournalCorrupt as exc:
            raise StateError(f"--state-dir: {exc}") from None
        replayer = Replayer(plane, self.clock, self.scheduler, self.issuer)
        apply = replayer.apply
        loads = pickle.loads
        # Replay only allocates: the cyclic collector's passes over a heap growing by 100,000s
        # of records cost ~15% of a restore (5.7 s -> 4.9 s for 300k records, measured); collect
        # once at the end instead, and freeze the restored state so later collections skip it.
        gc.disable()
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
        finally:
            gc.enable()
        gc.collect()
        gc.freeze()
        self._prepare_journal(path, found.end, found.torn, warn)
        return Restored(len(found.payloads), time.perf_counter() - started)

    def _prepare_journal(
        self, path: Path, end: int, torn: int, warn: Callable[[str], None]
    ) -> None:
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
        self._fd = fd

    # -- live ------------------------------------------------------------------------------

    def go_live(self, plane: Any) -> JournaledPlane:
        """Start recording (inside the running loop): the control plane the APIs must use."""
        assert self.publisher is not None, "runtime() first"
        writer = GroupCommitWriter(self._fd, on_fatal=self._fatal)
        self.writer = writer
        self.scheduler.go_live(asyncio.get_running_loop(), writer.append, self.publisher.arm)
        self.publisher.go_live(writer)
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
            f"fleetsim serve: ERROR cannot write {self.directory / _JOURNAL}: {exc.strerror}; "
            "exiting (every acknowledged write is on disk)",
            file=sys.stderr,
            flush=True,
        )
        os._exit(1)

    async def close(self) -> None:
        """Flush what is appended, and release the directory."""
        if self.writer is not None:
            await self.writer.drain()
            self.writer.close()
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        with contextlib.suppress(OSError):
            os.close(self._lock_fd)
