"""What the aggregations compute, from the values an :class:`~.aggregate.AggregationScan`
collected: statistics, percentiles, buckets, and the request members that shape them.

Numbers per :mod:`.aggregate`'s notes: population variance, linear interpolation between exact
ranks for percentiles, buckets by count descending then key. Values are floats (Number fields;
Boolean ones as 0 and 1) or strings (String fields).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Callable, Sequence
from typing import Any, Final

import numpy as np

from simulator.core.errors import InvalidRequestException
from simulator.core.fleet_query import Leaf, parse_number
from simulator.services.index.aggfields import FieldType
from simulator.services.index.results import (
    Bucket,
    BucketsAggregation,
    Percentiles,
    PercentValue,
    Statistics,
)

__all__ = [
    "CONVERT",
    "DEFAULT_MAX_BUCKETS",
    "DEFAULT_PERCENTS",
    "Value",
    "buckets",
    "max_buckets",
    "percentiles",
    "percents",
    "statistics",
]

DEFAULT_PERCENTS: Final = (1.0, 5.0, 25.0, 50.0, 75.0, 95.0, 99.0)
DEFAULT_MAX_BUCKETS: Final = 10
_MAX_BUCKETS: Final = 10_000  # botocore: MaxBuckets max
Value = float | str


def _number(leaf: Leaf) -> float | None:
    n = leaf[1]
    return parse_number(leaf[0]) if n is None else n


def _boolean(leaf: Leaf) -> float | None:
    text = leaf[0]
    return 1.0 if text == "true" else 0.0 if text == "false" else None


def _string(leaf: Leaf) -> str:
    return leaf[0]


#: A leaf as a value of the field's type, or ``None`` (another type: ignored).
CONVERT: Final[dict[FieldType, Callable[[Leaf], Value | None]]] = {
    "Number": _number,
    "Boolean": _boolean,
    "String": _string,
}


def statistics(kind: FieldType, values: list[Value]) -> Statistics:
    count = len(values)
    if kind == "String" or count == 0:
        return Statistics(count)
    data = np.asarray(values, dtype=np.float64)
    if not np.isfinite(data).all():
        return Statistics(count)  # beyond a double: "the statistics values are empty"
    total = float(data.sum())
    mean = total / count
    if kind == "Boolean":
        return Statistics(count, mean, total, float(data.min()), float(data.max()))
    variance = float(np.mean((data - mean) ** 2))
    return Statistics(
        count,
        average=mean,
        sum=total,
        minimum=float(data.min()),
        maximum=float(data.max()),
        sum_of_squares=float(np.dot(data, data)),
        variance=variance,
        std_deviation=math.sqrt(variance),
    )


def percentiles(values: list[Value], percents: tuple[float, ...]) -> Percentiles:
    if not values:
        return Percentiles(())
    data = np.asarray(values, dtype=np.float64)
    found = np.percentile(data, percents, method="linear")
    return Percentiles(
        tuple(PercentValue(p, float(v)) for p, v in zip(percents, found, strict=True))
    )


def _key(kind: FieldType, value: Value) -> str:
    if isinstance(value, str):
        return value
    if kind == "Boolean":
        return "true" if value else "false"
    if value.is_integer() and abs(value) < 2**53:
        return str(int(value))
    return repr(value)


def buckets(kind: FieldType, values: list[Value], matched: int, limit: int) -> BucketsAggregation:
    counts = Counter(values)
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], _key(kind, kv[0])))
    top = tuple(Bucket(_key(kind, value), n) for value, n in ranked[:limit])
    return BucketsAggregation(matched, top)


def percents(raw: Sequence[Any] | None) -> tuple[float, ...]:
    if not raw:
        return DEFAULT_PERCENTS
    out: list[float] = []
    for p in raw:
        if isinstance(p, bool) or not isinstance(p, int | float) or not 0 <= p <= 100:
            raise InvalidRequestException(f"Each percent must be a number from 0 to 100: {p!r}")
        out.append(float(p))
    return tuple(out)


def max_buckets(raw: object) -> int:
    if not isinstance(raw, dict) or not isinstance(raw.get("termsAggregation"), dict):
        raise InvalidRequestException("bucketsAggregationType.termsAggregation is required")
    limit = raw["termsAggregation"].get("maxBuckets", DEFAULT_MAX_BUCKETS)
    if isinstance(limit, bool) or not isinstance(limit, int) or not 1 <= limit <= _MAX_BUCKETS:
        raise InvalidRequestException(f"maxBuckets must be from 1 to {_MAX_BUCKETS}: {limit!r}")
    return limit
