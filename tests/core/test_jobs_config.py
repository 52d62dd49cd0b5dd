"""Parsing the job configuration members: valid shapes, refusals, and a fuzz of the parsers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.errors import InvalidRequestException
from simulator.core.jobs import (
    AbortCriteria,
    ExponentialRate,
    RetryCriteria,
    parse_abort_config,
    parse_maintenance_windows,
    parse_presigned_url_config,
    parse_retry_config,
    parse_rollout_config,
    parse_scheduling_config,
    parse_timeout_config,
)
from tests.hypothesis_profiles import examples

ROLE = "arn:aws:iam::123456789012:role/presign"
NOW = 1_700_000_000.0


def _at(seconds_from_now: float) -> str:
    when = dt.datetime.fromtimestamp(NOW + seconds_from_now, tz=dt.UTC)
    return when.strftime("%Y-%m-%dT%H:%M")


def test_presigned_url_config() -> None:
    config = parse_presigned_url_config({"roleArn": ROLE})
    assert (config.role_arn, config.expires_in_sec) == (ROLE, 3600)
    assert parse_presigned_url_config({"roleArn": ROLE, "expiresInSec": 60}).expires_in_sec == 60
    assert config.to_wire() == {"roleArn": ROLE, "expiresInSec": 3600}


@pytest.mark.parametrize(
    "raw",
    [
        {"expiresInSec": 59},
        {"expiresInSec": 3601},
        {"expiresInSec": "60"},
        {"expiresInSec": True},
        {"roleArn": "short"},
        {"roleArn": 5},
        {"other": 1},
        [],
    ],
)
def test_presigned_url_config_refused(raw: object) -> None:
    with pytest.raises(InvalidRequestException):
        parse_presigned_url_config(raw)


def test_rollout_constant_and_exponential() -> None:
    assert parse_rollout_config({"maximumPerMinute": 5}).maximum_per_minute == 5
    exp = parse_rollout_config(
        {
            "exponentialRate": {
                "baseRatePerMinute": 50,
                "incrementFactor": 2,
                "rateIncreaseCriteria": {"numberOfNotifiedThings": 1000},
            }
        }
    )
    assert exp.exponential_rate == ExponentialRate(50, 2.0, 1000, None)
    assert exp.to_wire()["exponentialRate"]["rateIncreaseCriteria"] == {
        "numberOfNotifiedThings": 1000
    }
    assert parse_rollout_config({}).maximum_per_minute is None


_EXP = {"baseRatePerMinute": 10, "incrementFactor": 1.5}


@pytest.mark.parametrize(
    ("raw", "fragment"),
    [
        ({"maximumPerMinute": 0}, "maximumPerMinute"),
        ({"maximumPerMinute": 1.5}, "integer"),
        (
            {"maximumPerMinute": 1, "exponentialRate": {**_EXP, "rateIncreaseCriteria": {}}},
            "mutually exclusive",
        ),
        ({"exponentialRate": _EXP}, "rateIncreaseCriteria: is required"),
        ({"exponentialRate": {**_EXP, "rateIncreaseCriteria": {}}}, "exactly one"),
        (
            {
                "exponentialRate": {
                    **_EXP,
                    "incrementFactor": 1.55,
                    "rateIncreaseCriteria": {"numberOfSucceededThings": 1},
                }
            },
            "1 digit",
        ),
        (
            {
                "exponentialRate": {
                    **_EXP,
                    "incrementFactor": 5.1,
                    "rateIncreaseCriteria": {"numberOfSucceededThings": 1},
                }
            },
            "between 1.1 and 5",
        ),
        (
            {
                "exponentialRate": {
                    **_EXP,
                    "baseRatePerMinute": 1001,
                    "rateIncreaseCriteria": {"numberOfSucceededThings": 1},
                }
            },
            "between 1 and 1000",
        ),
    ],
)
def test_rollout_refused_with_clear_message(raw: dict[str, Any], fragment: str) -> None:
    with pytest.raises(InvalidRequestException) as info:
        parse_rollout_config(raw)
    assert fragment in info.value.message
    assert info.value.message.startswith("jobExecutionsRolloutConfig")


def test_abort_config() -> None:
    config = parse_abort_config(
        {
            "criteriaList": [
                {
                    "failureType": "FAILED",
                    "action": "CANCEL",
                    "thresholdPercentage": 10.55,
                    "minNumberOfExecutedThings": 3,
                }
            ]
        }
    )
    assert config.criteria == (AbortCriteria("FAILED", 10.55, 3),)
    assert config.to_wire()["criteriaList"][0]["thresholdPercentage"] == 10.55


@pytest.mark.parametrize(
    "crit",
    [
        {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 10.555},
        {"failureType": "NOPE", "action": "CANCEL", "thresholdPercentage": 1},
        {"failureType": "FAILED", "action": "STOP", "thresholdPercentage": 1},
        {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": 101},
        {"failureType": "FAILED", "action": "CANCEL", "thresholdPercentage": float("nan")},
        {"failureType": "FAILED", "action": "CANCEL"},
    ],
)
def test_abort_refused(crit: dict[str, Any]) -> None:
    crit = {"minNumberOfExecutedThings": 1, **crit}
    with pytest.raises(InvalidRequestException):
        parse_abort_config({"criteriaList": [crit]})
    with pytest.raises(InvalidRequestException):
        parse_abort_config({"criteriaList": []})


def test_timeout_config() -> None:
    assert parse_timeout_config({"inProgressTimeoutInMinutes": 10080}).to_wire() == {
        "inProgressTimeoutInMinutes": 10080
    }
    assert parse_timeout_config({}).in_progress_timeout_in_minutes is None
    for bad in (0, 10081, "5"):
        with pytest.raises(InvalidRequestException):
            parse_timeout_config({"inProgressTimeoutInMinutes": bad})


def test_retry_config() -> None:
    config = parse_retry_config(
        {
            "criteriaList": [
                {"failureType": "FAILED", "numberOfRetries": 4},
                {"failureType": "ALL", "numberOfRetries": 6},
            ]
        }
    )
    assert config.criteria == (RetryCriteria("FAILED", 4), RetryCriteria("ALL", 6))
    assert config.limit("FAILED") == 4
    assert config.limit("TIMED_OUT") == 6


@pytest.mark.parametrize(
    "criteria",
    [
        [],
        [{"failureType": "FAILED", "numberOfRetries": 11}],
        [
            {"failureType": "FAILED", "numberOfRetries": 6},
            {"failureType": "TIMED_OUT", "numberOfRetries": 5},
        ],
        [
            {"failureType": "FAILED", "numberOfRetries": 1},
            {"failureType": "FAILED", "numberOfRetries": 1},
        ],
        [{"failureType": "REJECTED", "numberOfRetries": 1}],
        [{"failureType": "FAILED", "numberOfRetries": 1}] * 3,
    ],
)
def test_retry_refused(criteria: list[dict[str, Any]]) -> None:
    with pytest.raises(InvalidRequestException):
        parse_retry_config({"criteriaList": criteria})


def test_scheduling_config() -> None:
    config = parse_scheduling_config(
        {
            "startTime": _at(3600),
            "endTime": _at(7200),
            "endBehavior": "CANCEL",
            "maintenanceWindows": [{"startTime": "cron(0 0 * * ? *)", "durationInMinutes": 60}],
        },
        now=NOW,
    )
    assert config.start is not None and config.end is not None
    assert config.end - config.start == 3600
    assert config.end_behavior == "CANCEL"
    assert config.to_wire()["maintenanceWindows"][0]["durationInMinutes"] == 60


@pytest.mark.parametrize(
    "raw",
    [
        {"startTime": _at(60)},  # less than 30 minutes ahead
        {"startTime": _at(400 * 86400)},  # more than a year ahead
        {"startTime": _at(3600), "endTime": _at(3600 + 60)},  # end too close to start
        {"endTime": _at(60)},
        {"startTime": "tomorrow"},
        {"endBehavior": "EXPLODE"},
        {"maintenanceWindows": [{"startTime": "cron", "durationInMinutes": 1431}]},
        {"maintenanceWindows": "cron"},
    ],
)
def test_scheduling_refused(raw: dict[str, Any]) -> None:
    with pytest.raises(InvalidRequestException):
        parse_scheduling_config(raw, now=NOW)


def test_maintenance_windows() -> None:
    cron = "cron(0 2 ? * SAT *)"
    windows = parse_maintenance_windows([{"startTime": cron, "durationInMinutes": 1}], "mw")
    assert windows[0].start_time == cron
    assert windows[0].to_wire() == {"startTime": cron, "durationInMinutes": 1}
    with pytest.raises(InvalidRequestException, match=r"mw\[0\]\.startTime"):
        parse_maintenance_windows([{"startTime": "x", "durationInMinutes": 1}], "mw")


# -- fuzz: parse it, or raise InvalidRequestException, never anything else -------------------

_scalar = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(10**20), max_value=10**20)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=20)
)
_KEYS = st.sampled_from(
    [
        "roleArn",
        "expiresInSec",
        "maximumPerMinute",
        "exponentialRate",
        "baseRatePerMinute",
        "incrementFactor",
        "rateIncreaseCriteria",
        "numberOfNotifiedThings",
        "numberOfSucceededThings",
        "criteriaList",
        "failureType",
        "action",
        "thresholdPercentage",
        "minNumberOfExecutedThings",
        "numberOfRetries",
        "inProgressTimeoutInMinutes",
        "startTime",
        "endTime",
        "endBehavior",
        "maintenanceWindows",
        "durationInMinutes",
    ]
) | st.text(max_size=5)
_values = st.recursive(
    _scalar | st.sampled_from(["FAILED", "ALL", "CANCEL", "TIMED_OUT", "2023-11-15T00:00"]),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=4),
    max_leaves=12,
)
_PARSERS: list[Callable[[object], object]] = [
    parse_presigned_url_config,
    parse_rollout_config,
    parse_abort_config,
    parse_timeout_config,
    parse_retry_config,
    lambda raw: parse_scheduling_config(raw, now=NOW),
    lambda raw: parse_maintenance_windows(raw, "mw"),
]


@settings(max_examples=examples(400))
@given(st.sampled_from(range(len(_PARSERS))), _values)
def test_parsers_parse_or_refuse(which: int, raw: object) -> None:
    try:
        parsed = _PARSERS[which](raw)
    except InvalidRequestException:
        return
    to_wire = getattr(parsed, "to_wire", None)
    if to_wire is not None:
        to_wire()
