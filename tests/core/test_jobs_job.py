"""The job transition table, walked whole."""

from __future__ import annotations

import itertools

import pytest

from simulator.core.jobs import JOB_TRANSITIONS, JobEvent, JobStatus, job_transition

J = JobStatus
E = JobEvent

EXPECTED = {
    (J.SCHEDULED, E.START): J.IN_PROGRESS,
    (J.IN_PROGRESS, E.COMPLETE): J.COMPLETED,
    (J.SCHEDULED, E.CANCEL): J.CANCELED,
    (J.IN_PROGRESS, E.CANCEL): J.CANCELED,
    (J.SCHEDULED, E.FORCE_CANCEL): J.CANCELED,
    (J.IN_PROGRESS, E.FORCE_CANCEL): J.CANCELED,
    (J.CANCELED, E.FORCE_CANCEL): J.CANCELED,
    (J.IN_PROGRESS, E.ABORT): J.CANCELED,
    (J.COMPLETED, E.DELETE): J.DELETION_IN_PROGRESS,
    (J.CANCELED, E.DELETE): J.DELETION_IN_PROGRESS,
    (J.SCHEDULED, E.FORCE_DELETE): J.DELETION_IN_PROGRESS,
    (J.IN_PROGRESS, E.FORCE_DELETE): J.DELETION_IN_PROGRESS,
    (J.COMPLETED, E.FORCE_DELETE): J.DELETION_IN_PROGRESS,
    (J.CANCELED, E.FORCE_DELETE): J.DELETION_IN_PROGRESS,
}


@pytest.mark.parametrize(("status", "event"), list(itertools.product(J, E)), ids=str)
def test_every_cell(status: J, event: E) -> None:
    assert job_transition(status, event) is EXPECTED.get((status, event))


def test_table_is_exactly_the_expected_one() -> None:
    assert dict(JOB_TRANSITIONS) == EXPECTED


def test_deletion_in_progress_accepts_nothing() -> None:
    assert all(job_transition(J.DELETION_IN_PROGRESS, e) is None for e in E)


def test_only_completed_or_canceled_delete_without_force() -> None:
    assert {s for s in J if job_transition(s, E.DELETE)} == {J.COMPLETED, J.CANCELED}
