"""Read the ``$package`` history out of a run's event log (``events.jsonl.gz``).

The history lines are written by :mod:`simulator.engine.history`; their kinds and fields are in
:mod:`simulator.engine.eventlog`. The log is streamed: :func:`device_history` decompresses it in
large blocks and looks for the device's ``"dev":"NAME"`` with ``bytes.find``, so only that
device's lines are parsed (a 100k-device quickstart log takes seconds, in constant memory);
:func:`records` parses every history line, for checkers that look at the whole fleet.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, Literal, cast, get_args

import orjson

from simulator.core.errors import UsageError

__all__ = [
    "EVENTS_FILE",
    "KINDS",
    "DeviceHistory",
    "Kind",
    "Op",
    "device_history",
    "events_path",
    "records",
]

Kind = Literal["init", "read", "write", "delete", "inv", "exec"]
#: Every history record kind, in the order a device's history usually shows them.
KINDS: Final[tuple[Kind, ...]] = get_args(Kind)
EVENTS_FILE: Final = "events.jsonl.gz"
_BLOCK: Final = 1 << 22  # 4 MiB of decompressed log at a time
_KIND_MARK: Final = b'"k":"'


@dataclass(frozen=True, slots=True)
class Op:
    """One operation of a device's history.

    Attributes:
        seq: position in the device's history (0 is its ``init``).
        t: seconds since the run started, on the run's clock.
        kind: the record kind (see :mod:`simulator.engine.eventlog`).
        actor: who did it: ``device``, ``jobs`` or a writer's name for reads and writes, the
            device for inventory changes, the execution's actor for transitions, ``run`` for
            ``init``.
        fields: the record's other fields, as logged.
    """

    seq: int
    t: float
    kind: Kind
    actor: str
    fields: Mapping[str, Any]

    def as_dict(self) -> dict[str, Any]:
        """The record as logged, with its ``seq`` (for ``--json``)."""
        return {"seq": self.seq, "t": self.t, "k": self.kind, "by": self.actor, **self.fields}


@dataclass(frozen=True, slots=True)
class DeviceHistory:
    """Every history record of one device, in order."""

    device: str
    ops: tuple[Op, ...]


def events_path(run_dir: Path) -> Path:
    """``RUN_DIR/events.jsonl.gz``, checked.

    Raises:
        UsageError: no such directory, or no event log in it.
    """
    if not run_dir.is_dir():
        raise UsageError(f"{run_dir}: no such run directory")
    path = run_dir / EVENTS_FILE
    if not path.is_file():
        raise UsageError(f"{run_dir} has no {EVENTS_FILE} (was the run made with --no-event-log?)")
    return path


def _op(seq: int, record: Any) -> Op:
    if not isinstance(record, dict) or record.get("k") not in KINDS:
        raise ValueError("not a history record")
    kind = cast(Kind, record.pop("k"))
    t = float(record.pop("t"))
    record.pop("dev", None)
    if kind == "init":
        actor = "run"
    elif kind == "inv":
        actor = "device"
    else:
        actor = str(record.pop("by", "?"))
    return Op(seq, t, kind, actor, record)


def _blocks(path: Path) -> Iterator[bytes]:
    """The decompressed log in blocks that end on a line boundary."""
    rest = b""
    try:
        with gzip.open(path, "rb") as file:
            while True:
                block = file.read(_BLOCK)
                if not block:
                    break
                block = rest + block
                cut = block.rfind(b"\n") + 1
                rest = block[cut:]
                if cut:
                    yield block[:cut]
    except (OSError, EOFError, zlib.error) as exc:
        raise UsageError(f"{path}: not a readable event log ({exc})") from None
    if rest:
        yield rest  # a last line without its newline (an interrupted run)


def device_history(path: Path, device: str) -> DeviceHistory:
    """The history of ``device`` in the log at ``path`` (empty when it has none).

    Raises:
        UsageError: the log cannot be read, or a line of the device's is not a history record.
    """
    needle = b'"dev":' + orjson.dumps(device) + b","
    ops: list[Op] = []
    for block in _blocks(path):
        at = block.find(needle)
        while at != -1:
            start = block.rfind(b"\n", 0, at) + 1
            end = block.find(b"\n", at)
            end = len(block) if end == -1 else end
            try:
                ops.append(_op(len(ops), orjson.loads(block[start:end])))
            except (ValueError, KeyError, TypeError):
                raise UsageError(f"{path}: a malformed history line for {device}") from None
            at = block.find(needle, end)
    return DeviceHistory(device, tuple(ops))


def records(path: Path) -> Iterator[tuple[str, Op]]:
    """Every history record of the log at ``path``, as (device, op), in order; messages are
    skipped. ``op.seq`` counts the device's records, as in :func:`device_history`.

    Raises:
        UsageError: the log cannot be read or has a malformed history line.
    """
    seqs: dict[str, int] = {}
    for block in _blocks(path):
        for line in block.splitlines():
            if _KIND_MARK not in line[:32]:
                continue  # a message line
            try:
                record = orjson.loads(line)
                device = str(record["dev"])
                seq = seqs.get(device, 0)
                op = _op(seq, record)
            except (ValueError, KeyError, TypeError):
                raise UsageError(f"{path}: a malformed history line") from None
            seqs[device] = seq + 1
            yield device, op
