"""The query AST: frozen, slotted, hashable nodes, and the parser's options.

A field-grouped clause (``thingName:(tv* AND -plasma)``) has no node of its own: the parser
distributes the field over the leaves it groups, so every leaf knows its field.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, TypeAlias

__all__ = [
    "And",
    "Compare",
    "Exists",
    "LeafNode",
    "MatchAll",
    "Node",
    "Not",
    "Or",
    "Prefix",
    "QuerySyntax",
    "Range",
    "Term",
    "Wildcard",
    "count_terms",
]


@dataclass(frozen=True, slots=True)
class QuerySyntax:
    """Parser options for what AWS documents inconsistently.

    Attributes:
        max_terms: the most leaf terms a query may hold. The archived developer guide says 5, the
            page this project's reference was condensed from says 7, the current page says 12.
        hyphen: what an unescaped ``-`` inside a term means. ``"escape"`` refuses it (public
            workshop material says package names such as ``telemetry\\-agent`` must be escaped, an
            inference); ``"literal"`` keeps it as part of the term, as Lucene's classic parser does.
    """

    max_terms: int = 7
    hyphen: Literal["escape", "literal"] = "escape"


@dataclass(frozen=True, slots=True)
class Term:
    """``field:value``, ``field:"a phrase"`` or a bare value (``field`` None): exact match."""

    field: str | None
    value: str
    phrase: bool = False


@dataclass(frozen=True, slots=True)
class Prefix:
    """``field:value*``: values starting with ``prefix``."""

    field: str | None
    prefix: str


@dataclass(frozen=True, slots=True)
class Wildcard:
    """``field:a?c*d``: ``pattern`` keeps unescaped ``*``/``?`` wildcards; literal ones escaped."""

    field: str | None
    pattern: str


@dataclass(frozen=True, slots=True)
class Exists:
    """``field:*``: the field has a value."""

    field: str


@dataclass(frozen=True, slots=True)
class MatchAll:
    """A bare ``*``: every thing."""


@dataclass(frozen=True, slots=True)
class Range:
    """``field:[low TO high]`` (``{``/``}`` exclude a bound; ``*`` or ``None`` leaves it open)."""

    field: str
    low: str | None
    high: str | None
    include_low: bool = True
    include_high: bool = True


@dataclass(frozen=True, slots=True)
class Compare:
    """``field>value`` and the other comparisons."""

    field: str
    op: Literal[">", ">=", "<", "<="]
    value: str


@dataclass(frozen=True, slots=True)
class Not:
    """``NOT x`` or ``-x``."""

    operand: Node


@dataclass(frozen=True, slots=True)
class And:
    """``a AND b`` or ``a b`` (the default operator)."""

    operands: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """``a OR b``."""

    operands: tuple[Node, ...]


LeafNode: TypeAlias = Term | Prefix | Wildcard | Exists | MatchAll | Range | Compare
Node: TypeAlias = LeafNode | Not | And | Or


def count_terms(node: Node) -> int:
    """How many terms a query holds, as the limit counts them: one per leaf."""
    if isinstance(node, Not):
        return count_terms(node.operand)
    if isinstance(node, And | Or):
        return sum(count_terms(op) for op in node.operands)
    return 1
