"""Java regular expressions from the service models, translated for Python's ``regex`` module.

AWS validates ``pattern`` traits with ``java.util.regex`` and whole-string matching (its error
reads "Member must satisfy regular expression pattern: P"). The two dialects differ where it
matters here:

* Java's POSIX classes (``\\p{Graph}``, ``\\p{Upper}``, ``\\p{Digit}``...) and its shorthand classes
  (``\\s``, ``\\d``, ``\\w`` and their negations) are ASCII-only by default; Python's are Unicode.
  They are rewritten as explicit ASCII sets.
* Unicode general categories (``\\p{L}``, ``\\p{C}``...) are Unicode in both; the stdlib ``re``
  has no ``\\p{...}`` at all, hence the ``regex`` module.

Anything else outside a small, known subset (class intersection ``&&``, nested classes,
``\\Q...\\E``, ``\\P{POSIX}`` inside a class, anchors other than a leading ``^``/trailing ``$``...)
is *not* translated: :func:`translate` returns ``None`` and the caller skips that pattern rather
than risk rejecting valid input. ``tests/api/test_http_routes.py`` lists which model patterns
that leaves out (none, for the routed operations).
"""

from __future__ import annotations

from functools import cache
from typing import Final

import regex

__all__ = ["compile_java", "translate"]

#: Java POSIX character classes (US-ASCII only unless UNICODE_CHARACTER_CLASS is set).
_POSIX: Final[dict[str, str]] = {
    "Lower": "a-z",
    "Upper": "A-Z",
    "ASCII": "\\x00-\\x7F",
    "Alpha": "a-zA-Z",
    "Digit": "0-9",
    "Alnum": "a-zA-Z0-9",
    "Punct": "!-/:-@\\[-`{-~",
    "Graph": "!-~",
    "Print": " -~",
    "Blank": " \\t",
    "Cntrl": "\\x00-\\x1F\\x7F",
    "XDigit": "0-9a-fA-F",
    "Space": " \\t\\n\\x0B\\f\\r",
}
#: Java's predefined classes, also ASCII-only by default.
_SHORTHAND: Final[dict[str, str]] = {
    "d": "0-9",
    "s": " \\t\\n\\x0B\\f\\r",
    "w": "a-zA-Z_0-9",
}
#: Unicode general categories, which mean the same in Java and in ``regex``.
_CATEGORIES: Final[frozenset[str]] = frozenset(
    {
        *("L", "Lu", "Ll", "Lt", "Lm", "Lo", "M", "Mn", "Mc", "Me", "N", "Nd", "Nl", "No"),
        *("P", "Pc", "Pd", "Ps", "Pe", "Pi", "Pf", "Po", "S", "Sm", "Sc", "Sk", "So"),
        *("Z", "Zs", "Zl", "Zp", "C", "Cc", "Cf", "Cs", "Co", "Cn"),
    }
)
#: Classes of a shorthand and its negation: any character at all (``[\s\S]*`` in policy documents).
_ANYTHING: Final[tuple[str, ...]] = tuple(
    f"[\\{a}\\{b}]" for c in "sdw" for a, b in ((c, c.upper()), (c.upper(), c))
)
#: Escapes of one character that mean the same in both dialects.
_SAME: Final[frozenset[str]] = frozenset("tnrfae0\\.-$^[]{}()*+?|/:#=@&!,<>'\" ")


class _Untranslatable(Exception):
    pass


def _escape(pattern: str, i: int, in_class: bool) -> tuple[str, int]:
    """Translate the escape starting at ``pattern[i] == '\\\\'``; return (text, next index)."""
    if i + 1 >= len(pattern):
        raise _Untranslatable
    ch = pattern[i + 1]
    if ch in "pP":
        if i + 2 >= len(pattern) or pattern[i + 2] != "{":
            raise _Untranslatable
        end = pattern.find("}", i + 3)
        if end < 0:
            raise _Untranslatable
        name = pattern[i + 3 : end]
        if name in _POSIX:
            if ch == "P" and in_class:
                raise _Untranslatable
            body = _POSIX[name]
            text = body if in_class else f"[{'^' if ch == 'P' else ''}{body}]"
            return text, end + 1
        if name in _CATEGORIES:
            return f"\\{ch}{{{name}}}", end + 1
        raise _Untranslatable
    if ch.lower() in _SHORTHAND:
        body = _SHORTHAND[ch.lower()]
        negated = ch.isupper()
        if in_class:
            if negated:
                raise _Untranslatable
            return body, i + 2
        return f"[{'^' if negated else ''}{body}]", i + 2
    if ch == "x":
        digits = pattern[i + 2 : i + 4]
        if len(digits) != 2 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise _Untranslatable
        return f"\\x{digits}", i + 4
    if ch == "u":
        digits = pattern[i + 2 : i + 6]
        if len(digits) != 4 or any(c not in "0123456789abcdefABCDEF" for c in digits):
            raise _Untranslatable
        return f"\\u{digits}", i + 6
    if ch in _SAME:
        return f"\\{ch}", i + 2
    raise _Untranslatable  # \Q..\E, \b, \A, \z, \G, back-references, \h, \R...


def _translate(pattern: str) -> str:
    out: list[str] = []
    i = 0
    in_class = False
    while i < len(pattern):
        ch = pattern[i]
        if ch == "\\":
            text, i = _escape(pattern, i, in_class)
            out.append(text)
            continue
        if in_class:
            if ch == "[" or pattern.startswith("&&", i):
                raise _Untranslatable  # nested class / intersection: Java-only semantics
            if ch == "]":
                in_class = False
        elif pattern.startswith(_ANYTHING, i):
            out.append("(?s:.)")
            i += len(_ANYTHING[0])
            continue
        elif ch == "[":
            in_class = True
            out.append(ch)
            i += 1
            # A leading ']' (or '^]') is a literal in both dialects; keep it inside the class.
            if pattern.startswith("^", i):
                out.append("^")
                i += 1
            if pattern.startswith("]", i):
                out.append("\\]")
                i += 1
            continue
        elif ch in "^$" and 0 < i < len(pattern) - 1 and pattern[i - 1] != "|":
            raise _Untranslatable  # anchors mid-pattern (multi-line semantics differ)
        out.append(ch)
        i += 1
    if in_class:
        raise _Untranslatable
    return "".join(out)


def translate(pattern: str) -> str | None:
    """Return ``pattern`` in ``regex`` syntax, or ``None`` when it is not safely translatable."""
    try:
        text = _translate(pattern)
        regex.compile(text)
    except (_Untranslatable, regex.error):
        return None
    return text


@cache
def compile_java(pattern: str) -> regex.Pattern[str] | None:
    """Compile a model pattern for whole-string matching (``fullmatch``), or ``None`` (skip it)."""
    text = translate(pattern)
    return None if text is None else regex.compile(text)
