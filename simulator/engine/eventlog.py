"""The event log of a run: every message each way, in order, on the run's clock.

One JSON object per line in ``DIR/events.jsonl.gz``::

    {"t":61.734,"dir":"up","topic":"$aws/things/device-000042/jobs/start-next","crc":2290392510}

``t`` is seconds since the run started; ``dir`` is ``up`` (logged as a device's message reaches
the cloud) or ``down`` (logged as the cloud sends to a device); ``crc`` is the CRC-32 of the
payload. Two runs of a scenario with the same seed write the
same log; comparing logs (``zcmp``) shows where two runs first diverge.
"""

from __future__ import annotations

import gzip
import zlib
from pathlib import Path
from typing import Final

__all__ = ["EventLog"]

_FLUSH: Final = 65536


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

    def flush(self) -> None:
        if self._buffer:
            self.count += len(self._buffer)
            self._file.write("".join(self._buffer).encode())
            self._buffer.clear()

    def close(self) -> None:
        self.flush()
        self._file.close()
