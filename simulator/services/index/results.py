"""What the fleet-indexing operations return: typed results, never wire dicts.

:mod:`simulator.api.wire.index` turns each into its AWS shape. GetIndexingConfiguration returns
the two configurations as stored; CreateDynamicThingGroup returns the new
:class:`~simulator.services.registry.Group` (its query members set), UpdateDynamicThingGroup a
:class:`~simulator.services.registry.results.GroupVersion`; UpdateIndexingConfiguration and
DeleteDynamicThingGroup return ``None``. Records that hold a registry :class:`Thing` or
:class:`Group` are views of the live registry, to encode before the next call into the service
(as the registry's results).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from simulator.services.index.config import GroupIndexing, ThingIndexing
from simulator.services.index.model import BuildStatus
from simulator.services.registry import Thing

__all__ = [
    "Bucket",
    "BucketsAggregation",
    "Cardinality",
    "IndexDescription",
    "IndexingConfiguration",
    "PercentValue",
    "Percentiles",
    "SearchHit",
    "SearchPage",
    "Statistics",
]


@dataclass(frozen=True, slots=True)
class IndexingConfiguration:
    """GetIndexingConfiguration: the thing and thing-group configurations as stored."""

    thing: ThingIndexing
    group: GroupIndexing


@dataclass(frozen=True, slots=True)
class IndexDescription:
    """DescribeIndex: the index's name, build status and schema (an ``IndexSchema`` value)."""

    name: str
    status: BuildStatus
    schema: str


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One thing SearchIndex found, with its indexed shadows as they were when the page was cut.

    ``shadows`` maps the shadow name (``None``: the classic shadow) to that shadow's
    ``{"desired"?, "reported"?, "delta"?}`` (a copy: see ``ShadowSource.state``); only shadows the
    configuration indexes and that exist are present.
    """

    thing: Thing
    shadows: Mapping[str | None, Mapping[str, Any]]


@dataclass(frozen=True, slots=True)
class SearchPage:
    """SearchIndex: one page of hits, in registry order."""

    things: tuple[SearchHit, ...]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class Statistics:
    """GetStatistics: ``count`` always; the others only where the field's type has them
    (Number: all; Boolean: average, sum, minimum, maximum; String: none) and some value
    was found (``None``: left out of the answer)."""

    count: int
    average: float | None = None
    sum: float | None = None
    minimum: float | None = None
    maximum: float | None = None
    sum_of_squares: float | None = None
    variance: float | None = None
    std_deviation: float | None = None


@dataclass(frozen=True, slots=True)
class Cardinality:
    """GetCardinality: how many distinct values the matching things hold."""

    cardinality: int


@dataclass(frozen=True, slots=True)
class PercentValue:
    """One ``PercentPair``: the value at ``percent`` (0-100)."""

    percent: float
    value: float


@dataclass(frozen=True, slots=True)
class Percentiles:
    """GetPercentiles: one pair per requested percent, in request order (none without values)."""

    percentiles: tuple[PercentValue, ...]


@dataclass(frozen=True, slots=True)
class Bucket:
    """One terms bucket: a value and how many times the matching things hold it."""

    key: str
    count: int


@dataclass(frozen=True, slots=True)
class BucketsAggregation:
    """GetBucketsAggregation: the top buckets (count descending, then key) and the number of
    things the query matched."""

    total_count: int
    buckets: tuple[Bucket, ...]
