"""Shared immutable values of the Jobs store: ``statusDetails`` maps and per-thing job-id sets.

A fleet's devices report the same few ``statusDetails`` maps and run the same few jobs, so one
copy of each distinct value serves every execution and thing that holds it (about 480 bytes
per device less than a fresh ``dict`` of each). Both tables are bounded and cleared when full:
forgetting only costs sharing, never correctness, because a shared value is never changed in
place (a new value replaces it).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Final, NoReturn

__all__ = ["DetailsTable", "FrozenDetails", "JobIdSets"]

#: Distinct values each table remembers before it starts over.
_TABLE_SIZE: Final = 4096


class FrozenDetails(dict[str, str]):
    """A ``statusDetails`` map that refuses changes, as it may be shared by many executions.

    A ``dict`` (orjson and ``dict(...)`` take it as one) whose mutators raise ``TypeError``.
    """

    __slots__ = ()

    def _refuse(self, *args: object, **kwargs: object) -> NoReturn:
        raise TypeError("statusDetails are shared and read-only: build a new map instead")

    __setitem__ = __delitem__ = __ior__ = _refuse
    clear = pop = popitem = setdefault = update = _refuse

    def __reduce__(self) -> tuple[Any, ...]:
        # copy/pickle rebuild it from a plain dict rather than item by item.
        return (FrozenDetails, (dict(self),))


_NO_DETAILS: Final = FrozenDetails()


class DetailsTable:
    """One :class:`FrozenDetails` per distinct ``statusDetails`` content (keys in order)."""

    __slots__ = ("_by_items",)

    def __init__(self) -> None:
        self._by_items: dict[tuple[tuple[str, str], ...], FrozenDetails] = {}

    def share(self, details: Mapping[str, str], /) -> FrozenDetails:
        """The stored map equal to ``details`` with the same key order, else a new one."""
        if not details:
            return _NO_DETAILS
        items = tuple(details.items())
        by_items = self._by_items
        found = by_items.get(items)
        if found is None:
            if len(by_items) >= _TABLE_SIZE:
                by_items.clear()
            found = by_items[items] = FrozenDetails(items)
        return found


class JobIdSets:
    """Ordered job-id sets as shared tuples: each thing's jobs, oldest first."""

    __slots__ = ("_tuples",)

    def __init__(self) -> None:
        self._tuples: dict[tuple[str, ...], tuple[str, ...]] = {}

    def with_id(self, ids: tuple[str, ...], job_id: str, /) -> tuple[str, ...]:
        """``ids`` plus ``job_id`` at the end (``job_id`` not in ``ids``)."""
        return self._share((*ids, job_id))

    def without_id(self, ids: tuple[str, ...], job_id: str, /) -> tuple[str, ...]:
        """``ids`` less ``job_id`` (the same tuple when it is not there)."""
        if job_id not in ids:
            return ids
        return self._share(tuple(i for i in ids if i != job_id))

    def _share(self, ids: tuple[str, ...]) -> tuple[str, ...]:
        tuples = self._tuples
        found = tuples.get(ids)
        if found is None:
            if len(tuples) >= _TABLE_SIZE:
                tuples.clear()
            found = tuples[ids] = ids
        return found
