"""Matching a request path against the URI templates of one service.

Templates are split into segments, literal or ``{label}``; a path (already split and URL-decoded,
so ``%24next`` and a literal ``$next`` are the same segment) matches a template with as many
segments whose literals are equal. Where several match, the one with more literal segments wins
(``/things/{t}/jobs/$next`` over ``/things/{t}/jobs/{jobId}``). Greedy labels (``{key+}``) and
literal query strings in templates do not occur in the routed operations and are refused.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Generic, Literal, TypeVar

__all__ = ["Match", "Router"]

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class _Template(Generic[T]):
    method: str
    segments: tuple[str | None, ...]
    labels: tuple[tuple[int, str], ...]
    value: T


@dataclass(frozen=True, slots=True)
class Match(Generic[T]):
    value: T
    params: dict[str, str]


def _parse(template: str) -> tuple[tuple[str | None, ...], tuple[tuple[int, str], ...]]:
    if not template.startswith("/") or "?" in template or "+}" in template:
        raise ValueError(f"unsupported URI template {template!r}")
    segments: list[str | None] = []
    labels: list[tuple[int, str]] = []
    for index, part in enumerate(template[1:].split("/")):
        if part.startswith("{") and part.endswith("}"):
            segments.append(None)
            labels.append((index, part[1:-1]))
        elif "{" in part or "}" in part:
            raise ValueError(f"unsupported URI template {template!r}")
        else:
            segments.append(part)
    return tuple(segments), tuple(labels)


class Router(Generic[T]):
    """URI templates of one service, indexed by segment count and first segment."""

    def __init__(self, entries: Iterable[tuple[str, str, T]]) -> None:
        self._index: dict[tuple[int, str | None], list[_Template[T]]] = {}
        for method, uri, value in entries:
            segments, labels = _parse(uri)
            key = (len(segments), segments[0])
            self._index.setdefault(key, []).append(_Template(method, segments, labels, value))
        for bucket in self._index.values():
            bucket.sort(key=lambda t: -sum(s is not None for s in t.segments))

    def match(self, method: str, segments: list[str]) -> Match[T] | Literal["method"] | None:
        """The best template for ``segments``; ``"method"`` if only other methods match."""
        count = len(segments)
        path_matched = False
        for key in ((count, segments[0]), (count, None)):
            for template in self._index.get(key, ()):
                if all(
                    lit is None or lit == seg
                    for lit, seg in zip(template.segments, segments, strict=True)
                ):
                    if template.method != method:
                        path_matched = True
                        continue
                    params = {name: segments[i] for i, name in template.labels}
                    return Match(template.value, params)
        return "method" if path_matched else None
