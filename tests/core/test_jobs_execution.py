"""The execution transition table, walked whole, and statusDetails validation."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.core.errors import InvalidRequestException
from simulator.core.jobs import (
    DEVICE_STATUSES,
    TERMINAL,
    TRANSITIONS,
    Actor,
    ExecutionStatus,
    Refusal,
    check_status_details,
    check_transition,
)

S = ExecutionStatus
A = Actor

# The rules of reference section 3.2 written out independently of the module's table:
# (from, actor) -> the statuses that actor may set.
EXPECTED: dict[tuple[ExecutionStatus, Actor], set[ExecutionStatus]] = {
    (S.QUEUED, A.DEVICE): {S.IN_PROGRESS, S.SUCCEEDED, S.FAILED, S.REJECTED},
    (S.IN_PROGRESS, A.DEVICE): {S.IN_PROGRESS, S.SUCCEEDED, S.FAILED, S.REJECTED},
    (S.QUEUED, A.CANCEL): {S.CANCELED},
    (S.QUEUED, A.FORCE_CANCEL): {S.CANCELED},
    (S.IN_PROGRESS, A.FORCE_CANCEL): {S.CANCELED},
    (S.IN_PROGRESS, A.TIMEOUT): {S.TIMED_OUT},
    (S.QUEUED, A.REMOVE): {S.REMOVED},
    (S.IN_PROGRESS, A.REMOVE): {S.REMOVED},
    (S.QUEUED, A.ABORT): {S.CANCELED},
}


@pytest.mark.parametrize(("current", "actor", "target"), list(itertools.product(S, A, S)), ids=str)
def test_every_cell_of_the_table(current: S, actor: A, target: S) -> None:
    allowed = target in EXPECTED.get((current, actor), set())
    refusal = check_transition(current, actor, target)
    assert (refusal is None) == allowed
    if not allowed:
        if current in TERMINAL:
            assert refusal is Refusal.TERMINAL
        elif actor is A.DEVICE and target not in DEVICE_STATUSES:
            assert refusal is Refusal.NOT_DEVICE_STATUS
        elif actor in (A.CANCEL, A.ABORT) and current is S.IN_PROGRESS:
            assert refusal is Refusal.NEEDS_FORCE


def test_table_has_exactly_the_expected_cells() -> None:
    assert {k: set(v) for k, v in TRANSITIONS.items()} == EXPECTED


def test_terminal_is_final_for_everyone() -> None:
    for current, actor, target in itertools.product(TERMINAL, A, S):
        assert check_transition(current, actor, target) is Refusal.TERMINAL


def test_devices_set_only_their_four_statuses() -> None:
    assert {S.IN_PROGRESS, S.SUCCEEDED, S.FAILED, S.REJECTED} == DEVICE_STATUSES
    for current in (S.QUEUED, S.IN_PROGRESS):
        for target in set(S) - DEVICE_STATUSES:
            assert check_transition(current, A.DEVICE, target) is Refusal.NOT_DEVICE_STATUS


@pytest.mark.parametrize("target", [S.SUCCEEDED, S.FAILED, S.REJECTED])
def test_queued_to_terminal_is_an_option(target: S) -> None:
    assert check_transition(S.QUEUED, A.DEVICE, target) is None
    refusal = check_transition(S.QUEUED, A.DEVICE, target, queued_to_terminal=False)
    assert refusal is Refusal.NOT_STARTED
    assert check_transition(S.QUEUED, A.DEVICE, S.IN_PROGRESS, queued_to_terminal=False) is None
    assert check_transition(S.IN_PROGRESS, A.DEVICE, target, queued_to_terminal=False) is None


def test_terminal_property() -> None:
    assert {s for s in S if s.terminal} == TERMINAL
    assert not S.QUEUED.terminal
    assert not S.IN_PROGRESS.terminal


# -- statusDetails -----------------------------------------------------------------------------


def test_status_details_valid() -> None:
    details = {f"k:{i}_-": "v" * 1024 for i in range(10)}
    out = check_status_details(details)
    assert out == details
    assert out is not details
    assert check_status_details({}) == {}
    assert check_status_details({"k": "ünïcode ✓"}) == {"k": "ünïcode ✓"}


@pytest.mark.parametrize(
    "details",
    [
        {f"k{i}": "v" for i in range(11)},
        {"": "v"},
        {"k" * 129: "v"},
        {"bad key": "v"},
        {"k": ""},
        {"k": "v" * 1025},
        {"k": "tab\there"},
        {"k": "zero\u200bwidth"},
        {"k": 1},
        {1: "v"},
        ["k", "v"],
        "k=v",
        None,
    ],
)
def test_status_details_invalid(details: object) -> None:
    with pytest.raises(InvalidRequestException):
        check_status_details(details)


@given(st.dictionaries(st.text(max_size=130), st.text(max_size=1030), max_size=12) | st.none())
def test_status_details_parse_or_refuse(details: object) -> None:
    try:
        out = check_status_details(details)
    except InvalidRequestException:
        return
    assert out == details
