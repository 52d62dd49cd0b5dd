"""The query grammar checked against its sources, one decision per test.

Sources: the AWS developer guide's *Query syntax* and *Example thing queries* pages (current, and
the archived ``awsdocs/aws-iot-docs`` versions where they differ), and Lucene's classic
``QueryParser.jj``, which AWS says the language is based on. The module docstrings of
:mod:`simulator.core.fleet_query.lexer` and :mod:`~simulator.core.fleet_query.parser` hold the
notes; what the sources leave open is a :class:`QuerySyntax` option, tested both ways here.
"""

from __future__ import annotations

import re

import pytest

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
    parse,
)

SENSOR = build_document(
    thing_name="sensor-0042",
    thing_id="id-1",
    attributes={"site": "eu-west-1", "build": "1.0+rc1", "at": "10:30"},
)


def _refused(query: str, message: str, syntax: QuerySyntax | None = None) -> None:
    with pytest.raises(InvalidQueryException, match=re.escape(message)) as info:
        parse(query, syntax=syntax)
    assert info.value.http_status == 400
    assert info.value.error_type == "InvalidQueryException"


# -- '-' and '+': operators where a term starts, term characters inside (Lucene _TERM_CHAR) ------


@pytest.mark.parametrize(
    ("query", "ast"),
    [
        ("thingName:sensor-0042", Term("thingName", "sensor-0042")),
        ("attributes.site:eu-west-1", Term("attributes.site", "eu-west-1")),
        ("thingName:sensor-00*", Prefix("thingName", "sensor-00")),
        ("thingName:sensor-00?2", Wildcard("thingName", "sensor-00?2")),
        ("sensor-0042", Term(None, "sensor-0042")),
        ("attributes.my-attr:x", Term("attributes.my-attr", "x")),
        ("attributes.build:1.0+rc1", Term("attributes.build", "1.0+rc1")),
        ("-thingName:a", Not(Term("thingName", "a"))),
        ("+thingName:a", Term("thingName", "a")),
        ("thingName:(tv* AND -plasma)", And((Prefix("thingName", "tv"), Not(Term("thingName", "plasma"))))),  # noqa: E501
        ("thingName:a -thingName:b-c", And((Term("thingName", "a"), Not(Term("thingName", "b-c"))))),  # noqa: E501
        ("(-a)", Not(Term(None, "a"))),
        ('"x"-y', And((Term(None, "x", phrase=True), Not(Term(None, "y"))))),
        ("thingName:a\\-b", Term("thingName", "a-b")),  # escaping still works
    ],
)  # fmt: skip
def test_hyphen_and_plus(query: str, ast: object) -> None:
    assert parse(query) == ast


def test_hyphenated_names_match() -> None:
    for query in (
        "thingName:sensor-0042",
        "thingName:SENSOR-0042",
        "thingName:sensor-00*",
        "attributes.site:eu-west-1 AND -attributes.site:eu-west-2",
        "attributes.build:1.0+rc1",
        "sensor-0042",
    ):
        assert compile_query(query).matches(SENSOR), query
    assert not compile_query("-thingName:sensor-0042").matches(SENSOR)


def test_operators_need_a_term() -> None:
    _refused("- thingName:a", "'-' must be followed by a term at position 0")
    _refused("thingName:a +", "'+' must be followed by a term at position 12")
    _refused("thingName:-x", "expected a value after ':'")  # a modifier after ':' (Lucene too)


def test_hyphen_and_plus_options() -> None:
    escape = QuerySyntax(hyphen="escape")
    _refused("thingName:sensor-0042", "must be escaped as '\\-' at position 16", escape)
    assert parse("thingName:sensor\\-0042", syntax=escape) == Term("thingName", "sensor-0042")
    assert parse("-thingName:a", syntax=escape) == Not(Term("thingName", "a"))
    _refused("+thingName:a", "the '+' operator is not supported", QuerySyntax(plus="refused"))


def test_negative_numbers() -> None:
    assert parse("attributes.t>-5") == Compare("attributes.t", ">", "-5")
    assert parse("attributes.t:-5") == Term("attributes.t", "-5")
    assert parse("attributes.t:[-10 TO -5.5]") == Range("attributes.t", "-10", "-5.5")
    assert parse("-5") == Not(Term(None, "5"))  # Lucene: an excluded term
    assert parse("attributes.t:(-5 OR 7)") == Or(
        (Not(Term("attributes.t", "5")), Term("attributes.t", "7"))
    )
    _refused("attributes.t:-x", "expected a value after ':'")
    _refused("attributes.t:-5x", "expected a value after ':'")  # not a number: an operator


# -- phrases, escapes, whitespace ------------------------------------------------------------------


def test_phrases() -> None:
    assert parse('attributes.a:"two words"') == Term("attributes.a", "two words", phrase=True)
    assert parse('attributes.a:"a*b?"') == Term("attributes.a", "a*b?", phrase=True)  # literal
    assert parse('"a \\" b"') == Term(None, 'a " b', phrase=True)
    assert parse('"sensor-0042 x"') == Term(None, "sensor-0042 x", phrase=True)
    doc = build_document(thing_name="t", thing_id="1", attributes={"a": "Two Words"})
    assert compile_query('attributes.a:"two words"').matches(doc)
    assert not compile_query('attributes.a:"two"').matches(doc)  # a value is one term


def test_escapes() -> None:
    assert parse("attributes.a:x\\ y") == Term("attributes.a", "x y")
    assert parse("attributes.a:\\(x\\)") == Term("attributes.a", "(x)")
    assert parse("attributes.a\\:b:x") == Term("attributes.a:b", "x")
    assert parse("attributes.mail:a\\@b") == Term("attributes.mail", "a@b")
    assert parse("attributes.a:x\\*") == Term("attributes.a", "x*")
    assert parse("attributes.a:\\*x") == Term("attributes.a", "*x")  # not a leading wildcard
    assert parse("\\-a") == Term(None, "-a")
    assert parse("\\+a") == Term(None, "+a")


def test_whitespace_is_javas() -> None:
    """AWS: words are separated by Java's ``Character.isWhitespace``."""
    assert parse("thingName:a\u2003thingName:b") == And(
        (Term("thingName", "a"), Term("thingName", "b"))
    )
    assert parse("thingName:a\x1cthingName:b") == And(
        (Term("thingName", "a"), Term("thingName", "b"))
    )
    # A no-break space is not whitespace in Java: it is part of the word.
    assert parse("thingName:a\u00a0b") == Term("thingName", "a\u00a0b")
    assert parse("thingName:a\x85b") == Term("thingName", "a\x85b")


# -- ranges: Lucene's Range lexer state ------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "ast"),
    [
        ("attributes.at:[10:00 TO 11:00]", Range("attributes.at", "10:00", "11:00")),
        ("attributes.d:[2024-01-01 TO *]", Range("attributes.d", "2024-01-01", None)),
        ("attributes.d:{* TO 2024-01-01}", Range("attributes.d", None, "2024-01-01", False, False)),
        ('attributes.s:["a b" TO "c d"]', Range("attributes.s", "a b", "c d")),
        ("attributes.s:[a\\]b TO c]", Range("attributes.s", "a]b", "c")),
        ("attributes.s:[ a  TO  b ]", Range("attributes.s", "a", "b")),
    ],
)
def test_ranges(query: str, ast: object) -> None:
    assert parse(query) == ast


def test_range_evaluation_with_lucene_bounds() -> None:
    assert compile_query("attributes.at:[10:00 TO 11:00]").matches(SENSOR)
    assert not compile_query("attributes.at:{10:30 TO 11:00]").matches(SENSOR)
    assert compile_query("attributes.site:[eu-a TO eu-z]").matches(SENSOR)


def test_range_errors() -> None:
    _refused("attributes.a:[1 TO 2", "']' or '}' closing the range")
    _refused("attributes.a:[1 TO 2)", "']' or '}' closing the range")
    _refused("attributes.a:[1* TO 2]", "a range bound cannot hold wildcards")
    _refused("attributes.a:[1 2]", "expected 'TO'")
    _refused("attributes.a:[a@b TO c]", "unsupported character")


# -- documented unsupported characters and features ------------------------------------------------


@pytest.mark.parametrize(
    ("char", "why"),
    [
        *((c, "unsupported character") for c in "`@#%';,"),
        ("/", "regular expressions are not supported"),
        ("^", "boosting is not supported"),
        ("~", "fuzzy and proximity searches are not supported"),
        ("!", "use NOT"),
        ("&", "use AND"),
        ("|", "use OR"),
        ("=", "use ':'"),
    ],
)
def test_unsupported_characters(char: str, why: str) -> None:
    _refused(f"attributes.a:x{char}y", why)
    _refused(
        f"attributes.a:x{char}y", "; escape it with a backslash to search for it at position 14"
    )
    assert parse(f"attributes.a:x\\{char}y") == Term("attributes.a", f"x{char}y")


def test_lucene_features_aws_does_not_support() -> None:
    _refused("thingName:abc~2", "fuzzy")
    _refused('"a b"~2', "fuzzy")
    _refused("thingName:abc^2", "boosting")
    _refused("thingName:/ab.*/", "regular expressions")
    _refused("thingName:a && thingName:b", "use AND")
    _refused("thingName:a || thingName:b", "use OR")
    _refused("!thingName:a", "use NOT")


# -- wildcards and the leading-wildcard rule -------------------------------------------------------


def test_wildcards() -> None:
    assert parse("thingName:ab?") == Wildcard("thingName", "ab?")
    assert parse("attributes.myAttribute:i*t") == Wildcard("attributes.myAttribute", "i*t")
    assert parse("thingName:my*") == Prefix("thingName", "my")
    assert parse("*") == MatchAll()
    assert parse("shadow.reported.location:*") == Exists("shadow.reported.location")


def test_leading_wildcards_current_rule() -> None:
    """Current page: allowed in 1 term per query; such queries are at most 100 characters."""
    assert parse("thingName:*my") == Wildcard("thingName", "*my")
    assert parse("thingName:*my*") == Wildcard("thingName", "*my*")
    assert parse("thingName:?y") == Wildcard("thingName", "?y")
    assert parse("*0042") == Wildcard(None, "*0042")
    assert compile_query("thingName:*0042").matches(SENSOR)
    assert compile_query("thingName:*-00*").matches(SENSOR)
    assert not compile_query("thingName:*0043").matches(SENSOR)
    # The documented counter-example, and a field group.
    _refused(
        "thingName:*my AND thingGroupNames:*echo", "limited to 1 term per query at position 34"
    )
    _refused("thingName:(*a OR *b)", "limited to 1 term")
    # `*` alone and `field:*` are not leading wildcards.
    assert parse("thingName:*x AND attributes.a:* AND *") == And(
        (Wildcard("thingName", "*x"), Exists("attributes.a"), MatchAll())
    )
    long = "thingName:*my AND attributes.a:" + "x" * 70
    assert len(long) == 101
    _refused(long, "limited to 100 characters (this one has 101) at position 10")
    parse(long[:-1])
    parse("attributes.a:" + "x" * 200)  # the length limit is only for leading wildcards


def test_leading_wildcard_options() -> None:
    archived = QuerySyntax(leading_wildcard="refused")
    _refused("thingName:*my", "a leading wildcard is not supported", archived)
    assert parse("*", syntax=archived) == MatchAll()
    assert parse("thingName:*", syntax=archived) == Exists("thingName")
    more = QuerySyntax(max_leading_wildcard_terms=2, max_leading_wildcard_query_length=1000)
    parse("thingName:*my AND thingGroupNames:*echo", syntax=more)


# -- the term limit --------------------------------------------------------------------------------


def test_term_limit_is_twelve() -> None:
    """Current page: "The maximum number of terms in a query is 12" (5 and 7 earlier)."""
    assert QuerySyntax().max_terms == 12
    parse(" OR ".join(f"thingName:t{i}" for i in range(12)))
    _refused(
        " OR ".join(f"thingName:t{i}" for i in range(13)), "13 terms, more than the 12 allowed"
    )
    _refused(
        "thingName:(a b c d e f)", "6 terms, more than the 5 allowed", QuerySyntax(max_terms=5)
    )


# -- every documented example ----------------------------------------------------------------------

EXAMPLES = [
    "abc",
    "thingName:myThingName",
    "thingName:my*",
    "thingName:*my",
    "thingName:*my*",
    "thingName:ab?",
    "thingTypeName:aa",
    "thingGroupNames:a",
    "thingGroupNames:a*",
    "attributes.myAttribute:75",
    "attributes.myAttribute:[75 TO 80]",
    "attributes.myAttribute:{75 TO 80]",
    'attributes.serialNumber:["abcd" TO "abcf"]',
    "attributes.myAttribute:i*t",
    "attributes.attr1:abc AND attributes.attr2<5 NOT attributes.attr3>10",
    "shadow.hasDelta:true",
    "NOT attributes.model:legacy",
    "shadow.reported.stats.battery:{70 TO 100} (v2 OR v3) NOT attributes.model:legacy",
    "shadow.reported.myvalues:2",
    "shadow.reported.location:* NOT shadow.desired.stats.battery:*",
    "thingName:(tv* AND -plasma)",
    "shadow.name.$package.reported.SamplePackage.version:1.0.0",
    "NOT shadow.name.$package.reported.OtherPackage.version:1.2.5",
    "shadow.name.$package.reported.*.attributes.packageID>1500",
    "shadow.name.$package.reported.telemetry-agent.version:*",
    "shadow.name.$package.reported.telemetry\\-agent.version:*",
]


@pytest.mark.parametrize("query", EXAMPLES)
def test_documented_examples(query: str) -> None:
    compile_query(query).matches(SENSOR)
