"""When a run may consider a job done (``JobInfo.settled``), the stop rule of every plane."""

from __future__ import annotations

import pytest

from simulator.engine.planes.base import JobInfo


def _job(status: str, continuous: bool, **counts: int) -> JobInfo:
    return JobInfo("j", status, 0.0, None, counts, 3, (), continuous)


@pytest.mark.parametrize(
    ("status", "continuous", "counts", "settled"),
    [
        ("IN_PROGRESS", False, {"QUEUED": 1}, False),
        ("IN_PROGRESS", False, {"SUCCEEDED": 3}, False),  # a snapshot job still rolling out
        ("COMPLETED", False, {"SUCCEEDED": 3}, True),
        ("CANCELED", False, {"CANCELED": 3}, True),
        ("IN_PROGRESS", True, {"SUCCEEDED": 3}, True),  # continuous: never ends by itself
        ("IN_PROGRESS", True, {"IN_PROGRESS": 1}, False),
        ("SCHEDULED", True, {}, False),  # its whole rollout is ahead of it
        ("SCHEDULED", False, {}, False),
    ],
)
def test_settled(status: str, continuous: bool, counts: dict[str, int], settled: bool) -> None:
    assert _job(status, continuous, **counts).settled is settled
