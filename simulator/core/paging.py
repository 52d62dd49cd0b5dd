"""Opaque ``nextToken`` pagination, shared by every List* operation.

Two kinds. :func:`page` slices a sequence built for the call, its token an offset: fine for
the small collections (policies, templates, jobs). Large ones (things, group members, a job's
executions, SearchIndex) keep an :class:`OrderLog` beside their mapping, and their tokens
(:func:`encode_token`) hold the sequence number of the next entry: a call costs O(page), and
what is added or removed between two calls neither repeats nor skips a key present throughout.
"""

from __future__ import annotations

import base64
import binascii
import bisect
import json
from array import array
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Final, Generic, TypeVar

from simulator.core.errors import AwsError, InvalidRequestException

__all__ = [
    "SCAN_BUDGET",
    "OrderLog",
    "decode_token",
    "encode_token",
    "key_page",
    "page",
    "page_size",
    "window",
]

T = TypeVar("T")
K = TypeVar("K")


def _encode(offset: int) -> str:
    return base64.urlsafe_b64encode(f"o:{offset}".encode()).decode()


def _decode(token: str, error: type[AwsError]) -> int:
    try:
        text = base64.urlsafe_b64decode(token.encode()).decode()
        if not text.startswith("o:"):
            raise ValueError(token)
        offset = int(text[2:])
    except (ValueError, binascii.Error, UnicodeError):
        raise error("Invalid nextToken") from None
    if offset < 0:
        raise error("Invalid nextToken")
    return offset


def page(
    items: Sequence[T],
    max_results: int | None,
    next_token: str | None,
    *,
    limit: int,
    error: type[AwsError] = InvalidRequestException,
) -> tuple[Sequence[T], str | None]:
    """Return one page of ``items`` and the token of the next page (``None`` on the last).

    Args:
        items: the whole result, already in its stable order.
        max_results: the caller's page size; ``None`` means ``limit``.
        next_token: a token from an earlier call, or ``None`` for the first page.
        limit: the operation's largest page size (values above it are refused).
        error: the error family of the calling service.
    """
    start, end = window(max_results, next_token, limit=limit, error=error)
    return items[start:end], (_encode(end) if end < len(items) else None)


def window(
    max_results: int | None,
    next_token: str | None,
    *,
    limit: int,
    error: type[AwsError] = InvalidRequestException,
) -> tuple[int, int]:
    """The ``[start, end)`` offsets :func:`page` would slice, checked as :func:`page` checks them.

    A caller that produces its items one by one (SearchIndex) stops after ``end + 1``: that many
    items page exactly as the whole sequence would.
    """
    size = page_size(max_results, limit=limit, error=error)
    start = 0 if next_token is None else _decode(next_token, error)
    return start, start + size


# -- key tokens and the order log: paging that costs O(page) per call ------------------------

#: Entries a key-token walk looks at per call at most, when a filter rejects most of them (or
#: removed entries lie in the way): the page then holds fewer items than asked, possibly none,
#: with a ``nextToken`` to go on. AWS documents that a page may be short; how short and after
#: how much work is unverified (inf), so callers take it as an option.
SCAN_BUDGET: Final = 10_000

_TOKEN_PREFIX: Final = "k1"
_MAX_TOKEN: Final = 1024  # ours are < 200 characters (a job id is at most 64)


def page_size(
    max_results: int | None, *, limit: int, error: type[AwsError] = InvalidRequestException
) -> int:
    """The page size asked for (``None``: ``limit``), checked as :func:`page` checks it."""
    size = limit if max_results is None else max_results
    if not 1 <= size <= limit:
        raise error(f"maxResults must be between 1 and {limit}")
    return size


def encode_token(kind: str, /, *parts: int | str) -> str:
    """An opaque ``nextToken``: ``kind`` (the operation's) and the position after the page."""
    text = json.dumps([_TOKEN_PREFIX, kind, *parts], separators=(",", ":"))
    return base64.urlsafe_b64encode(text.encode()).decode()


def decode_token(
    token: str,
    kind: str,
    shape: tuple[type[int] | type[str], ...],
    *,
    error: type[AwsError] = InvalidRequestException,
) -> tuple[Any, ...]:
    """The parts of a token :func:`encode_token` made for ``kind``, typed as ``shape``.

    Raises:
        error: "Invalid nextToken" for anything else (another operation's token included).
    """
    if len(token) > _MAX_TOKEN:
        raise error("Invalid nextToken")
    try:
        parts = json.loads(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, binascii.Error, UnicodeError, RecursionError):
        raise error("Invalid nextToken") from None
    if (
        not isinstance(parts, list)
        or len(parts) != len(shape) + 2
        or parts[:2] != [_TOKEN_PREFIX, kind]
        or not all(type(p) is t for p, t in zip(parts[2:], shape, strict=True))
        or any(type(p) is int and p < 0 for p in parts[2:])
    ):
        raise error("Invalid nextToken")
    return tuple(parts[2:])


class OrderLog(Generic[K]):
    """The keys of a mapping in insertion order, each with a sequence number fixed at insertion.

    Python dicts keep insertion order but cannot be entered in the middle; this log can: a
    ``nextToken`` holds the sequence number to resume from, found by bisection (O(log n)), so a
    page costs what its own entries cost, however far into the collection it is. Unlike an
    offset, a sequence number does not move when earlier keys go: a key present throughout a
    walk is listed exactly once, whatever is added or removed between pages (a key removed and
    added again is a new entry at the end).

    Removal is lazy: :meth:`remove` marks the key's entry dead and the walk skips it; once dead
    entries outnumber the live ones the log is rebuilt without them (amortised O(1) per
    removal; sequence numbers are kept, so tokens stay valid). Memory: one list slot per key
    while nothing was removed (the sequence number is then the index), plus 8 bytes per key
    after the first rebuild. Do not change the log while iterating :meth:`entries`.
    """

    __slots__ = ("_dead", "_keys", "_moved", "_next", "_seqs", "visited")

    def __init__(self) -> None:
        self._keys: list[K] = []
        #: Sequence number of each entry; ``None`` while it is the entry's index.
        self._seqs: array[int] | None = None
        self._next = 0
        #: Keys removed since the last rebuild -> sequence number of their live entry (-1: none).
        self._moved: dict[K, int] = {}
        self._dead = 0
        #: Entries looked at by :meth:`entries` so far (a test's measure of a page's cost).
        self.visited = 0

    def __len__(self) -> int:
        return len(self._keys) - self._dead

    @property
    def next_seq(self) -> int:
        """The sequence number the next added key will get (a bound for a snapshot)."""
        return self._next

    def add(self, key: K) -> None:
        """Append ``key`` (not in the log, or removed since)."""
        seq = self._next
        self._next = seq + 1
        self._keys.append(key)
        if self._seqs is not None:
            self._seqs.append(seq)
        if key in self._moved:
            self._moved[key] = seq

    def remove(self, key: K) -> None:
        """Forget ``key`` (in the log)."""
        self._moved[key] = -1
        self._dead += 1
        if self._dead > 32 and 2 * self._dead > len(self._keys):
            self._rebuild()

    def entries(self, start: int = 0, stop: int | None = None) -> Iterator[tuple[int, K]]:
        """``(seq, key)`` of the live entries with ``start <= seq < stop``, in order."""
        keys, seqs, moved = self._keys, self._seqs, self._moved
        i = max(start, 0) if seqs is None else bisect.bisect_left(seqs, start)
        end = len(keys)
        if stop is not None:
            end = min(end, stop) if seqs is None else bisect.bisect_left(seqs, stop)
        while i < end:
            key = keys[i]
            seq = i if seqs is None else seqs[i]
            i += 1
            self.visited += 1
            if not moved or moved.get(key, seq) == seq:
                yield seq, key

    def _rebuild(self) -> None:
        keys, moved = self._keys, self._moved
        seqs = range(len(keys)) if self._seqs is None else self._seqs
        kept = [(s, k) for s, k in zip(seqs, keys, strict=True) if moved.get(k, s) == s]
        self._keys = [k for _, k in kept]
        self._seqs = array("q", (s for s, _ in kept))
        self._moved = {}
        self._dead = 0


def key_page(
    log: OrderLog[K],
    kind: str,
    next_token: str | None,
    size: int,
    accept: Callable[[K], T | None],
    *,
    budget: int = SCAN_BUDGET,
    error: type[AwsError] = InvalidRequestException,
) -> tuple[list[T], str | None]:
    """One page of a log's keys, one item per key, its token the next sequence number.

    Args:
        log: the collection's order.
        kind: the operation's token kind (a token of another kind is invalid).
        next_token: from the previous page, or ``None``.
        size: the page size (checked by :func:`page_size`).
        accept: the key's item, or ``None`` when a filter rejects it.
        budget: keys looked at per call at most: past it, the page ends short with a token.
        error: the error family of the calling service.
    """
    start = 0 if next_token is None else decode_token(next_token, kind, (int,), error=error)[0]
    items: list[T] = []
    for seq, key in log.entries(start):
        item = accept(key)
        if item is not None:
            if len(items) == size:  # one more exists: resume at it
                return items, encode_token(kind, seq)
            items.append(item)
        budget -= 1
        if budget <= 0:  # (no token when that was the last entry)
            return items, encode_token(kind, seq + 1) if seq + 1 < log.next_seq else None
    return items, None
