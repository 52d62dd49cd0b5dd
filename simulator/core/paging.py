"""Opaque ``nextToken`` pagination over sorted sequences, shared by every List* operation."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TypeVar

from simulator.core.errors import AwsError, InvalidRequestException

__all__ = ["page", "window"]

T = TypeVar("T")


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
    size = limit if max_results is None else max_results
    if not 1 <= size <= limit:
        raise error(f"maxResults must be between 1 and {limit}")
    start = 0 if next_token is None else _decode(next_token, error)
    return start, start + size
