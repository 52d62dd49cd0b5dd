"""Parse and validate the job configuration members of CreateJob, UpdateJob and job templates.

Each ``parse_*`` function takes the wire dict (as JSON decoded it) and returns a frozen
dataclass, or raises :class:`~simulator.core.errors.InvalidRequestException` naming the field.
Nothing else escapes (a property test feeds them random values). ``to_wire()`` gives the
normalised dict DescribeJob echoes. Bounds are the ``iot`` model's [B] unless tagged.

``schedulingConfig`` is parsed by :mod:`.schedule`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Final, Literal

from simulator.core.jobs.fields import choice, drop_none, fail, int_, list_, number, object_, req

__all__ = [
    "AbortConfig",
    "AbortCriteria",
    "ExponentialRate",
    "PresignedUrlConfig",
    "RetryConfig",
    "RetryCriteria",
    "RolloutConfig",
    "TimeoutConfig",
    "parse_abort_config",
    "parse_presigned_url_config",
    "parse_retry_config",
    "parse_rollout_config",
    "parse_timeout_config",
]

FailureType = Literal["FAILED", "REJECTED", "TIMED_OUT", "ALL"]
RetryFailureType = Literal["FAILED", "TIMED_OUT", "ALL"]

MAX_TOTAL_RETRIES: Final = 10


# -- presignedUrlConfig -----------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class PresignedUrlConfig:
    role_arn: str | None = None
    #: [B] 60..3600; default 3600 [AD:key-concepts-jobs].
    expires_in_sec: int = 3600

    def to_wire(self) -> dict[str, Any]:
        return drop_none({"roleArn": self.role_arn, "expiresInSec": self.expires_in_sec})


def parse_presigned_url_config(raw: object) -> PresignedUrlConfig:
    path = "presignedUrlConfig"
    obj = object_(raw, path, frozenset({"roleArn", "expiresInSec"}))
    role = obj.get("roleArn")
    if role is not None and (not isinstance(role, str) or not 20 <= len(role) <= 2048):
        raise fail(f"{path}.roleArn", "must be a string of 20 to 2048 characters")
    expires = int_(obj, "expiresInSec", path, 60, 3600)
    return PresignedUrlConfig(role, 3600 if expires is None else expires)


# -- jobExecutionsRolloutConfig ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ExponentialRate:
    base_rate_per_minute: int
    increment_factor: float
    number_of_notified_things: int | None = None
    number_of_succeeded_things: int | None = None

    def to_wire(self) -> dict[str, Any]:
        criteria = drop_none(
            {
                "numberOfNotifiedThings": self.number_of_notified_things,
                "numberOfSucceededThings": self.number_of_succeeded_things,
            }
        )
        return {
            "baseRatePerMinute": self.base_rate_per_minute,
            "incrementFactor": self.increment_factor,
            "rateIncreaseCriteria": criteria,
        }


@dataclass(frozen=True, slots=True)
class RolloutConfig:
    """Either a constant ``maximum_per_minute`` or an ``exponential_rate`` (or neither)."""

    maximum_per_minute: int | None = None
    exponential_rate: ExponentialRate | None = None

    def to_wire(self) -> dict[str, Any]:
        return drop_none(
            {
                "maximumPerMinute": self.maximum_per_minute,
                "exponentialRate": None
                if self.exponential_rate is None
                else self.exponential_rate.to_wire(),
            }
        )


def parse_rollout_config(raw: object) -> RolloutConfig:
    """Parse ``jobExecutionsRolloutConfig``.

    ``maximumPerMinute`` and ``exponentialRate`` together are refused ((mem): exclusive), and
    ``rateIncreaseCriteria`` must name exactly one threshold (inf).
    """
    path = "jobExecutionsRolloutConfig"
    obj = object_(raw, path, frozenset({"maximumPerMinute", "exponentialRate"}))
    maximum = int_(obj, "maximumPerMinute", path, 1, None)
    exp_raw = obj.get("exponentialRate")
    if exp_raw is None:
        return RolloutConfig(maximum, None)
    if maximum is not None:
        raise fail(path, "maximumPerMinute and exponentialRate are mutually exclusive")
    epath = f"{path}.exponentialRate"
    exp = object_(
        exp_raw, epath, frozenset({"baseRatePerMinute", "incrementFactor", "rateIncreaseCriteria"})
    )
    base = req(int_(exp, "baseRatePerMinute", epath, 1, 1000), f"{epath}.baseRatePerMinute")
    factor = number(exp, "incrementFactor", epath, 1.1, 5.0, decimals=1)
    factor = req(factor, f"{epath}.incrementFactor")
    cpath = f"{epath}.rateIncreaseCriteria"
    crit = object_(
        req(exp.get("rateIncreaseCriteria"), cpath),
        cpath,
        frozenset({"numberOfNotifiedThings", "numberOfSucceededThings"}),
    )
    notified = int_(crit, "numberOfNotifiedThings", cpath, 1, None)
    succeeded = int_(crit, "numberOfSucceededThings", cpath, 1, None)
    if (notified is None) == (succeeded is None):
        raise fail(cpath, "give exactly one of numberOfNotifiedThings, numberOfSucceededThings")
    return RolloutConfig(None, ExponentialRate(base, factor, notified, succeeded))


# -- abortConfig ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class AbortCriteria:
    failure_type: FailureType
    threshold_percentage: float
    min_number_of_executed_things: int
    action: Literal["CANCEL"] = "CANCEL"

    def to_wire(self) -> dict[str, Any]:
        return {
            "failureType": self.failure_type,
            "action": self.action,
            "thresholdPercentage": self.threshold_percentage,
            "minNumberOfExecutedThings": self.min_number_of_executed_things,
        }


@dataclass(frozen=True, slots=True)
class AbortConfig:
    criteria: tuple[AbortCriteria, ...]

    def to_wire(self) -> dict[str, Any]:
        return {"criteriaList": [c.to_wire() for c in self.criteria]}


_ABORT_KEYS: Final = frozenset(
    {"failureType", "action", "thresholdPercentage", "minNumberOfExecutedThings"}
)


def parse_abort_config(raw: object) -> AbortConfig:
    path = "abortConfig"
    obj = object_(raw, path, frozenset({"criteriaList"}))
    criteria: list[AbortCriteria] = []
    for i, item in enumerate(list_(obj, "criteriaList", path, 1, None)):
        ipath = f"{path}.criteriaList[{i}]"
        crit = object_(item, ipath, _ABORT_KEYS)
        kind = choice(crit, "failureType", ipath, ("FAILED", "REJECTED", "TIMED_OUT", "ALL"))
        req(choice(crit, "action", ipath, ("CANCEL",)), f"{ipath}.action")
        threshold = number(crit, "thresholdPercentage", ipath, 0.0, 100.0, decimals=2)
        minimum = int_(crit, "minNumberOfExecutedThings", ipath, 1, None)
        criteria.append(
            AbortCriteria(
                req(kind, f"{ipath}.failureType"),  # type: ignore[arg-type]
                req(threshold, f"{ipath}.thresholdPercentage"),
                req(minimum, f"{ipath}.minNumberOfExecutedThings"),
            )
        )
    return AbortConfig(tuple(criteria))


# -- timeoutConfig ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class TimeoutConfig:
    in_progress_timeout_in_minutes: int | None = None

    def to_wire(self) -> dict[str, Any]:
        return drop_none({"inProgressTimeoutInMinutes": self.in_progress_timeout_in_minutes})


def parse_timeout_config(raw: object) -> TimeoutConfig:
    """Parse ``timeoutConfig``; ``inProgressTimeoutInMinutes`` is 1-10080 (the model's doc)."""
    obj = object_(raw, "timeoutConfig", frozenset({"inProgressTimeoutInMinutes"}))
    return TimeoutConfig(int_(obj, "inProgressTimeoutInMinutes", "timeoutConfig", 1, 10080))


# -- jobExecutionsRetryConfig -----------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class RetryCriteria:
    failure_type: RetryFailureType
    number_of_retries: int

    def to_wire(self) -> dict[str, Any]:
        return {"failureType": self.failure_type, "numberOfRetries": self.number_of_retries}


@dataclass(frozen=True, slots=True)
class RetryConfig:
    criteria: tuple[RetryCriteria, ...]

    def limit(self, failure: Literal["FAILED", "TIMED_OUT"]) -> int | None:
        """Retries allowed for this failure type (its own criterion first, then ``ALL``)."""
        fallback: int | None = None
        for crit in self.criteria:
            if crit.failure_type == failure:
                return crit.number_of_retries
            if crit.failure_type == "ALL":
                fallback = crit.number_of_retries
        return fallback

    def to_wire(self) -> dict[str, Any]:
        return {"criteriaList": [c.to_wire() for c in self.criteria]}


def parse_retry_config(raw: object) -> RetryConfig:
    """Parse ``jobExecutionsRetryConfig``: 1-2 criteria, 0-10 retries each, at most 10 in all."""
    path = "jobExecutionsRetryConfig"
    obj = object_(raw, path, frozenset({"criteriaList"}))
    criteria: list[RetryCriteria] = []
    for i, item in enumerate(list_(obj, "criteriaList", path, 1, 2)):
        ipath = f"{path}.criteriaList[{i}]"
        crit = object_(item, ipath, frozenset({"failureType", "numberOfRetries"}))
        kind = req(choice(crit, "failureType", ipath, ("FAILED", "TIMED_OUT", "ALL")), ipath)
        count = req(int_(crit, "numberOfRetries", ipath, 0, 10), f"{ipath}.numberOfRetries")
        if any(c.failure_type == kind for c in criteria):
            raise fail(ipath, f"failureType {kind} appears twice")
        criteria.append(RetryCriteria(kind, count))  # type: ignore[arg-type]
    total = sum(c.number_of_retries for c in criteria)
    if total > MAX_TOTAL_RETRIES:
        raise fail(path, f"at most {MAX_TOTAL_RETRIES} retries in all, got {total}")
    return RetryConfig(tuple(criteria))
