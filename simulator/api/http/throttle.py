"""Request-rate limits: ``fleetsim serve --throttle SPEC``, and AWS's default API rates.

A :class:`Throttle` keeps one token bucket per operation (or per shared quota) and answers
``admit(service, operation)``; a request over the rate gets ThrottlingException, HTTP 429,
``{"message": "Rate exceeded"}``. (botocore's ``iot`` model lists ThrottlingException as 400;
AWS's request throttling answers 429 "Rate exceeded" in front of the service, which is what
rate-limited clients see and what ``--throttle`` emulates.) The clock is injected.

SPEC, comma-separated terms, later ones winning:

* ``N``: every ``iot`` (control plane) operation at N requests/s, burst N;
* ``aws``: :data:`AWS_RATES`, AWS's default quotas for the operations fleetsim's drivers use;
* ``Operation=N``: one operation (either data plane too) at N/s;
* ``none``: no limit (the default).

:class:`TokenBucket` is also what ``fleetsim provision`` paces its own calls with.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Final

from simulator.api.http.routes import ROUTES, ServiceName
from simulator.core.errors import AwsError, UsageError

__all__ = [
    "AWS_RATES",
    "RateExceeded",
    "Throttle",
    "ThrottleSpec",
    "TokenBucket",
    "parse_throttle",
]

#: AWS default rates (requests/s per account and region) and the bucket each one draws from.
#: Sources: [Q] the AWS IoT Core quotas page (docs.aws.amazon.com/general/latest/gr/
#: iot-core.html#throttling-limits), values as transcribed by aws-iot-builder-tools/thingpress
#: doc/aws-api-limits.md (checked 2025-06-13); (mem) not verified against the current quotas
#: pages (AWS IoT Core and AWS IoT Device Management endpoints and quotas): override them with
#: ``Operation=N`` when your account's differ. Device Shadow operations share one account-level
#: bucket (4,000/s in us-east-1, us-west-2 and eu-west-1, 400/s elsewhere; mem).
AWS_RATES: Final[Mapping[tuple[ServiceName, str], tuple[str, float]]] = {
    # registry and security, [Q]
    ("iot", "AttachPolicy"): ("AttachPolicy", 15.0),
    ("iot", "AttachThingPrincipal"): ("AttachThingPrincipal", 100.0),
    ("iot", "AddThingToThingGroup"): ("AddThingToThingGroup", 100.0),
    ("iot", "CreateThing"): ("CreateThing", 100.0),
    ("iot", "DescribeCertificate"): ("DescribeCertificate", 10.0),
    ("iot", "DescribeThing"): ("DescribeThing", 350.0),
    ("iot", "DescribeThingGroup"): ("DescribeThingGroup", 100.0),
    ("iot", "DescribeThingType"): ("DescribeThingType", 100.0),
    ("iot", "GetPolicy"): ("GetPolicy", 10.0),
    # registry and security, (mem)
    ("iot", "CreateKeysAndCertificate"): ("CreateKeysAndCertificate", 10.0),
    ("iot", "UpdateCertificate"): ("UpdateCertificate", 10.0),
    ("iot", "DeleteCertificate"): ("DeleteCertificate", 10.0),
    ("iot", "ListCertificates"): ("ListCertificates", 10.0),
    ("iot", "CreatePolicy"): ("CreatePolicy", 10.0),
    ("iot", "DeletePolicy"): ("DeletePolicy", 10.0),
    ("iot", "DetachPolicy"): ("DetachPolicy", 15.0),
    ("iot", "ListAttachedPolicies"): ("ListAttachedPolicies", 15.0),
    ("iot", "DetachThingPrincipal"): ("DetachThingPrincipal", 100.0),
    ("iot", "ListThingPrincipals"): ("ListThingPrincipals", 10.0),
    ("iot", "ListPrincipalThings"): ("ListPrincipalThings", 10.0),
    ("iot", "DeleteThing"): ("DeleteThing", 100.0),
    ("iot", "ListThings"): ("ListThings", 10.0),
    ("iot", "CreateThingGroup"): ("CreateThingGroup", 25.0),
    ("iot", "DeleteThingGroup"): ("DeleteThingGroup", 25.0),
    ("iot", "RemoveThingFromThingGroup"): ("RemoveThingFromThingGroup", 100.0),
    ("iot", "ListThingsInThingGroup"): ("ListThingsInThingGroup", 25.0),
    ("iot", "DescribeEndpoint"): ("DescribeEndpoint", 10.0),
    ("iot", "TagResource"): ("TagResource", 10.0),
    ("iot", "UntagResource"): ("UntagResource", 10.0),
    ("iot", "ListTagsForResource"): ("ListTagsForResource", 10.0),
    # Jobs control plane (AWS IoT Device Management), (mem)
    ("iot", "CreateJob"): ("CreateJob", 10.0),
    ("iot", "DescribeJob"): ("DescribeJob", 10.0),
    ("iot", "ListJobExecutionsForJob"): ("ListJobExecutionsForJob", 10.0),
    ("iot", "ListJobExecutionsForThing"): ("ListJobExecutionsForThing", 10.0),
    ("iot", "DescribeJobExecution"): ("DescribeJobExecution", 10.0),
    ("iot", "ListJobs"): ("ListJobs", 10.0),
    ("iot", "GetJobDocument"): ("GetJobDocument", 10.0),
    ("iot", "CancelJob"): ("CancelJob", 10.0),
    ("iot", "DeleteJob"): ("DeleteJob", 10.0),
    ("iot", "UpdateJob"): ("UpdateJob", 10.0),
    # Jobs data plane, (mem)
    ("iot-jobs-data", "GetPendingJobExecutions"): ("GetPendingJobExecutions", 200.0),
    ("iot-jobs-data", "StartNextPendingJobExecution"): ("StartNextPendingJobExecution", 200.0),
    ("iot-jobs-data", "DescribeJobExecution"): ("DescribeJobExecution(data)", 200.0),
    ("iot-jobs-data", "UpdateJobExecution"): ("UpdateJobExecution", 200.0),
    # Device Shadow: one account-level quota, (mem; large-region value)
    ("iot-data", "GetThingShadow"): ("DeviceShadow", 4000.0),
    ("iot-data", "UpdateThingShadow"): ("DeviceShadow", 4000.0),
    ("iot-data", "DeleteThingShadow"): ("DeviceShadow", 4000.0),
    ("iot-data", "ListNamedShadowsForThing"): ("DeviceShadow", 4000.0),
}

_NUMBER: Final = re.compile(r"[0-9]+(\.[0-9]+)?")
_OPERATIONS: Final = frozenset(route.operation for route in ROUTES)
_MAX_RATE: Final = 1e6


class RateExceeded(AwsError):
    """The request came faster than its operation's rate (HTTP 429, see the module doc)."""

    code = "ThrottlingException"
    status = 429

    def __init__(self) -> None:
        super().__init__("Rate exceeded")


@dataclass(slots=True)
class TokenBucket:
    """``rate`` tokens per second, at most ``burst`` saved; starts full."""

    rate: float
    burst: float
    tokens: float = -1.0
    updated: float | None = None

    def reserve(self, now: float) -> float:
        """Take a token and return 0.0, or take none and return the seconds until one is due."""
        if self.updated is None:
            self.tokens, self.updated = self.burst, now
        elapsed = max(0.0, now - self.updated)
        self.tokens = min(self.burst, self.tokens + elapsed * self.rate)
        self.updated = max(now, self.updated)
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return 0.0
        return (1.0 - self.tokens) / self.rate


@dataclass(frozen=True, slots=True)
class ThrottleSpec:
    """Parsed ``--throttle``: a rate for every ``iot`` operation, AWS's table, and overrides."""

    control_plane: float | None = None
    aws: bool = False
    overrides: tuple[tuple[str, float], ...] = ()

    def limit(self, service: ServiceName, operation: str) -> tuple[str, float] | None:
        """(bucket name, requests/s) for one operation, or None when it is not limited."""
        for name, rate in reversed(self.overrides):
            if name == operation:
                return (f"{service}:{operation}", rate)
        if self.control_plane is not None and service == "iot":
            return (operation, self.control_plane)
        if self.aws:
            return AWS_RATES.get((service, operation))
        return None

    def __str__(self) -> str:
        terms = ["aws"] if self.aws else []
        if self.control_plane is not None:
            terms.append(f"{self.control_plane:g}")
        terms += [f"{name}={rate:g}" for name, rate in self.overrides]
        return ",".join(terms) or "none"


def _rate(text: str, what: str) -> float:
    if not _NUMBER.fullmatch(text) or not 0 < float(text) <= _MAX_RATE:
        raise UsageError(
            f"--throttle: {what} {text!r} must be a number of requests per second in "
            f"(0, {_MAX_RATE:g}]"
        )
    return float(text)


def parse_throttle(text: str) -> ThrottleSpec | None:
    """Parse SPEC (module doc); None for ``none``. Raises UsageError in one line."""
    control: float | None = None
    aws = False
    overrides: list[tuple[str, float]] = []
    terms = [term.strip() for term in text.split(",")]
    if not text.strip() or any(not term for term in terms):
        raise UsageError(f"--throttle {text!r}: give N, aws, Operation=N or none, comma-separated")
    for term in terms:
        if term == "none":
            control, aws, overrides = None, False, []
        elif term == "aws":
            aws = True
        elif "=" in term:
            name, _, value = term.partition("=")
            name = name.strip()
            if name not in _OPERATIONS:
                raise UsageError(f"--throttle: {name[:80]!r} is not an operation fleetsim serves")
            overrides.append((name, _rate(value.strip(), name)))
        else:
            control = _rate(term, "rate")
    if control is None and not aws and not overrides:
        return None
    return ThrottleSpec(control_plane=control, aws=aws, overrides=tuple(overrides))


@dataclass(slots=True)
class Throttle:
    """Token buckets of one server; ``clock()`` is monotonic seconds (injected)."""

    spec: ThrottleSpec
    clock: Callable[[], float]
    _buckets: dict[str, TokenBucket] = field(default_factory=dict)

    def admit(self, service: ServiceName, operation: str) -> bool:
        """Whether the request may run now (it then uses a token)."""
        limit = self.spec.limit(service, operation)
        if limit is None:
            return True
        name, rate = limit
        bucket = self._buckets.get(name)
        if bucket is None:
            bucket = self._buckets[name] = TokenBucket(rate=rate, burst=max(1.0, rate))
        return bucket.reserve(self.clock()) == 0.0
