"""The fleet-indexing query language (the subset AWS IoT documents), parsed and evaluated purely.

::

    query = compile_query('shadow.name.$package.reported.agent.version:1.* AND -thingName:x')
    doc = build_document(thing_name="t1", thing_id="…", shadows={"$package": {...}})
    query.matches(doc)

:func:`parse` gives the AST (frozen dataclasses from :mod:`.nodes`); :func:`compile_query`
parses once and compiles to a predicate over :data:`IndexDocument` values built by
:func:`build_document`. Every malformed or unsupported query raises
:class:`~simulator.core.errors.InvalidQueryException`, and nothing else.

Supported: ``field:value`` and bare terms (``-`` and ``+`` inside a term are term characters:
``thingName:sensor-0042``), quoted phrases, ``*`` and ``?`` wildcards (``*`` alone: all things;
``field:*``: the field exists; leading wildcards in one term of a short query), ranges
``field:[a TO b]`` with ``{``/``}`` for exclusive bounds, comparisons ``> >= < <=``, ``AND``,
``OR``, ``NOT``, ``-x``, ``+x``, parentheses, field groups ``field:(a OR b)``, backslash escapes,
the default operator AND and a term limit. What AWS documents inconsistently or not at all is a
:class:`QuerySyntax` option. Field names are case-sensitive, values are not. The grammar and its
sources: :mod:`.lexer` and :mod:`.parser`; fields and the version-field rules: :mod:`.fields`;
wildcard matching without backtracking, and the bound on a query's work: :mod:`.glob` and
:mod:`.evaluate`.
"""

from simulator.core.fleet_query.document import (
    IndexDocument,
    Leaf,
    build_document,
    parse_number,
    with_group_names,
)
from simulator.core.fleet_query.evaluate import (
    CompiledQuery,
    Predicate,
    compile_node,
    compile_query,
)
from simulator.core.fleet_query.glob import Glob, compile_glob
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
from simulator.core.fleet_query.parser import parse

__all__ = [
    "And",
    "Compare",
    "CompiledQuery",
    "Exists",
    "Glob",
    "IndexDocument",
    "Leaf",
    "MatchAll",
    "Node",
    "Not",
    "Or",
    "Predicate",
    "Prefix",
    "QuerySyntax",
    "Range",
    "Term",
    "Wildcard",
    "build_document",
    "compile_glob",
    "compile_node",
    "compile_query",
    "count_terms",
    "parse",
    "parse_number",
    "with_group_names",
]
