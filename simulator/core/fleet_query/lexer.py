"""Tokens of the fleet-indexing query language: Lucene's classic lexer, as AWS documents it.

AWS: "a simple query language based on ... Apache Lucene" (developer guide, fleet indexing
service page), with the features and the unsupported characters of the *Query syntax* page
(https://docs.aws.amazon.com/iot/latest/developerguide/query-syntax.html). Lucene's rules are
those of ``QueryParser.jj`` (``org.apache.lucene.queryparser.classic``):

* **Operators start terms.** ``-`` (exclude) and ``+`` (required) are operators only where a term
  starts (``_TERM_START_CHAR`` excludes them); inside a term they are ordinary characters
  (``_TERM_CHAR`` adds them back). So ``thingName:sensor-0042``, ``attributes.site:eu-west-1`` and
  ``thingName:sensor-00*`` are single terms, and ``-plasma`` in ``thingName:(tv* AND -plasma)``
  (the AWS example) is an exclusion. ``QuerySyntax(hyphen="escape")`` restores the stricter
  reading of workshop material that asks for ``telemetry\\-agent`` (inf, not AWS docs).
* **Whitespace** separates words "as defined by Java's ``Character.isWhitespace(int)``" (AWS): see
  ``_JAVA_WHITESPACE`` (a no-break space is part of a word there, unlike ``str.isspace``).
* **Escapes**: a backslash makes the next character literal, everywhere (Lucene's
  ``_ESCAPED_CHAR``), including in phrases and range bounds. The lexer remembers which ``*``/``?``
  were *not* escaped: only those are wildcards (``a\\*`` is the literal ``a*``).
* **Keywords** ``AND``, ``OR``, ``NOT`` only when unescaped and upper case; ``TO`` is a word for
  the range parser.
* **Ranges** lex as Lucene's ``Range`` state does: between ``[``/``{`` and ``]``/``}`` a bound is
  anything up to whitespace, ``]`` or ``}`` (``RANGE_GOOP``), so ``[10:00 TO 12:00]`` and
  ``[2024-01-01 TO *]`` need no escapes; or a quoted phrase.
* **Refused characters**: those AWS lists as unsupported (`` ` @ # % / ' ; , ``; ``\\`` is the
  escape character and ``,`` belongs to geo queries, which are not emulated) and the Lucene
  operators of features AWS does not support (``^`` boosting, ``~`` fuzzy and proximity search,
  ``/`` regular expressions) or does not document (``!``, ``&&``, ``||``; and ``=``, which users
  mistake for a comparison). Escaped, any of them is a literal character (inf: AWS does not say
  whether an escaped unsupported character is accepted).
* **Negative numbers**: Lucene has no signed numbers (``field:-5`` is a syntax error there); AWS
  documents comparisons (``attributes.attr2<5``). Right after ``:`` or a comparison, a ``-``
  followed by a number is that negative number (``attributes.t>-5``); elsewhere ``-5`` excludes
  the term ``5``, as in Lucene (inf).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import Final

from simulator.core.errors import InvalidQueryException

__all__ = ["Kind", "Token", "query_error", "tokenize"]

#: Characters that end a word unless escaped.
_DELIMITERS: Final = frozenset('():<>[]{}"')
#: Refused characters and why (see the module docstring).
_REFUSED: Final = {
    **dict.fromkeys("`@#%';,", "unsupported character"),
    "/": "unsupported character (regular expressions are not supported)",
    "^": "unsupported character (boosting is not supported)",
    "~": "unsupported character (fuzzy and proximity searches are not supported)",
    "!": "unsupported character (use NOT)",
    "&": "unsupported character (use AND)",
    "|": "unsupported character (use OR)",
    "=": "unsupported character (use ':' for a match, or > >= < <=)",
}
#: What ends a range bound: Lucene's RANGE_GOOP is anything but whitespace, ']' and '}'.
_BOUND_STOPS: Final = frozenset("]}")
_WILDCARDS: Final = frozenset("*?")
_KEYWORDS: Final = {"AND", "OR", "NOT"}
#: Java's Character.isWhitespace: the Unicode space, line and paragraph separators except the
#: no-break spaces, plus the ASCII controls \t \n \v \f \r and \x1c-\x1f.
_JAVA_WHITESPACE: Final = frozenset(
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006"
    "\u2008\u2009\u200a\u2028\u2029\u205f\u3000"
)
_NUMBER: Final = re.compile(r"-(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


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
    PLUS = "+"
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


def tokenize(text: str, *, hyphen_literal: bool = True) -> list[Token]:
    """Split ``text`` into tokens, ending with an ``EOF`` token.

    Args:
        text: the query.
        hyphen_literal: whether a ``-`` inside a term is a term character (Lucene, the default)
            or refused unless escaped.

    Raises:
        InvalidQueryException: an unterminated phrase or range, a trailing backslash, an
            unsupported character, an operator with no term after it or (unless
            ``hyphen_literal``) an unescaped ``-`` inside a term.
    """
    tokens: list[Token] = []
    i, n = 0, len(text)
    in_range = False
    while i < n:
        c = text[i]
        if c in _JAVA_WHITESPACE:
            i += 1
        elif c in "]}":
            tokens.append(Token(Kind.RRANGE, i, c, c, inclusive=c == "]"))
            in_range = False
            i += 1
        elif c == '"':
            token, i = _phrase(text, i)
            tokens.append(token)
        elif in_range:
            token, i = _word(text, i, bound=True)
            tokens.append(token)
        elif c in "()":
            tokens.append(Token(Kind.LPAREN if c == "(" else Kind.RPAREN, i, c, c))
            i += 1
        elif c in "[{":
            tokens.append(Token(Kind.LRANGE, i, c, c, inclusive=c == "["))
            in_range = True
            i += 1
        elif c == ":":
            tokens.append(Token(Kind.COLON, i, c, c))
            i += 1
        elif c in "<>":
            op = text[i : i + 2] if text[i + 1 : i + 2] == "=" else c
            tokens.append(Token(Kind.CMP, i, op, op))
            i += len(op)
        elif c == "-" and tokens and tokens[-1].kind in (Kind.COLON, Kind.CMP) and _signed(text, i):
            token, i = _word(text, i, hyphen_literal=True)
            tokens.append(token)
        elif c in "-+":
            if i + 1 >= n or text[i + 1] in _JAVA_WHITESPACE:
                raise query_error(f"{c!r} must be followed by a term", i)
            tokens.append(Token(Kind.MINUS if c == "-" else Kind.PLUS, i, c, c))
            i += 1
        else:
            token, i = _word(text, i, hyphen_literal=hyphen_literal)
            tokens.append(token)
    tokens.append(Token(Kind.EOF, n))
    return tokens


def _signed(text: str, i: int) -> bool:
    """Whether the word at ``i`` (starting with ``-``) is a negative number."""
    match = _NUMBER.match(text, i)
    return match is not None and match.end() == _word_end(text, i)


def _word_end(text: str, i: int) -> int:
    n = len(text)
    while i < n and text[i] not in _JAVA_WHITESPACE and text[i] not in _DELIMITERS:
        i += 2 if text[i] == "\\" else 1
    return min(i, n)


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


def _word(
    text: str, start: int, *, hyphen_literal: bool = True, bound: bool = False
) -> tuple[Token, int]:
    """A term (or field name, or keyword); with ``bound``, a range bound (Lucene's goop)."""
    chars: list[str] = []
    wild: list[int] = []
    i, n = start, len(text)
    stops = _BOUND_STOPS if bound else _DELIMITERS
    while i < n:
        c = text[i]
        if c in _JAVA_WHITESPACE or c in stops:
            break
        if c == "\\":
            if i + 1 >= n:
                raise query_error("a backslash must escape a character", i)
            chars.append(text[i + 1])
            i += 2
            continue
        reason = _REFUSED.get(c)
        if reason is not None:
            raise query_error(f"{reason}; escape it with a backslash to search for it", i)
        if c == "-" and i > start and not hyphen_literal and not bound:
            raise query_error("a '-' inside a term must be escaped as '\\-'", i)
        if c in _WILDCARDS:
            wild.append(len(chars))
        chars.append(c)
        i += 1
    raw = text[start:i]
    if raw in _KEYWORDS and not bound:
        return Token(Kind[raw], start, raw, raw), i
    return Token(Kind.WORD, start, "".join(chars), raw, tuple(wild)), i
