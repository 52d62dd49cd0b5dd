"""The fleet-indexing query language: syntax, limits, field rules and evaluation.

Also two properties: random text parses or raises InvalidQueryException (the h11 fuzz invariant),
and random valid queries evaluated by the compiled predicate agree with a straightforward
reference evaluator (written below, over nested thing documents) on random things.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from simulator.core.errors import InvalidQueryException
from simulator.core.fleet_query import (
    And,
    Compare,
    Exists,
    MatchAll,
    Not,
    Or,
    Prefix,
    QuerySyntax,
    Range,
    Term,
    Wildcard,
    build_document,
    compile_query,
    count_terms,
    parse,
)
from tests.hypothesis_profiles import examples

PKG = "shadow.name.$package.reported"

# -- syntax ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "ast"),
    [
        ("abc", Term(None, "abc")),
        ('"two words"', Term(None, "two words", phrase=True)),
        ("thingName:myThing", Term("thingName", "myThing")),
        ('thingName:"my thing"', Term("thingName", "my thing", phrase=True)),
        ("thingName:my*", Prefix("thingName", "my")),
        ("thingName:ab?", Wildcard("thingName", "ab?")),
        ("attributes.a:i*t", Wildcard("attributes.a", "i*t")),
        ("*", MatchAll()),
        ("shadow.reported.location:*", Exists("shadow.reported.location")),
        ("attributes.a:[75 TO 80]", Range("attributes.a", "75", "80", True, True)),
        ("attributes.a:{75 TO 80]", Range("attributes.a", "75", "80", False, True)),
        ("attributes.a:[75 TO 80}", Range("attributes.a", "75", "80", True, False)),
        ('attributes.s:["abcd" TO "abcf"]', Range("attributes.s", "abcd", "abcf")),
        ("attributes.a:[* TO 5]", Range("attributes.a", None, "5")),
        ("attributes.a>5", Compare("attributes.a", ">", "5")),
        ("attributes.a >= 5", Compare("attributes.a", ">=", "5")),
        ("attributes.a<-5", Compare("attributes.a", "<", "-5")),
        ("attributes.a<=5.5", Compare("attributes.a", "<=", "5.5")),
        ("thingName : x", Term("thingName", "x")),
    ],
)
def test_leaves(query: str, ast: object) -> None:
    assert parse(query) == ast


def test_boolean_structure_and_precedence() -> None:
    a, b, c = (Term("thingName", x) for x in "abc")
    assert parse("thingName:a AND thingName:b") == And((a, b))
    assert parse("thingName:a thingName:b") == And((a, b))  # the default operator is AND
    assert parse("thingName:a OR thingName:b") == Or((a, b))
    assert parse("NOT thingName:a") == Not(a)
    assert parse("-thingName:a") == Not(a)
    # NOT binds tighter than AND, AND tighter than OR; parentheses group.
    assert parse("thingName:a OR thingName:b thingName:c") == Or((a, And((b, c))))
    assert parse("(thingName:a OR thingName:b) thingName:c") == And((Or((a, b)), c))
    assert parse("thingName:a NOT thingName:b") == And((a, Not(b)))
    assert parse("NOT NOT thingName:a") == Not(Not(a))


def test_documented_examples_parse() -> None:
    assert parse("attributes.attr1:abc AND attributes.attr2<5 NOT attributes.attr3>10") == And(
        (
            Term("attributes.attr1", "abc"),
            Compare("attributes.attr2", "<", "5"),
            Not(Compare("attributes.attr3", ">", "10")),
        )
    )
    assert parse(
        "shadow.reported.stats.battery:{70 TO 100} (v2 OR v3) NOT attributes.model:legacy"
    ) == And(
        (
            Range("shadow.reported.stats.battery", "70", "100", False, False),
            Or((Term(None, "v2"), Term(None, "v3"))),
            Not(Term("attributes.model", "legacy")),
        )
    )


def test_field_grouping_distributes_the_field() -> None:
    assert parse("thingName:(tv* AND -plasma)") == And(
        (Prefix("thingName", "tv"), Not(Term("thingName", "plasma")))
    )
    assert parse("attributes.c:(red OR blue)") == Or(
        (Term("attributes.c", "red"), Term("attributes.c", "blue"))
    )
    assert parse("attributes.n:([1 TO 2] OR 9)") == Or(
        (Range("attributes.n", "1", "2"), Term("attributes.n", "9"))
    )


def test_escaping() -> None:
    assert parse(f"{PKG}.telemetry\\-agent.version:*") == Exists(f"{PKG}.telemetry-agent.version")
    assert parse("thingName:a\\*") == Term("thingName", "a*")  # escaped: not a wildcard
    assert parse("thingName:a\\*b*") == Prefix("thingName", "a*b")
    assert parse("thingName:a\\?b?") == Wildcard("thingName", "a\\?b?")
    assert parse("\\AND") == Term(None, "AND")  # an escaped keyword is a term
    assert parse("thingName:a\\:b") == Term("thingName", "a:b")
    assert parse('thingName:"say \\"hi\\""') == Term("thingName", 'say "hi"', phrase=True)
    assert parse("thingName:my\\-thing") == Term("thingName", "my-thing")


def test_hyphen_policy() -> None:
    # Lucene: '-' is an operator only where a term starts (grammar tests: test_fleet_query_grammar).
    assert parse(f"{PKG}.telemetry-agent.version:*") == Exists(f"{PKG}.telemetry-agent.version")
    escape = QuerySyntax(hyphen="escape")
    with pytest.raises(InvalidQueryException, match=r"escaped as '\\-' at position 39"):
        parse(f"{PKG}.telemetry-agent.version:*", syntax=escape)
    assert parse("thingName:my\\-thing", syntax=escape) == Term("thingName", "my-thing")
    assert parse('thingName:"my-thing"', syntax=escape) == Term(
        "thingName", "my-thing", phrase=True
    )


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("", "empty"),
        ("   ", "empty"),
        ("thingName:*my OR thingGroupNames:*echo", "leading wildcards are limited to 1 term"),
        ("(thingName:a", "expected ')'"),
        ("thingName:a)", "expected an operator"),
        ("thingName:", "expected a value"),
        ("thingName:a AND", "expected a term"),
        ("AND thingName:a", "expected a term"),
        ("thingName:a OR OR thingName:b", "expected a term"),
        ("()", "expected a term"),
        ('"unterminated', "unterminated phrase"),
        ('""', "empty phrase"),
        ("thingName:a\\", "backslash"),
        ("thingName:a~", "unsupported character"),
        ("thingName:a^2", "unsupported character"),
        ("thingName:a/b", "unsupported character"),
        ("thingName=a", "unsupported character"),
        ("- thingName:a", "'-' must be followed"),
        ("[1 TO 2]", "needs a field"),
        ("attributes.a:[1 2]", "expected 'TO'"),
        ("attributes.a:[1 TO 2", "closing the range"),
        ("attributes.a:[1* TO 2]", "range bound cannot hold wildcards"),
        ("attributes.a>5*", "cannot hold wildcards"),
        ("attributes.a>", "expected a value after '>'"),
        ("thingName:(attributes.a:1)", "field inside a field group"),
        ("thingName:a:b", "expected an operator"),
        ("ThingName:a", "unknown field"),  # field names are case-sensitive
        ("attributes:a", "attributes.<name>"),
        ("thingName.x:a", "no sub-fields"),
        ("shadow.reported:a", "needs a path"),
        ("shadow.metadata.reported.x:1", "metadata is not indexed"),
        ("shadow.name.x:1", "needs a shadow name and a section"),
        ("shadow.foo.x:1", "expected reported"),
        ("shadow:1", "expected shadow.reported"),
        ("connectivity.connected:true", "not indexed by this emulator"),
        ("registry.other:1", "only registry.version"),
        ("attributes..a:1", "empty path segment"),
        ("attributes.a*b:1", "whole path segment"),
        ("(" * 70 + "a" + ")" * 70, "nesting deeper"),
        ("-" * 5000 + "a", "nesting deeper"),  # refused, never a RecursionError
        ("NOT " * 5000 + "a", "nesting deeper"),
        ("thingName:" + "(" * 5000, "nesting deeper"),
    ],
)
def test_invalid_queries(query: str, message: str) -> None:
    with pytest.raises(InvalidQueryException, match=re.escape(message)) as info:
        parse(query)
    assert info.value.http_status == 400
    assert info.value.error_type == "InvalidQueryException"


def test_error_positions() -> None:
    with pytest.raises(InvalidQueryException, match="at position 26"):
        parse("thingName:*a OR thingName:*x")  # the second leading wildcard
    with pytest.raises(InvalidQueryException, match="at position 0"):
        parse("bogus:1")


# -- limits and field rules --------------------------------------------------------------------


def test_term_limit() -> None:
    twelve = " ".join(f"attributes.a:{i}" for i in range(12))
    assert count_terms(parse(twelve)) == 12
    with pytest.raises(InvalidQueryException, match="13 terms, more than the 12 allowed"):
        parse(twelve + " thingName:x")
    # Each value of a field group, range and comparison is one term; operators are not.
    assert (
        count_terms(parse("thingName:(a OR b OR c) NOT attributes.a:[1 TO 2] attributes.b>3")) == 5
    )
    with pytest.raises(InvalidQueryException, match="13 terms"):
        parse("thingName:(" + " OR ".join("abcdefghijklm") + ")")
    # Earlier versions of the page said 7 (and 5): configurable.
    seven = QuerySyntax(max_terms=7)
    with pytest.raises(InvalidQueryException, match="8 terms, more than the 7 allowed"):
        parse(" ".join(f"attributes.a:{i}" for i in range(8)), syntax=seven)


@pytest.mark.parametrize(
    "query",
    [
        f"{PKG}.agent.version:[1.0.0 TO 2.0.0]",
        f"{PKG}.agent.version:{{1 TO 2}}",
        f"{PKG}.agent.version>1.0.0",
        f"{PKG}.agent.version<=2",
        f"{PKG}.agent.version:([1 TO 2] OR 3)",
        f"{PKG}.*.version>=1",
        f"{PKG}.telemetry\\-agent.version>1",
    ],
)
def test_package_version_refuses_ranges_and_comparisons(query: str) -> None:
    with pytest.raises(InvalidQueryException, match=r"\$package version keys"):
        parse(query)


def test_package_fields_that_are_allowed() -> None:
    assert parse(f"{PKG}.agent.version:1.0.0") == Term(f"{PKG}.agent.version", "1.0.0")
    assert parse(f"{PKG}.agent.version:1.*") == Prefix(f"{PKG}.agent.version", "1.")
    assert parse(f"{PKG}.*.attributes.packageID>1500") == Compare(
        f"{PKG}.*.attributes.packageID", ">", "1500"
    )
    assert parse(f"{PKG}.agent.attributes.x:[1 TO 2]") == Range(
        f"{PKG}.agent.attributes.x", "1", "2"
    )
    # A reported key named `version` elsewhere is an ordinary field.
    assert parse("shadow.reported.fw.version>3") == Compare("shadow.reported.fw.version", ">", "3")


# -- evaluation --------------------------------------------------------------------------------


def _doc(**overrides: Any) -> Any:
    base: dict[str, Any] = {
        "thing_name": "Pump-7",
        "thing_id": "id-1",
        "thing_type_name": "PumpSensor",
        "thing_group_names": ["Fleet", "north"],
        "attributes": {"model": "Legacy", "serial": "abce", "rating": "77"},
        "shadows": {
            None: {
                "reported": {"battery": 75.0, "myvalues": [1, 2, 3], "on": True, "loc": "x"},
                "desired": {"battery": 100},
                "delta": {"battery": 100},
            },
            "$package": {
                "reported": {
                    "telemetry-agent": {"version": "1.2.5", "attributes": {"packageID": "1600"}},
                    "other": {"version": "2.0.0", "attributes": {"packageID": "100"}},
                }
            },
        },
    }
    base.update(overrides)
    return build_document(**base)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("thingName:pump\\-7", True),  # values are case-insensitive
        ("thingName:PUMP*", True),
        ("thingName:pump\\-?", True),
        ("thingName:pump\\-??", False),
        ("thingName:p*7", True),
        ("thingTypeName:pumpsensor", True),
        ("thingGroupNames:NORTH", True),
        ("thingGroupNames:south", False),
        ("attributes.model:legacy", True),
        ("NOT attributes.model:legacy", False),
        ("attributes.Model:legacy", False),  # field names are case-sensitive
        ("attributes.rating:[75 TO 80]", True),  # numeric string, numeric range
        ("attributes.rating:{77 TO 80]", False),
        ("attributes.rating:[* TO 77]", True),
        ("attributes.rating>100", False),  # numeric, not lexicographic ("77" > "100")
        ('attributes.serial:["abcd" TO "abcf"]', True),  # lexicographic
        ("attributes.serial>abcf", False),
        ("attributes.missing:*", False),
        ("NOT attributes.missing:*", True),
        ("shadow.reported.battery:75", True),  # JSON 75.0 equals 75
        ("shadow.reported.battery:{70 TO 100}", True),
        ("shadow.reported.myvalues:2", True),  # any array element
        ("shadow.reported.myvalues>2", True),
        ("shadow.reported.myvalues>3", False),
        ("shadow.reported.on:true", True),
        ("shadow.reported.loc:* NOT shadow.desired.stats.battery:*", True),
        ("shadow.desired.battery>=100", True),
        ("shadow.delta.battery:100", True),
        ("shadow.hasDelta:true", True),
        ("shadow.hasDelta:false", False),
        (f"{PKG}.telemetry\\-agent.version:1.2.5", True),
        (f"NOT {PKG}.other.version:1.2.5", True),
        (f"{PKG}.telemetry\\-agent.version:1.2.*", True),
        (f"{PKG}.*.attributes.packageID>1500", True),
        (f"{PKG}.*.attributes.packageID>2000", False),
        (f"{PKG}.*.version:2.0.0", True),
        ("shadow.name.$package.hasDelta:false", True),
        ("shadow.name.*.reported.other.version:2*", True),
        ("shadow.version:1", False),  # versions are not searchable: match nothing
        ("NOT shadow.version:*", True),
        ("registry.version:*", False),
        ("shadow.name.$package.version:*", False),
        ("abce", True),  # a bare term looks at every field
        ("legacy OR nothing", True),
        ("nothing", False),
        ("1600", True),
        ("75", True),  # a bare number also equals JSON numbers (battery is 75.0)
        ("75.00", True),
        ("77.0", False),  # ...but attribute strings only as text ("77")
        ("*", True),
        ("-*", False),
        ("thingName:(pump\\-7 OR x) AND attributes.model:(legacy AND -new)", True),
    ],
)
def test_evaluation(query: str, expected: bool) -> None:
    assert compile_query(query).matches(_doc()) is expected


def test_things_without_shadows_or_type() -> None:
    doc = build_document(thing_name="bare", thing_id="id")
    assert compile_query("thingName:bare").matches(doc)
    assert not compile_query("shadow.hasDelta:false").matches(doc)
    assert not compile_query("thingTypeName:*").matches(doc)
    assert compile_query("NOT thingGroupNames:*").matches(doc)


def test_compiled_query_metadata() -> None:
    query = compile_query("thingName:a OR attributes.b>2")
    assert query.terms == 2
    assert query.node == Or((Term("thingName", "a"), Compare("attributes.b", ">", "2")))
    assert query.text == "thingName:a OR attributes.b>2"


def test_evaluation_over_a_large_fleet() -> None:
    """A compiled query over 100,000 documents finds exactly the matching ones.

    (Its speed is a benchmark concern, not asserted here.)
    """
    docs = [
        build_document(
            thing_name=f"thing-{i}",
            thing_id=str(i),
            attributes={"model": "pump" if i % 3 else "valve"},
            shadows={"$package": {"reported": {"agent": {"version": f"1.{i % 5}.0"}}}},
        )
        for i in range(100_000)
    ]
    query = compile_query(f"attributes.model:valve AND {PKG}.agent.version:1.2.0")
    hits = sum(1 for d in docs if query.predicate(d))
    assert hits == len([i for i in range(100_000) if i % 3 == 0 and i % 5 == 2])


# -- property: parse it or raise our error -----------------------------------------------------

FRAGMENTS = st.sampled_from(
    [
        "thingName", "attributes.a", "shadow.reported.x", f"{PKG}.p.version", "shadow", ":",
        " ", "(", ")", "[", "]", "{", "}", "TO", "AND", "OR", "NOT", "-", "*", "?", "\\", '"',
        ">", "<", ">=", "<=", "=", "1", "-2", "a", "b.c", "$", "~", "\t", "\u00a0", "é", ".",
        "+", "a-b", "*x", "?", "\u2003", "\x1c", "10:00", "@",
    ]
)  # fmt: skip


@settings(max_examples=examples(600), suppress_health_check=[HealthCheck.too_slow])
@given(st.one_of(st.text(max_size=60), st.lists(FRAGMENTS, max_size=25).map("".join)))
def test_fuzz_parse_or_invalid_query(text: str) -> None:
    try:
        query = compile_query(text)
    except InvalidQueryException:
        return
    assert query.terms <= QuerySyntax().max_terms
    query.matches(_doc())  # and what compiles also evaluates without error


# -- property: the compiled evaluator agrees with a reference evaluator ------------------------

_NUM_RE = re.compile(r"-?[0-9]+(\.[0-9]+)?")
FIELDS_ANY = [
    "thingName",
    "thingGroupNames",
    "attributes.model",
    "attributes.n",
    "shadow.reported.temp",
    "shadow.reported.arr",
    "shadow.reported.cfg.mode",
    "shadow.desired.temp",
    "shadow.hasDelta",
    f"{PKG}.*.attributes.packageID",
    "shadow.name.*.reported.agent.version",
]
FIELDS_NO_ORDER = [f"{PKG}.agent.version", f"{PKG}.*.version"]
WORDS = [
    *("pump", "Pump", "pu", "pumps", "valve", "a1", "x.y", "true", "false", "1.0.0"),
    *("12", "12.0", "7.5", "-3", "100", "7", "75", "1", "0.5"),
]


def _view(thing: dict[str, Any]) -> dict[str, Any]:
    """The thing as nested data, with the index's field layout."""
    shadow: dict[str, Any] = {}
    for name, state in thing["shadows"].items():
        entry = {**state, "hasDelta": bool(state.get("delta"))}
        if name is None:
            shadow.update(entry)
        else:
            shadow.setdefault("name", {})[name] = entry
    return {
        "thingName": thing["thing_name"],
        "thingId": thing["thing_id"],
        "thingGroupNames": thing["thing_group_names"],
        "attributes": thing["attributes"],
        "shadow": shadow,
    }


def _walk(node: Any, path: list[str]) -> list[Any]:
    if isinstance(node, list):
        return [v for item in node for v in _walk(item, path)]
    if not path:
        return [] if isinstance(node, dict) or node is None else [node]
    if not isinstance(node, dict):
        return []
    head, rest = path[0], path[1:]
    keys = list(node) if head == "*" else [head]
    return [v for k in keys if k in node for v in _walk(node[k], rest)]


def _scalars(node: Any) -> list[Any]:
    if isinstance(node, dict):
        return [v for item in node.values() for v in _scalars(item)]
    if isinstance(node, list):
        return [v for item in node for v in _scalars(item)]
    return [] if node is None else [node]


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return repr(value)
    return str(value).lower()


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    return float(value) if _NUM_RE.fullmatch(value) else None


def _glob(pattern: str, text: str) -> bool:
    if not pattern:
        return not text
    if pattern[0] == "*":
        return any(_glob(pattern[1:], text[i:]) for i in range(len(text) + 1))
    if not text:
        return False
    return (pattern[0] == "?" or pattern[0] == text[0]) and _glob(pattern[1:], text[1:])


def _order(value: Any, bound: str, op: str) -> bool:
    a: Any
    b: Any
    if _number(bound) is not None and _number(value) is not None:
        a, b = _number(value), _number(bound)
    else:
        a, b = _text(value), bound.lower()
    return bool({">": a > b, ">=": a >= b, "<": a < b, "<=": a <= b}[op])


def _leaf_ok(q: tuple[Any, ...], v: Any) -> bool:
    kind = q[0]
    if kind == "glob" and not any(c in q[2] for c in "*?"):
        kind = "term"  # a "glob" drawn without wildcards is written, and parsed, as a term
    if kind == "term":
        n = _number(q[2])
        json_number = isinstance(v, int | float) and not isinstance(v, bool)
        return _text(v) == q[2].lower() or (json_number and n is not None and float(v) == n)
    if kind == "prefix":
        return _text(v).startswith(q[2].lower())
    if kind == "glob":
        return _glob(q[2].lower(), _text(v))
    if kind == "exists":
        return True
    if kind == "range":
        _, _, low, high, inc_low, inc_high = q
        return (low is None or _order(v, low, ">=" if inc_low else ">")) and (
            high is None or _order(v, high, "<=" if inc_high else "<")
        )
    assert kind == "cmp"
    return _order(v, q[3], q[2])


def reference(q: tuple[Any, ...], view: dict[str, Any]) -> bool:
    kind = q[0]
    if kind == "all":
        return True
    if kind == "not":
        return not reference(q[1], view)
    if kind == "and":
        return all(reference(p, view) for p in q[1])
    if kind == "or":
        return any(reference(p, view) for p in q[1])
    field = q[1]
    values = _scalars(view) if field is None else _walk(view, field.split("."))
    return any(_leaf_ok(q, v) for v in values)


def _word(value: str) -> str:
    return "\\" + value if value in ("AND", "OR", "NOT", "TO") else value.replace("-", "\\-")


def _word_value(value: str) -> str:
    # `-3` after ':' or in a range is a negative number; elsewhere a leading '-' is escaped.
    return value if _NUM_RE.fullmatch(value) else _word(value)


def render(q: tuple[Any, ...]) -> str:
    kind = q[0]
    if kind == "all":
        return "*"
    if kind == "not":
        inner = render(q[1])
        # `-12` is the number -12, so a negated term starting with a digit needs NOT.
        return ("NOT " if q[2] or inner[0].isdigit() or inner[0] == "." else "-") + inner
    if kind in ("and", "or"):
        glue = " OR " if kind == "or" else (" AND " if q[2] else " ")
        return "(" + glue.join(render(p) for p in q[1]) + ")"
    field = q[1]
    prefix = "" if field is None else field.replace("-", "\\-") + ":"
    if kind == "term":
        value: str = q[2]
        if " " in value or q[3]:
            return prefix + '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
        return prefix + (_word_value(value) if field else _word(value))
    if kind == "prefix":
        return prefix + _word(q[2]) + "*"
    if kind == "glob":
        return prefix + "".join(c if c in "*?" else _word(c) for c in q[2])
    if kind == "exists":
        return prefix + "*"
    if kind == "range":
        _, _, low, high, inc_low, inc_high = q
        bounds = [("*" if b is None else _word_value(b)) for b in (low, high)]
        return (
            f"{prefix}{'[' if inc_low else '{'}{bounds[0]} TO {bounds[1]}{']' if inc_high else '}'}"
        )
    return f"{field}{q[2]}{_word_value(q[3])}"


def _glob_pattern(word: str, data: st.DataObject) -> str:
    chars = list(word)
    for i in range(1, len(chars)):
        if data.draw(st.booleans()):
            chars[i] = data.draw(st.sampled_from("*?"))
    return "".join(chars)


@st.composite
def leaf_queries(draw: st.DrawFn) -> tuple[Any, ...]:
    field = draw(st.sampled_from([None, *FIELDS_ANY, *FIELDS_NO_ORDER]))
    ordered = field is not None and field not in FIELDS_NO_ORDER
    kinds = ["term", "phrase", "prefix", "glob", "exists"] if field else ["term", "prefix", "all"]
    kind = draw(st.sampled_from(kinds + (["range", "cmp"] if ordered else [])))
    word = draw(st.sampled_from(WORDS))
    if kind == "all":
        return ("all",)
    if kind in ("term", "phrase"):
        phrase = kind == "phrase"
        value = draw(st.sampled_from([*WORDS, "two words", 'say "hi"'])) if phrase else word
        return ("term", field, value, phrase)
    if kind == "prefix":
        return ("prefix", field, word[: draw(st.integers(1, len(word)))])
    if kind == "glob":
        if len(word) < 2:
            return ("prefix", field, word)
        data = draw(st.data())
        return ("glob", field, _glob_pattern(word, data))
    if kind == "exists":
        return ("exists", field)
    if kind == "range":
        low = draw(st.sampled_from([None, *WORDS]))
        high = draw(st.sampled_from([None, *WORDS]))
        return ("range", field, low, high, draw(st.booleans()), draw(st.booleans()))
    return ("cmp", field, draw(st.sampled_from([">", ">=", "<", "<="])), word)


def _extend(children: st.SearchStrategy[tuple[Any, ...]]) -> st.SearchStrategy[tuple[Any, ...]]:
    return st.one_of(
        st.tuples(st.just("not"), children, st.booleans()),
        st.tuples(st.just("and"), st.lists(children, min_size=2, max_size=3), st.booleans()),
        st.tuples(st.just("or"), st.lists(children, min_size=2, max_size=3), st.booleans()),
    )


QUERIES = st.recursive(leaf_queries(), _extend, max_leaves=7)

NUMBERS = st.sampled_from([12, 12.0, 7.5, 100, 100.0, -3, -3.0, 0.5, 75, 7, 7.0])
SCALARS = st.one_of(NUMBERS, st.sampled_from(WORDS), st.booleans())


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """Mostly present: a field that is rarely there makes a weak differential test."""
    return st.one_of(strategy, strategy, strategy, st.none())


def _thing(parts: dict[str, Any]) -> dict[str, Any]:
    def present(d: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in d.items() if v is not None}

    shadows: dict[str | None, Any] = {}
    if parts["classic"] is not None:
        shadows[None] = present(parts["classic"])
    if parts["package"] is not None:
        shadows["$package"] = {"reported": parts["package"]}
    return {
        "thing_name": parts["thing_name"],
        "thing_id": "id-1",
        "thing_group_names": parts["groups"],
        "attributes": present(parts["attributes"]),
        "shadows": shadows,
    }


THINGS = st.fixed_dictionaries(
    {
        "thing_name": st.sampled_from(["pump", "Pump-7", "valve", "12", "pumps"]),
        "groups": st.lists(st.sampled_from(["pump", "north", "100", "7.5"]), max_size=2),
        "attributes": st.fixed_dictionaries(
            {
                "model": _maybe(st.sampled_from(WORDS)),
                "n": _maybe(st.sampled_from(["5", "12", "7.5", "100", "-3", "x"])),
            }
        ),
        "classic": _maybe(
            st.fixed_dictionaries(
                {
                    "reported": st.fixed_dictionaries(
                        {
                            "temp": _maybe(SCALARS),
                            "arr": _maybe(st.lists(SCALARS, max_size=3)),
                            "cfg": _maybe(st.fixed_dictionaries({"mode": SCALARS})),
                        }
                    ),
                    "desired": _maybe(st.fixed_dictionaries({"temp": NUMBERS})),
                    "delta": _maybe(st.fixed_dictionaries({"temp": NUMBERS})),
                }
            )
        ),
        "package": _maybe(
            st.dictionaries(
                st.sampled_from(["agent", "other"]),
                st.fixed_dictionaries(
                    {"version": st.sampled_from(["1.0.0", "12", "7.5", "2.0", "100"])},
                    optional={
                        "attributes": st.fixed_dictionaries(
                            {"packageID": st.sampled_from(["100", "1600", "x", "7.5"])}
                        )
                    },
                ),
                max_size=2,
            )
        ),
    }
).map(_thing)


def _check(query: tuple[Any, ...], things: list[dict[str, Any]]) -> None:
    text = render(query)
    compiled = compile_query(text, syntax=QuerySyntax(max_terms=50))
    for thing in things:
        doc = build_document(**thing)
        assert compiled.matches(doc) is reference(query, _view(thing)), (text, thing)


@settings(max_examples=examples(300), suppress_health_check=[HealthCheck.too_slow])
@given(leaf_queries(), st.lists(THINGS, min_size=3, max_size=6))
def test_compiled_leaves_agree_with_reference(
    query: tuple[Any, ...], things: list[dict[str, Any]]
) -> None:
    _check(query, things)


@settings(max_examples=examples(200), suppress_health_check=[HealthCheck.too_slow])
@given(QUERIES, st.lists(THINGS, min_size=2, max_size=4))
def test_compiled_queries_agree_with_reference(
    query: tuple[Any, ...], things: list[dict[str, Any]]
) -> None:
    _check(query, things)
