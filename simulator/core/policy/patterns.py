"""Resource patterns of IoT policies and MQTT topic filters, as one small pattern language.

A :data:`Pattern` is a tuple of tokens: one-character strings (literal characters) and the
wildcards :data:`STAR` (any string, ``*`` in a policy, also across ``/``), :data:`ANY` (any one
character, ``?``) and :data:`LEVEL` (any string without ``/``: MQTT's ``+``). Policy resources
and MQTT filters both compile to it, so the questions the ACL translation asks have one answer
each:

* :func:`matches`: does a pattern match a string (a compiled regular expression, cached);
* :func:`derive`: what is left of a pattern after a literal prefix (``arn:...:topic/``);
* :func:`intersects`: do two patterns share a string (a search of the product automaton);
* :func:`filter_patterns` / :func:`filter_intersection` / :func:`filter_matches`: MQTT filters
  (``#`` also matches its parent level, as in MQTT and Mosquitto's ACL check).

In a policy ``+`` and ``#`` are literal characters (AWS IoT developer guide, "AWS IoT Core policy
variables"): only :func:`filter_patterns` gives them their MQTT meaning.
"""

from __future__ import annotations

import functools
import re
from collections import deque
from typing import Final

__all__ = [
    "ANY",
    "LEVEL",
    "STAR",
    "Pattern",
    "derive",
    "filter_intersection",
    "filter_matches",
    "filter_patterns",
    "intersects",
    "literal",
    "matches",
    "render",
]

STAR: Final = 0
ANY: Final = 1
LEVEL: Final = 2

Token = str | int
Pattern = tuple[Token, ...]

#: A character no literal token equals: stands for every character the patterns do not name.
_FRESH: Final = "\uffff"


def literal(text: str) -> Pattern:
    """The pattern matching exactly ``text``."""
    return tuple(text)


def render(pattern: Pattern) -> str:
    """The pattern as policy text (``*``, ``?``; ``+`` for :data:`LEVEL`), for messages."""
    names = {STAR: "*", ANY: "?", LEVEL: "+"}
    return "".join(t if isinstance(t, str) else names[t] for t in pattern)


@functools.lru_cache(maxsize=4096)
def _regex(pattern: Pattern) -> re.Pattern[str]:
    parts = {STAR: ".*", ANY: ".", LEVEL: "[^/]*"}
    return re.compile(
        "".join(re.escape(t) if isinstance(t, str) else parts[t] for t in pattern), re.DOTALL
    )


def matches(pattern: Pattern, text: str) -> bool:
    """Whether ``pattern`` matches all of ``text``."""
    return _regex(pattern).fullmatch(text) is not None


def _closure(pattern: Pattern, states: set[int]) -> frozenset[int]:
    todo = list(states)
    while todo:
        i = todo.pop()
        if i < len(pattern) and pattern[i] in (STAR, LEVEL) and i + 1 not in states:
            states.add(i + 1)  # STAR and LEVEL may match nothing
            todo.append(i + 1)
    return frozenset(states)


def _step(pattern: Pattern, states: frozenset[int], char: str) -> frozenset[int]:
    out: set[int] = set()
    for i in states:
        if i == len(pattern):
            continue
        token = pattern[i]
        if token == STAR or (token == LEVEL and char != "/"):
            out.add(i)
        elif token in (ANY, char):
            out.add(i + 1)
    return _closure(pattern, out)


def derive(pattern: Pattern, prefix: str) -> tuple[Pattern, ...]:
    """The patterns ``r`` with ``pattern`` matching ``prefix + s`` iff some ``r`` matches ``s``.

    Empty when no string starting with ``prefix`` matches.
    """
    states = _closure(pattern, {0})
    for char in prefix:
        states = _step(pattern, states, char)
        if not states:
            return ()
    # A state whose rest another state's rest covers adds nothing; keep them all, it is rare.
    return tuple(pattern[i:] for i in sorted(states))


def _chars(pattern: Pattern, states: frozenset[int]) -> set[str]:
    return {t for i in states if i < len(pattern) and isinstance(t := pattern[i], str)}


def intersects(first: Pattern, second: Pattern) -> bool:
    """Whether some string matches both patterns.

    Breadth-first over pairs of state sets; the characters tried are those the patterns name at
    the current states, ``/`` and one character they do not name (all such behave alike).
    """
    start = (_closure(first, {0}), _closure(second, {0}))
    seen = {start}
    queue = deque([start])
    while queue:
        a, b = queue.popleft()
        if len(first) in a and len(second) in b:
            return True
        for char in _chars(first, a) | _chars(second, b) | {"/", _FRESH}:
            nxt = (_step(first, a, char), _step(second, b, char))
            if nxt[0] and nxt[1] and nxt not in seen:
                seen.add(nxt)
                queue.append(nxt)
    return False


def filter_patterns(mqtt_filter: str) -> tuple[Pattern, ...]:
    """The topics an MQTT filter matches, as patterns (``a/#`` is ``a`` and ``a/*``).

    Mosquitto's rule that a filter starting with a wildcard matches no ``$`` topic is left out:
    the patterns may only cover more, which is the safe side where they are used.
    """
    levels = mqtt_filter.split("/")
    head: list[Token] = []
    for index, level in enumerate(levels):
        if level == "#" and index == len(levels) - 1:
            if index == 0:
                return ((STAR,),)
            parent = tuple(head[:-1])  # without the trailing "/"
            return (parent, (*head, STAR))
        head.extend([LEVEL] if level == "+" else list(level))
        if index < len(levels) - 1:
            head.append("/")
    return (tuple(head),)


def filter_matches(mqtt_filter: str, topic: str) -> bool:
    """Whether an MQTT filter matches a topic (without the ``$`` rule, see above)."""
    return any(matches(p, topic) for p in filter_patterns(mqtt_filter))


def filter_intersection(first: str, second: str) -> str | None:
    """The MQTT filter matching exactly the topics both filters match, or None.

    With MQTT's rule: a filter starting with ``+`` or ``#`` matches no topic starting with ``$``.
    """
    a, b = first.split("/"), second.split("/")
    for x, y in ((a[0], b[0]), (b[0], a[0])):
        if x in ("+", "#") and y.startswith("$"):
            return None
    out: list[str] = []
    i = j = 0
    while True:
        if i < len(a) and a[i] == "#":
            out += b[j:]
            break
        if j < len(b) and b[j] == "#":
            out += a[i:]
            break
        if i == len(a) or j == len(b):
            if i == len(a) and j == len(b):
                break
            return None
        x, y = a[i], b[j]
        if x == "+":
            out.append(y)
        elif y in ("+", x):
            out.append(x)
        else:
            return None
        i += 1
        j += 1
    return "/".join(out) if out else None
