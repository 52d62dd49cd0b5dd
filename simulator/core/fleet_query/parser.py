"""Recursive-descent parser: query text to a :data:`~.nodes.Node`.

Grammar (precedence NOT > AND > OR; juxtaposition is AND, the default operator)::

    query   := or EOF
    or      := and ("OR" and)*
    and     := unary (["AND"] unary)*
    unary   := ("NOT" | "-" | "+") unary | primary
    primary := "(" or ")" | FIELD ":" value | FIELD ":" range | FIELD ":" "(" group ")"
             | FIELD cmp value | value
    range   := ("[" | "{") bound "TO" bound ("]" | "}")
    value   := WORD | PHRASE           (a WORD may hold * and ? wildcards)

Sources: the AWS *Query syntax* and *Example thing queries* pages (current versions, and the
archived ``awsdocs/aws-iot-docs`` ones where they differ) and Lucene's ``QueryParser.jj``.

* **Phrases** ``"two words"`` match a whole value exactly (values are not tokenised: a thing name
  is one term); ``*`` and ``?`` inside a phrase are literal (Lucene). [AWS: "Terms and phrases"]
* **Field grouping** ``thingName:(tv* AND -plasma)`` (the AWS example) holds the same grammar
  without fields; the field is pushed down to its leaves.
* **Ranges** ``[a TO b]``, ``{a TO b]``... with ``*`` for an open bound and quoted bounds
  (``["abcd" TO "abcf"]``, an AWS example). A wildcard inside a bound is refused (Lucene would
  take ``1*`` literally; a refusal says more).
* **``+``** is Lucene's *required* operator. AWS does not document it; with AND as the default
  operator ``+x`` means ``x`` here (``QuerySyntax(plus="refused")`` refuses it) (inf).
* **Leading wildcards** (``thingName:*my``, ``*my*``): the current AWS page allows them in one
  term per query, in queries of at most 100 characters; the archived page (2023) did not allow
  them at all: ``QuerySyntax(leading_wildcard=...)``. ``*`` alone (every thing) and ``field:*``
  (the field exists) are not leading wildcards.
* **The term limit** counts leaves (:func:`~.nodes.count_terms`): 12 on the current page (5 and 7
  on earlier ones): ``QuerySyntax(max_terms=...)``. How AWS counts is not documented (inf).
* **Precedence**: Lucene's classic parser gives ``a OR b AND c`` odd meanings; conventional
  precedence is used here (inf: AWS does not document it).
"""

from __future__ import annotations

from typing import Final, Literal

from simulator.core.fleet_query.fields import FieldInfo, check_field
from simulator.core.fleet_query.lexer import Kind, Token, query_error, tokenize
from simulator.core.fleet_query.nodes import (
    And,
    Compare,
    Exists,
    MatchAll,
    Node,
    Not,
    Or,
    Prefix,
    QuerySyntax,
    Range,
    Term,
    Wildcard,
    count_terms,
)

__all__ = ["parse"]

#: Nesting (parentheses and negations) deeper than this is refused rather than recursed into.
MAX_DEPTH: Final = 64
_STARTS: Final = frozenset(
    {Kind.WORD, Kind.PHRASE, Kind.LPAREN, Kind.NOT, Kind.MINUS, Kind.PLUS, Kind.LRANGE}
)
_OPS: Final[dict[str, Literal[">", ">=", "<", "<="]]] = {
    ">": ">",
    ">=": ">=",
    "<": "<",
    "<=": "<=",
}


def parse(text: str, /, *, syntax: QuerySyntax | None = None) -> Node:
    """Parse a fleet-indexing query.

    Args:
        text: the ``queryString``.
        syntax: limits and dialect choices; the defaults follow the project reference.

    Returns:
        The query's AST.

    Raises:
        InvalidQueryException: the only error, with the position of the problem.
    """
    syntax = syntax or QuerySyntax()
    tokens = tokenize(text, hyphen_literal=syntax.hyphen == "literal")
    if tokens[0].kind is Kind.EOF:
        raise query_error("the query is empty", 0)
    parser = _Parser(tokens, syntax)
    node = parser.or_(None, 0)
    parser.expect(Kind.EOF, "an operator or the end of the query")
    terms = count_terms(node)
    if terms > syntax.max_terms:
        raise query_error(f"{terms} terms, more than the {syntax.max_terms} allowed", None)
    _check_leading(parser.leading, len(text), syntax)
    return node


def _check_leading(positions: list[int], length: int, syntax: QuerySyntax) -> None:
    """The current AWS rule: leading wildcards in few terms, and only in short queries."""
    if not positions:
        return
    most = syntax.max_leading_wildcard_terms
    if len(positions) > most:
        raise query_error(
            f"leading wildcards are limited to {most} term{'s' if most != 1 else ''} per query",
            positions[most],
        )
    if length > syntax.max_leading_wildcard_query_length:
        raise query_error(
            f"a query with a leading wildcard is limited to"
            f" {syntax.max_leading_wildcard_query_length} characters (this one has {length})",
            positions[0],
        )


class _Parser:
    __slots__ = ("i", "leading", "syntax", "tokens")

    def __init__(self, tokens: list[Token], syntax: QuerySyntax) -> None:
        self.tokens = tokens
        self.syntax = syntax
        self.i = 0
        self.leading: list[int] = []  # positions of terms with a leading wildcard

    def peek(self) -> Token:
        return self.tokens[self.i]

    def advance(self) -> Token:
        token = self.tokens[self.i]
        if token.kind is not Kind.EOF:
            self.i += 1
        return token

    def expect(self, kind: Kind, what: str) -> Token:
        token = self.advance()
        if token.kind is not kind:
            raise query_error(f"expected {what}, found {token.describe()}", token.pos)
        return token

    # -- boolean structure ---------------------------------------------------------------------

    def or_(self, field: FieldInfo | None, depth: int) -> Node:
        parts = [self.and_(field, depth)]
        while self.peek().kind is Kind.OR:
            self.advance()
            parts.append(self.and_(field, depth))
        return parts[0] if len(parts) == 1 else Or(tuple(parts))

    def and_(self, field: FieldInfo | None, depth: int) -> Node:
        parts = [self.unary(field, depth)]
        while True:
            kind = self.peek().kind
            if kind is Kind.AND:
                self.advance()
            elif kind not in _STARTS:
                break
            parts.append(self.unary(field, depth))
        return parts[0] if len(parts) == 1 else And(tuple(parts))

    def unary(self, field: FieldInfo | None, depth: int) -> Node:
        token = self.peek()
        if depth > MAX_DEPTH:
            raise query_error(f"nesting deeper than {MAX_DEPTH}", token.pos)
        if token.kind in (Kind.NOT, Kind.MINUS):
            self.advance()
            return Not(self.unary(field, depth + 1))
        if token.kind is Kind.PLUS:
            if self.syntax.plus == "refused":
                raise query_error("the '+' operator is not supported", token.pos)
            self.advance()
            return self.unary(field, depth + 1)  # required: what the default AND means anyway
        return self.primary(field, depth)

    def primary(self, field: FieldInfo | None, depth: int) -> Node:
        token = self.advance()
        kind = token.kind
        if kind is Kind.LPAREN:
            node = self.or_(field, depth + 1)
            self.expect(Kind.RPAREN, "')'")
            return node
        if kind is Kind.PHRASE:
            return Term(field.name if field else None, token.text, phrase=True)
        if kind is Kind.LRANGE:
            if field is None:
                raise query_error("a range needs a field, as in field:[a TO b]", token.pos)
            return self.range_(field, token)
        if kind is Kind.WORD:
            follow = self.peek().kind
            if follow in (Kind.COLON, Kind.CMP):
                if field is not None:
                    raise query_error("a field inside a field group", token.pos)
                return self.field_clause(token, depth)
            return self.value(field, token)
        raise query_error(f"expected a term, found {token.describe()}", token.pos)

    # -- fields ------------------------------------------------------------------------------

    def field_clause(self, name: Token, depth: int) -> Node:
        field = check_field(name.text, name.wild, name.pos)
        op = self.advance()
        if op.kind is Kind.CMP:
            return self.compare(field, op)
        token = self.advance()
        if token.kind is Kind.LPAREN:
            node = self.or_(field, depth + 1)
            self.expect(Kind.RPAREN, "')' closing the field group")
            return node
        if token.kind is Kind.WORD:
            return self.value(field, token)
        if token.kind is Kind.PHRASE:
            return Term(field.name, token.text, phrase=True)
        if token.kind is Kind.LRANGE:
            return self.range_(field, token)
        raise query_error(f"expected a value after ':', found {token.describe()}", token.pos)

    def compare(self, field: FieldInfo, op: Token) -> Node:
        _refuse_ordering(field, op)
        token = self.advance()
        if token.kind not in (Kind.WORD, Kind.PHRASE):
            raise query_error(f"expected a value after {op.text!r}", token.pos)
        if token.wild:
            raise query_error("a comparison value cannot hold wildcards", token.pos)
        return Compare(field.name, _OPS[op.text], token.text)

    def range_(self, field: FieldInfo, opening: Token) -> Node:
        _refuse_ordering(field, opening)
        low = self.bound()
        to = self.advance()
        if to.kind is not Kind.WORD or to.raw != "TO":
            raise query_error(f"expected 'TO' in the range, found {to.describe()}", to.pos)
        high = self.bound()
        closing = self.expect(Kind.RRANGE, "']' or '}' closing the range")
        return Range(field.name, low, high, opening.inclusive, closing.inclusive)

    def bound(self) -> str | None:
        token = self.advance()
        if token.kind is Kind.PHRASE:
            return token.text
        if token.kind is not Kind.WORD:
            raise query_error(f"expected a range bound, found {token.describe()}", token.pos)
        if token.wild:
            if token.text == "*":
                return None
            raise query_error("a range bound cannot hold wildcards (only '*' alone)", token.pos)
        return token.text

    def value(self, field: FieldInfo | None, token: Token) -> Node:
        text, wild = token.text, token.wild
        name = field.name if field else None
        if not wild:
            return Term(name, text)
        if text == "*":
            return MatchAll() if field is None else Exists(field.name)
        if wild[0] == 0:
            if self.syntax.leading_wildcard == "refused":
                raise query_error("a leading wildcard is not supported (only '*' alone)", token.pos)
            self.leading.append(token.pos)
        elif wild == (len(text) - 1,) and text[-1] == "*":
            return Prefix(name, text[:-1])
        marks = set(wild)
        pattern = "".join(
            c if i in marks else ("\\" + c if c in "*?\\" else c) for i, c in enumerate(text)
        )
        return Wildcard(name, pattern)


def _refuse_ordering(field: FieldInfo, token: Token) -> None:
    if field.package_version:
        raise query_error(
            f"range and comparison queries are not supported on {field.name!r}"
            " ($package version keys support exact and wildcard matches only)",
            token.pos,
        )
