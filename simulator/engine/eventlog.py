"""The event log of a run: every message each way, and the ``$package`` history, in order.

One JSON object per line in ``DIR/events.jsonl.gz``, ``t`` seconds since the run started (run
clock, millisecond precision); lines are in the order things happened. A message line::

    {"t":61.734,"dir":"up","topic":"$aws/things/device-000042/jobs/start-next","crc":2290392510}

``dir`` is ``up`` (logged as a device's message reaches the cloud) or ``down`` (logged as the
cloud sends to a device); ``crc`` is the CRC-32 of the payload. The history lines (written by
:mod:`simulator.engine.history`, read by :mod:`simulator.lab.history`) have a kind ``k``
instead; ``dev`` is the thing, ``pkg`` maps each catalog package to the version ``$package``
names (``null``: an entry without a version):

==========  ===================================================================================
``k``       fields
==========  ===================================================================================
``init``    the device as the run starts: ``inv`` (package -> version it runs), ``v`` (its
            ``$package`` version, 0 without one) and ``pkg``
``read``    a ``$package`` read (GetThingShadow): ``by`` (the writer's name), ``v`` (the
            version read, ``null`` when there was no ``$package``) and ``pkg``
``write``   a ``$package`` write: ``by`` (``jobs``, ``device``, a writer's name), ``pre`` (the
            ``version`` precondition sent, ``null`` without one), ``set`` (the entries written,
            package -> version, ``null`` for a ``$null`` removal), ``ans`` (``accepted``,
            ``409`` or ``rejected``), ``read`` (a writer's read-modify-write: the version it
            read; absent otherwise), and when accepted ``v`` (the version written) and ``pkg``
            (``$package`` after the write)
``delete``  ``$package`` was deleted (DeleteThingShadow, the thing deleted)
``inv``     the device's inventory changed: ``op`` (``install``, ``uninstall`` or ``rollback``:
            back to the version that ran before a failed boot), ``pkg`` (the package) and
            ``ver`` (the version it runs now, ``null`` when it no longer has it)
``exec``    an execution's status changed: ``job``, ``n`` (execution number), ``from``
            (``null`` for a new QUEUED execution), ``to`` and ``by`` (``jobs`` for a new
            execution, else the actor: ``device``, ``timeout``, ``cancel``, ``force-cancel``,
            ``remove``, ``abort``)
==========  ===================================================================================

Two runs of a scenario with the same seed write the same log; comparing logs (``zcmp``) shows
where two runs first diverge.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Any, Final

import orjson

__all__ = ["EventLog"]

#: Lines buffered before they are compressed: a small buffer stays in the CPU's cache (65,536
#: lines, ~10 MB, cost the run twice as much CPU time as this on a 100k-device quickstart).
_FLUSH: Final = 2048


class EventLog:
    """Buffers lines and writes them gzip-compressed (level 1: the log must not slow the run)."""

    __slots__ = ("_buffer", "_file", "_start", "count", "path")

    def __init__(self, path: Path, start: float) -> None:
        self.path = path
        self._start = start
        self._file = gzip.GzipFile(path, "wb", compresslevel=1)
        self._buffer: list[str] = []
        self.count = 0

    def message(self, now: float, direction: str, topic: str, payload: bytes) -> None:
        self._buffer.append(
            f'{{"t":{now - self._start:.3f},"dir":"{direction}","topic":"{topic}",'
            f'"crc":{zlib.crc32(payload)}}}\n'
        )
        if len(self._buffer) >= _FLUSH:
            self.flush()

    def record(self, now: float, kind: str, device: str, fields: dict[str, Any]) -> None:
        """One history line: ``{"t", "k": kind, "dev": device, **fields}``."""
        # Thing names are [a-zA-Z0-9:_-]+ (checked by the registry): nothing to escape.
        rest = orjson.dumps(fields).decode()[1:] if fields else "}"
        self._buffer.append(
            f'{{"t":{now - self._start:.3f},"k":"{kind}","dev":"{device}"'
            f"{',' if fields else ''}{rest}\n"
        )
        if len(self._buffer) >= _FLUSH:
            self.flush()

    def record_members(self, now: float, kind: str, device: str, members: str) -> None:
        """:meth:`record` with the fields already written as JSON members (``"a":1,"b":2``),
        for the most frequent records: a string format instead of a dict and its encoding."""
        self._buffer.append(
            f'{{"t":{now - self._start:.3f},"k":"{kind}","dev":"{device}",{members}}}\n'
        )
        if len(self._buffer) >= _FLUSH:
            self.flush()

    def flush(self) -> None:
        if self._buffer:
            self.count += len(self._buffer)
            self._file.write("".join(self._buffer).encode())
            self._buffer.clear()

    def close(self) -> None:
        self.flush()
        self._file.close()
