"""Wildcard matching without backtracking: linear in the text for any pattern.

The query language's ``*`` (any run of characters) and ``?`` (one character) used to become
regular expressions, whose backtracking is exponential in the number of ``*``:
``attributes.x:a*a*a*a*b`` against an 800-character attribute took 18-33 s, on the one event loop
that serves every client. :class:`Glob` needs no backtracking at all:

1. The pattern is split at ``*`` into *segments* of fixed width (literal characters and ``?``).
   With no ``*`` the pattern is one segment that must cover the whole text.
2. The first segment must match at the start and the last at the end (both checked in place).
3. Each middle segment is taken at its **leftmost** occurrence after the previous one. Leftmost is
   always safe: any match that uses a later occurrence can use the leftmost one instead, since
   the ``*`` after it absorbs the difference. So a segment that is not found means no match, and
   nothing is ever retried.

The searches of step 3 cover disjoint stretches of the text, so a match examines each text
position at most once: **at most len(text) steps** (:meth:`Glob.steps` counts them), whatever the
pattern. Runs of ``*`` collapse to one, so every middle segment is at least one character wide and
there are at most ``len(text) + 2`` segments to try; a pattern whose fixed characters outnumber
the text's is refused before any search.

How a step is taken: a segment without ``?`` is found with ``str.find`` (C). A segment with ``?``
is found bit-parallel over the text: for each character ``c`` it names, an integer whose bit ``i``
says ``text[i] == c`` (one ``str.translate`` each, cached per text); the segment can start at ``i``
where every literal position ``j`` has bit ``i + j`` set, an AND of shifted masks. That is
``ceil(len(text) / 64)`` machine words per literal character, in C, and no Python-level loop over
the text: 0.5-10 us on an 800-character value where a Python loop over its characters (Shift-And)
took 250 us.

The pattern syntax is :attr:`~.nodes.Wildcard.pattern`'s: unescaped ``*`` and ``?`` are
wildcards, ``\\`` makes the next character literal. Matching is exact; the caller lower-cases
both sides for the index's case-insensitive values.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby
from operator import itemgetter
from typing import TypeAlias

__all__ = ["Glob", "compile_glob"]

#: A piece of a segment: a literal run, or a count of ``?``.
_Piece: TypeAlias = str | int


_ZEROS: bytes = b"0" * 256


class _Bits:
    """Per text: bit masks of where each character occurs (bit ``i`` for ``text[i]``)."""

    __slots__ = ("ascii", "masks", "table", "text")

    def __init__(self, text: str) -> None:
        self.text = text
        self.ascii = text.encode("ascii") if text.isascii() else None
        self.table: dict[int, str] | None = None
        self.masks: dict[str, int] = {}

    def of(self, c: str) -> int:
        mask = self.masks.get(c)
        if mask is None:
            if c not in self.text:
                mask = 0
            elif self.ascii is not None:  # bytes.translate: a 256-byte table, the fast path
                o = ord(c)
                mask = int(self.ascii.translate(_ZEROS[:o] + b"1" + _ZEROS[o + 1 :])[::-1], 2)
            else:
                if self.table is None:  # every character of the text to '0', once per text
                    self.table = dict.fromkeys(map(ord, set(self.text)), "0")
                table = self.table.copy()
                table[ord(c)] = "1"
                mask = int(self.text.translate(table)[::-1], 2)
            self.masks[c] = mask
        return mask


@dataclass(frozen=True, slots=True)
class _Segment:
    """A fixed-width run of literal characters and ``?`` (no ``*``).

    ``literal`` is the whole segment when it holds no ``?``; ``chars`` the ``(offset, char)`` of
    each literal character otherwise.
    """

    pieces: tuple[_Piece, ...]
    width: int
    literal: str | None
    chars: tuple[tuple[int, str], ...]

    def at(self, text: str, i: int) -> bool:
        """Whether the segment matches ``text`` at ``i`` (the caller checked the bounds)."""
        for piece in self.pieces:
            if isinstance(piece, int):
                i += piece  # that many '?'
            elif text.startswith(piece, i):
                i += len(piece)
            else:
                return False
        return True

    def find(self, bits: _Bits, start: int, stop: int) -> tuple[int, int]:
        """Leftmost ``p`` in ``[start, stop - width]`` where the segment matches, and the steps.

        Returns ``(-1, steps)`` when there is none. The steps are the text positions scanned.
        """
        if self.literal is not None:
            p = bits.text.find(self.literal, start, stop)
            return p, (stop - start if p < 0 else p + self.width - start)
        last = stop - self.width  # the last position the segment can start at
        if last < start:
            return -1, 0
        starts = (1 << (last - start + 1)) - 1  # bit k: the segment may start at start + k
        for offset, c in self.chars:
            starts &= bits.of(c) >> (start + offset)
            if not starts:
                return -1, stop - start
        p = start + (starts & -starts).bit_length() - 1  # the lowest bit: leftmost
        return p, p + self.width - start


def _segment(chars: list[tuple[str, bool]]) -> _Segment:
    """Build a segment from ``(character, is_wildcard_question_mark)`` pairs."""
    pieces: list[_Piece] = []
    for wild, run in groupby(chars, key=itemgetter(1)):
        group = [c for c, _ in run]
        pieces.append(len(group) if wild else "".join(group))
    literals = tuple((j, c) for j, (c, wild) in enumerate(chars) if not wild)
    if len(literals) == len(chars):
        return _Segment(tuple(pieces), len(chars), "".join(c for c, _ in chars), ())
    return _Segment(tuple(pieces), len(chars), None, literals)


@dataclass(frozen=True, slots=True)
class Glob:
    """A compiled wildcard pattern: build once with :func:`compile_glob`, match many texts.

    Attributes:
        pattern: the source pattern.
        segments: the fixed-width runs between ``*`` (one when there is no ``*``).
        starred: whether the pattern holds an unescaped ``*``.
        min_length: the shortest text that can match (its fixed characters).
    """

    pattern: str
    segments: tuple[_Segment, ...]
    starred: bool
    min_length: int

    def match(self, text: str, /) -> bool:
        """Whether ``text`` matches the whole pattern."""
        return self._run(text)[0]

    def steps(self, text: str, /) -> int:
        """The work :meth:`match` does on ``text``: text positions scanned or compared.

        Never more than ``len(text)`` (see the module docstring).
        """
        return self._run(text)[1]

    def _run(self, text: str) -> tuple[bool, int]:
        n = len(text)
        segments = self.segments
        head = segments[0]
        if not self.starred:
            return (n == head.width and head.at(text, 0)), min(n, head.width)
        if n < self.min_length:
            return False, 0
        steps = head.width
        if not head.at(text, 0):
            return False, steps
        tail = segments[-1]
        end = n - tail.width
        steps += tail.width
        if not tail.at(text, end):
            return False, steps
        if len(segments) == 2:
            return True, steps
        pos = head.width
        bits = _Bits(text)
        for segment in segments[1:-1]:
            p, scanned = segment.find(bits, pos, end)
            steps += scanned
            if p < 0:
                return False, steps
            pos = p + segment.width
        return True, steps


def compile_glob(pattern: str, /) -> Glob:
    """Compile a wildcard pattern (``*``, ``?``, ``\\`` escapes) into a :class:`Glob`.

    A trailing lone backslash stands for itself (the lexer never produces one).
    """
    runs: list[list[tuple[str, bool]]] = [[]]
    i, n = 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            runs[-1].append((pattern[i + 1], False))
            i += 2
            continue
        if c == "*":
            if runs[-1] or len(runs) == 1:  # '**' is '*': no empty segments in the middle
                runs.append([])
        else:
            runs[-1].append((c, c == "?"))
        i += 1
    segments = tuple(_segment(run) for run in runs)
    return Glob(pattern, segments, len(segments) > 1, sum(s.width for s in segments))
