"""Wildcard matching without backtracking (:mod:`simulator.core.fleet_query.glob`).

The matcher agrees with a regular-expression reference on random small patterns and texts, and
its work is bounded by the text: the step counter never exceeds the text's length, and on the
patterns that made the old backtracking matcher take seconds it grows linearly with the text.
"""

from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.fleet_query import (
    Wildcard,
    build_document,
    compile_glob,
    compile_query,
    parse,
    parse_number,
)
from tests.hypothesis_profiles import examples


def reference(pattern: str, text: str) -> bool:
    """fnmatch-style translation to a regular expression (fine on small inputs)."""
    out: list[str] = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            out.append(re.escape(pattern[i + 1]))
            i += 2
            continue
        out.append(".*" if c == "*" else "." if c == "?" else re.escape(c))
        i += 1
    return re.fullmatch("".join(out), text, re.DOTALL) is not None


PATTERN_ATOMS = st.sampled_from(["a", "b", "c", "*", "?", "\\*", "\\?", "\\\\", "\\a", "-"])
PATTERNS = st.lists(PATTERN_ATOMS, max_size=10).map("".join)
TEXTS = st.text(alphabet="abc*?\\-", max_size=14)


@settings(max_examples=examples(2000))
@given(PATTERNS, TEXTS)
def test_agrees_with_a_regex_reference(pattern: str, text: str) -> None:
    glob = compile_glob(pattern)
    assert glob.match(text) is reference(pattern, text), (pattern, text)
    assert glob.steps(text) <= len(text)


@settings(max_examples=examples(300))
@given(PATTERNS, st.text(alphabet="ab", min_size=1, max_size=8))
def test_matches_texts_built_from_the_pattern(pattern: str, filler: str) -> None:
    """Texts that do match (random texts rarely do): expand each wildcard, then compare."""
    text = []
    i = 0
    while i < len(pattern):
        c = pattern[i]
        if c == "\\" and i + 1 < len(pattern):
            text.append(pattern[i + 1])
            i += 2
            continue
        text.append(filler if c == "*" else filler[0] if c == "?" else c)
        i += 1
    assert compile_glob(pattern).match("".join(text)), (pattern, text)


@pytest.mark.parametrize(
    ("pattern", "text", "expected"),
    [
        ("", "", True),
        ("", "a", False),
        ("*", "", True),
        ("**", "abc", True),
        ("a**b", "ab", True),
        ("a*", "a", True),
        ("*a", "ba", True),
        ("?", "", False),
        ("??", "ab", True),
        ("a?c", "abc", True),
        ("a?c", "ac", False),
        ("*a?b*", "xxaxbyy", True),
        ("*a?b*", "xxaxxbyy", False),
        ("a*?*?", "ab", False),
        ("a*?*?", "abc", True),
        ("\\*a", "*a", True),
        ("\\*a", "xa", False),
        ("a\\?", "a?", True),
        ("a\\?", "ab", False),
        ("a\\\\", "a\\", True),
        ("sensor-00*", "sensor-0042", True),
        ("i*t", "it", True),
        ("i*t", "iot", True),
        ("i*t", "io", False),
        ("ab?", "aba", True),
        ("ab?", "ab", False),
        ("*é?*", "xéy", True),
    ],
)
def test_examples(pattern: str, text: str, expected: bool) -> None:
    assert compile_glob(pattern).match(text) is expected
    assert reference(pattern, text) is expected


# -- the bound -----------------------------------------------------------------------------------

ADVERSARIAL = [
    "a*a*a*a*b",  # the query of the issue: backtracking regexes took 18-33 s on 800 characters
    "a*a*a*a*a*a*b",  # six wildcards: over 2 minutes
    "a*a*a*a*b*",  # the failure found in a middle segment: a full scan
    "*a?a?a?b*",  # '?' segments: the Shift-And search
    "a" + "*a" * 40 + "*b*",
    "*" + "?" * 50 + "b*",
]


@pytest.mark.parametrize("pattern", ADVERSARIAL)
def test_work_is_linear_in_the_text(pattern: str) -> None:
    glob = compile_glob(pattern)
    counts = []
    for n in (1_000, 2_000, 4_000, 8_000):
        text = "a" * n
        assert glob.match(text) is False
        steps = glob.steps(text)
        assert steps <= n
        counts.append(steps)
    # Doubling the text at most doubles the work (plus a constant for the fixed parts).
    for small, large in itertools.pairwise(counts):
        assert large <= 2 * small + 2 * len(pattern)


def test_full_scans_are_really_counted() -> None:
    """The counter is not trivially small: a scan that must cover the text counts it."""
    glob = compile_glob("a*a*a*a*b*")
    assert glob.steps("a" * 1000) >= 990
    assert glob.steps("a" * 2000) >= 1990
    shift_and = compile_glob("*a?a?a?b*")
    assert shift_and.steps("a" * 1000) == 1000


def test_an_oversized_pattern_is_refused_before_any_work() -> None:
    glob = compile_glob("a?" * 5_000 + "*")
    assert glob.steps("a" * 800) == 0
    assert compile_glob("*" * 10_000).match("x")
    assert len(compile_glob("a" + "*" * 10_000 + "b").segments) == 2  # '**...' is '*'


def test_the_issue_query_over_an_800_character_attribute() -> None:
    """``attributes.x:a*a*a*a*b`` (and six wildcards) evaluate by a bounded scan."""
    doc = build_document(thing_name="t", thing_id="1", attributes={"x": "a" * 800})
    for query in ("attributes.x:a*a*a*a*b", "attributes.x:a*a*a*a*a*a*b", "a*a*a*a*b*"):
        node = parse(query)
        assert isinstance(node, Wildcard)
        assert compile_glob(node.pattern).steps("a" * 800) <= 800
        assert compile_query(query).matches(doc) is False
    assert compile_query("attributes.x:a*a*a*a*a").matches(doc) is True


# -- no other backtracking over document values ----------------------------------------------------

_OLD_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")


@settings(max_examples=examples(1000))
@given(st.text(alphabet="0123456789.+-eEx ", max_size=12))
def test_number_rule_is_unchanged(text: str) -> None:
    """The possessive number pattern accepts exactly what the backtracking one did."""
    assert (parse_number(text) is not None) is (_OLD_NUMBER.fullmatch(text) is not None)


def test_numbers_are_parsed_without_backtracking() -> None:
    """The old pattern backtracked quadratically: ~5 minutes for this value, 2 s for 8,000 digits.

    Range and comparison leaves parse every string value they meet, so one such shadow value per
    thing froze the loop for a range query; this returns at once now.
    """
    assert parse_number("1" * 100_000 + "x") is None
    assert parse_number("1" * 100_000) == float("1" * 100_000)
    doc = build_document(thing_name="t", thing_id="1", attributes={"x": "1" * 800 + "x"})
    assert not compile_query("attributes.x>5").matches(doc)  # not a number: "111...x" < "5"
    assert compile_query("attributes.x<5").matches(doc)
