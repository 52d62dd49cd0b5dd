"""Wire shapes of fleet indexing (``iot``): indexing configuration, DescribeIndex, SearchIndex,
the aggregations and dynamic thing groups.

SearchIndex's ``shadow`` member is a JSON *string* (as AWS sends it): the indexed shadows, the
classic one's sections at the top, named ones under ``name``, each with ``hasDelta``.
UpdateDynamicThingGroup answers as UpdateThingGroup (:func:`.registry.group_version`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import orjson

from simulator.api.wire.registry import create_thing_group
from simulator.services.index.config import GroupIndexing, ThingIndexing
from simulator.services.index.results import (
    BucketsAggregation,
    Cardinality,
    IndexDescription,
    IndexingConfiguration,
    Percentiles,
    SearchHit,
    SearchPage,
    Statistics,
)
from simulator.services.registry import Group

__all__ = [
    "create_dynamic_thing_group",
    "describe_index",
    "get_buckets_aggregation",
    "get_cardinality",
    "get_indexing_configuration",
    "get_percentiles",
    "get_statistics",
    "search_index",
]


def _fields(fields: tuple[tuple[str, str], ...]) -> list[dict[str, str]]:
    return [{"name": n, "type": t} for n, t in fields]


def _thing_indexing(config: ThingIndexing) -> dict[str, Any]:
    out: dict[str, Any] = {
        "thingIndexingMode": config.mode,
        "thingConnectivityIndexingMode": config.connectivity,
        "deviceDefenderIndexingMode": config.device_defender,
        "namedShadowIndexingMode": "ON" if config.named_shadows else "OFF",
    }
    if config.custom_fields:
        out["customFields"] = _fields(config.custom_fields)
    flt: dict[str, Any] = {}
    if config.shadow_names:
        flt["namedShadowNames"] = list(config.shadow_names)
    if config.geo_locations:
        flt["geoLocations"] = [{"name": n, "order": o} for n, o in config.geo_locations]
    if flt:
        out["filter"] = flt
    return out


def _group_indexing(config: GroupIndexing) -> dict[str, Any]:
    out: dict[str, Any] = {"thingGroupIndexingMode": config.mode}
    if config.custom_fields:
        out["customFields"] = _fields(config.custom_fields)
    return out


def get_indexing_configuration(result: IndexingConfiguration) -> dict[str, Any]:
    """GetIndexingConfiguration."""
    return {
        "thingIndexingConfiguration": _thing_indexing(result.thing),
        "thingGroupIndexingConfiguration": _group_indexing(result.group),
    }


def describe_index(result: IndexDescription) -> dict[str, Any]:
    """DescribeIndex."""
    return {"indexName": result.name, "indexStatus": result.status.value, "schema": result.schema}


def _shadow(shadows: Mapping[str | None, Mapping[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for shadow_name, state in shadows.items():
        entry = {**state, "hasDelta": bool(state.get("delta"))}
        if shadow_name is None:
            out.update(entry)
        else:
            out.setdefault("name", {})[shadow_name] = entry
    return out


def _hit(hit: SearchHit) -> dict[str, Any]:
    thing = hit.thing
    out: dict[str, Any] = {"thingName": thing.name, "thingId": thing.thing_id}
    if thing.thing_type:
        out["thingTypeName"] = thing.thing_type
    out["thingGroupNames"] = list(thing.groups)
    out["attributes"] = dict(thing.attributes)
    shadow = _shadow(hit.shadows)
    if shadow:
        out["shadow"] = orjson.dumps(shadow).decode()
    return out


def search_index(result: SearchPage) -> dict[str, Any]:
    """SearchIndex."""
    out: dict[str, Any] = {"things": [_hit(h) for h in result.things]}
    if result.next_token:
        out["nextToken"] = result.next_token
    return out


def create_dynamic_thing_group(group: Group) -> dict[str, Any]:
    """CreateDynamicThingGroup: CreateThingGroup's members and the query."""
    return create_thing_group(group) | {
        "indexName": group.index_name,
        "queryString": group.query,
        "queryVersion": group.query_version,
    }


_STATISTICS = (
    ("average", "average"),
    ("sum", "sum"),
    ("minimum", "minimum"),
    ("maximum", "maximum"),
    ("sum_of_squares", "sumOfSquares"),
    ("variance", "variance"),
    ("std_deviation", "stdDeviation"),
)


def get_statistics(result: Statistics) -> dict[str, Any]:
    """GetStatistics: ``count`` always, each other statistic only where it has a value."""
    stats: dict[str, Any] = {"count": result.count}
    for attribute, member in _STATISTICS:
        value = getattr(result, attribute)
        if value is not None:
            stats[member] = value
    return {"statistics": stats}


def get_cardinality(result: Cardinality) -> dict[str, Any]:
    """GetCardinality."""
    return {"cardinality": result.cardinality}


def get_percentiles(result: Percentiles) -> dict[str, Any]:
    """GetPercentiles."""
    return {"percentiles": [{"percent": p.percent, "value": p.value} for p in result.percentiles]}


def get_buckets_aggregation(result: BucketsAggregation) -> dict[str, Any]:
    """GetBucketsAggregation."""
    return {
        "totalCount": result.total_count,
        "buckets": [{"keyValue": b.key, "count": b.count} for b in result.buckets],
    }
