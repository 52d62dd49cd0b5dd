"""Tokens of the fleet-indexing query language.

The lexer resolves backslash escapes and remembers which ``*``/``?`` were *not* escaped (only
those are wildcards), so ``telemetry\\-agent`` is the word ``telemetry-agent`` and ``a\\*`` is the
literal ``a*``. Keywords (``AND``, ``OR``, ``NOT``) are recognised only when unescaped and upper
case; ``TO`` is left as a word for the range parser.

A ``-`` starting a term negates it, except before a digit: ``-5`` is the number (so
``attributes.t>-5`` and ``[-10 TO -5]`` work); write ``NOT 5`` to negate a bare number.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import Final

from simulator.core.errors import InvalidQueryException

__all__ = ["Kind", "Token", "query_error", "tokenize"]

#: Characters that end a word unless escaped.
_DELIMITERS: Final = frozenset('():<>[]{}"')
#: Characters AWS lists as unsupported, plus Lucene operators for unsupported features
#: (boosting ``^``, fuzzy ``~``, required ``+``, ``!``, ``&&``, ``||``, bare ``=``).
_REFUSED: Final = frozenset("`@#%/';,~^+!&|=")
_WILDCARDS: Final = frozenset("*?")
_KEYWORDS: Final = {"AND", "OR", "NOT"}


class Kind(enum.Enum):
    WORD = "word"
    PHRASE = "phrase"
    LPAREN = "("
    RPAREN = ")"
    LRANGE = "[ or {"
    RRANGE = "] or }"
    COLON = ":"
    CMP = "comparison"
    MINUS = "-"
    AND = "AND"
    OR = "OR"
    NOT = "NOT"
    EOF = "end of query"


@dataclass(frozen=True, slots=True)
class Token:
    """One token. ``text`` is the unescaped value (words, phrases) or the operator.

    ``wild`` holds the indexes in ``text`` of unescaped wildcards; ``raw`` is the source slice;
    ``inclusive`` tells ``[``/``]`` from ``{``/``}``.
    """

    kind: Kind
    pos: int
    text: str = ""
    raw: str = ""
    wild: tuple[int, ...] = ()
    inclusive: bool = False

    def describe(self) -> str:
        if self.kind is Kind.EOF:
            return "end of query"
        return repr(self.raw or self.text)


def query_error(message: str, pos: int | None) -> InvalidQueryException:
    """Our one error for bad queries, with the 0-based character position when there is one."""
    where = "" if pos is None else f" at position {pos}"
    return InvalidQueryException(f"Invalid query: {message}{where}")


def _starts_number(text: str, i: int) -> bool:
    nxt = text[i : i + 2]
    return nxt[:1].isdigit() or (nxt[:1] == "." and nxt[1:2].isdigit())


def tokenize(text: str, *, hyphen_literal: bool = False) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``EOF`` token.

    Raises:
        InvalidQueryException: an unterminated phrase, a trailing backslash, an unsupported
            character or (unless ``hyphen_literal``) an unescaped ``-`` inside a term.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif c in "()":
            tokens.append(Token(Kind.LPAREN if c == "(" else Kind.RPAREN, i, c, c))
            i += 1
        elif c in "[{":
            tokens.append(Token(Kind.LRANGE, i, c, c, inclusive=c == "["))
            i += 1
        elif c in "]}":
            tokens.append(Token(Kind.RRANGE, i, c, c, inclusive=c == "]"))
            i += 1
        elif c == ":":
            tokens.append(Token(Kind.COLON, i, c, c))
            i += 1
        elif c in "<>":
            op = text[i : i + 2] if text[i + 1 : i + 2] == "=" else c
            tokens.append(Token(Kind.CMP, i, op, op))
            i += len(op)
        elif c == '"':
            token, i = _phrase(text, i)
            tokens.append(token)
        elif c == "-" and not _starts_number(text, i + 1):
            if i + 1 >= n or text[i + 1].isspace():
                raise query_error("'-' must be followed by a term", i)
            tokens.append(Token(Kind.MINUS, i, c, c))
            i += 1
        else:
            token, i = _word(text, i, hyphen_literal)
            tokens.append(token)
    tokens.append(Token(Kind.EOF, n))
    return tokens


def _phrase(text: str, start: int) -> tuple[Token, int]:
    chars: list[str] = []
    i, n = start + 1, len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= n:
                break
            chars.append(text[i + 1])
            i += 2
        elif c == '"':
            if not chars:
                raise query_error("empty phrase", start)
            return Token(Kind.PHRASE, start, "".join(chars), text[start : i + 1]), i + 1
        else:
            chars.append(c)
            i += 1
    raise query_error("unterminated phrase", start)


def _word(text: str, start: int, hyphen_literal: bool) -> tuple[Token, int]:
    chars: list[str] = []
    wild: list[int] = []
    i, n = start, len(text)
    while i < n:
        c = text[i]
        if c.isspace() or c in _DELIMITERS:
            break
        if c == "\\":
            if i + 1 >= n:
                raise query_error("a backslash must escape a character", i)
            chars.append(text[i + 1])
            i += 2
            continue
        if c in _REFUSED:
            raise query_error(f"unsupported character {c!r} (escape it with a backslash)", i)
        if c == "-" and i > start and not hyphen_literal:
            raise query_error("a '-' inside a term must be escaped as '\\-'", i)
        if c in _WILDCARDS:
            wild.append(len(chars))
        chars.append(c)
        i += 1
    raw = text[start:i]
    if raw in _KEYWORDS:
        return Token(Kind[raw], start, raw, raw), i
    return Token(Kind.WORD, start, "".join(chars), raw, tuple(wild)), i
