"""Human-readable numbers in the HTML report."""

from __future__ import annotations

import math

import pytest

from simulator.report import _format


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (0.0, "0 s"),
        (0.5234, "0.523 s"),
        (51.0, "51 s"),
        (179.0, "179 s"),
        (181.0, "3.02 min"),
        (3600.0, "60 min"),
        (4 * 3600.0, "4 h"),
        (10 * 86400.0, "10 d"),
        (None, "–"),
        (math.nan, "–"),
    ],
)
def test_duration(seconds: float | None, text: str) -> None:
    assert _format.duration(seconds) == text


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (75.0, "75.0 %"),
        (100.0, "100 %"),
        (0.0, "0 %"),
        (99.996, "99.99 %"),
        (0.0123, "0.012 %"),
        (None, "–"),
    ],
)
def test_pct_never_rounds_up_to_100(value: float | None, text: str) -> None:
    assert _format.pct(value) == text


def test_counts_and_statuses() -> None:
    assert _format.count(1234567) == "1,234,567"
    assert _format.mib(812.4) == "812 MiB"
    assert _format.statuses({"FAILED": 2, "SUCCEEDED": 9800, "QUEUED": 0}) == (
        "SUCCEEDED 9,800 · FAILED 2"
    )
    assert _format.statuses({}) == "–"


def test_short_arn() -> None:
    arn = "arn:aws:iot:us-west-2:123456789012:package/samplePackage/version/2.1.5"
    assert _format.short_arn(arn) == "samplePackage 2.1.5"
    assert _format.short_arn("not-an-arn") == "not-an-arn"
