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
    """Parser options for what AWS documents inconsistently, or not at all.

    The defaults follow the current AWS *Query syntax* page
    (https://docs.aws.amazon.com/iot/latest/developerguide/query-syntax.html) and, where it is
    silent, Lucene's classic query parser, which AWS says the language is based on.

    Attributes:
        max_terms: the most leaf terms a query may hold. The current page says 12; the archived
            developer guide (``awsdocs/aws-iot-docs``) says 5, and the page this project's
            reference was condensed from said 7.
        hyphen: what an unescaped ``-`` inside a term means. ``"literal"``: a term character, as
            in Lucene (``thingName:sensor-0042``); ``-`` is an operator only where a term starts.
            ``"escape"`` refuses it unless escaped (``telemetry\\-agent``), as public workshop
            material asks (an inference, not AWS documentation).
        plus: ``"required"``: a ``+`` starting a term is Lucene's *required* operator, which
            under the default operator AND changes nothing; ``"refused"``: an error. AWS
            documents only ``AND``, ``OR``, ``NOT`` and ``-``.
        leading_wildcard: ``"limited"``: the current page's rule, a leading ``*``/``?`` allowed
            in at most ``max_leading_wildcard_terms`` terms and only in queries of at most
            ``max_leading_wildcard_query_length`` characters; ``"refused"``: the archived page's
            "Leading wildcard search (such as "*xyz")" is not supported.
        max_leading_wildcard_terms: see ``leading_wildcard`` (1 on the current page).
        max_leading_wildcard_query_length: see ``leading_wildcard`` (100 on the current page).
    """

    max_terms: int = 12
    hyphen: Literal["literal", "escape"] = "literal"
    plus: Literal["required", "refused"] = "required"
    leading_wildcard: Literal["limited", "refused"] = "limited"
    max_leading_wildcard_terms: int = 1
    max_leading_wildcard_query_length: int = 100


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
