"""Fleet-indexing aggregations over HTTP: real boto3 against a real ``fleetsim serve``.

Each test indexes its own things (a unique ``attributes.site``) and aggregates over them only, so
the shared server's other things never enter the numbers.
"""

from __future__ import annotations

import json
import math
import uuid
from typing import Any

import orjson
from multidict import CIMultiDict, CIMultiDictProxy

from simulator.api.http.dispatch import HttpApi, Pending
from simulator.services.controlplane import ControlPlane
from tests.api.conftest import aws_error

PKG_VERSION = "shadow.name.$package.reported.agent.version"
CONFIG = {
    "thingIndexingMode": "REGISTRY_AND_SHADOW",
    "namedShadowIndexingMode": "ON",
    "filter": {"namedShadowNames": ["$package"]},
    "customFields": [
        {"name": "attributes.temp", "type": "Number"},
        {"name": "attributes.site", "type": "String"},
        {"name": "attributes.ok", "type": "Boolean"},
        {"name": PKG_VERSION, "type": "String"},
    ],
}


def _fleet(iot: Any, iot_data: Any, things: list[dict[str, Any]]) -> str:
    """Index with CONFIG, create ``things`` (attributes, optional agent version); the site."""
    iot.update_indexing_configuration(thingIndexingConfiguration=CONFIG)
    site = f"s{uuid.uuid4().hex[:10]}"
    for i, spec in enumerate(things):
        name = f"agg-{site}-{i}"
        attributes = {"site": site, **spec.get("attributes", {})}
        iot.create_thing(thingName=name, attributePayload={"attributes": attributes})
        if "agent" in spec:
            payload = {"state": {"reported": {"agent": {"version": spec["agent"]}}}}
            iot_data.update_thing_shadow(
                thingName=name, shadowName="$package", payload=json.dumps(payload)
            )
    return f"attributes.site:{site}"


def test_statistics_by_field_type(iot: Any, iot_data: Any) -> None:
    # The developer guide's GetStatistics example: -125, 75 and 150.
    temps = ["-125", "75", "150"]
    query = _fleet(
        iot,
        iot_data,
        [
            {"attributes": {"temp": temps[0], "ok": "true"}},
            {"attributes": {"temp": temps[1], "ok": "false"}},
            {"attributes": {"temp": temps[2], "ok": "true"}},
            {"attributes": {"temp": "warm", "ok": "maybe"}},  # ignored: not of the field's type
        ],
    )
    stats = iot.get_statistics(queryString=query, aggregationField="attributes.temp")["statistics"]
    assert stats["count"] == 3
    assert stats["sum"] == 100.0 and stats["minimum"] == -125.0 and stats["maximum"] == 150.0
    assert stats["sumOfSquares"] == 43750.0
    assert math.isclose(stats["average"], 33.333333333333336)
    assert math.isclose(stats["variance"], 13472.22222222222)
    assert math.isclose(stats["stdDeviation"], 116.06990230986766)

    strings = iot.get_statistics(queryString=query, aggregationField="attributes.site")
    assert strings["statistics"] == {"count": 4}

    flags = iot.get_statistics(queryString=query, aggregationField="attributes.ok")["statistics"]
    assert flags["count"] == 3 and flags["sum"] == 2.0
    assert (flags["minimum"], flags["maximum"]) == (0.0, 1.0)
    assert math.isclose(flags["average"], 2 / 3)
    assert "variance" not in flags

    # No field: registry.version (every new thing is at version 1).
    default = iot.get_statistics(queryString=query)["statistics"]
    assert (default["count"], default["sum"]) == (4, 4.0)


def test_cardinality_and_percentiles(iot: Any, iot_data: Any) -> None:
    temps = [1, 2, 2, 3, 4, 4, 4, 10]
    query = _fleet(iot, iot_data, [{"attributes": {"temp": str(t)}} for t in temps])
    cardinality = iot.get_cardinality(queryString=query, aggregationField="attributes.temp")
    assert cardinality["cardinality"] == 5
    sites = iot.get_cardinality(queryString=query, aggregationField="attributes.site")
    assert sites["cardinality"] == 1

    default = iot.get_percentiles(queryString=query, aggregationField="attributes.temp")
    assert [p["percent"] for p in default["percentiles"]] == [1, 5, 25, 50, 75, 95, 99]
    chosen = iot.get_percentiles(
        queryString=query, aggregationField="attributes.temp", percents=[0, 50, 100]
    )["percentiles"]
    assert [(p["percent"], p["value"]) for p in chosen] == [(0, 1.0), (50, 3.5), (100, 10.0)]

    none = f"{query} AND thingName:nothing-matches"
    empty = iot.get_percentiles(queryString=none, aggregationField="attributes.temp")
    assert empty["percentiles"] == []
    zero = iot.get_cardinality(queryString=none, aggregationField="attributes.temp")
    assert zero["cardinality"] == 0


def test_package_version_distribution(iot: Any, iot_data: Any) -> None:
    agents = ["1.0.0", "1.0.0", "1.1.0", "1.0.0", "1.1.0", "1.2.0"]
    query = _fleet(iot, iot_data, [*({"agent": v} for v in agents), {}])
    result = iot.get_buckets_aggregation(
        queryString=query,
        aggregationField=PKG_VERSION,
        bucketsAggregationType={"termsAggregation": {"maxBuckets": 10}},
    )
    assert result["totalCount"] == 7  # every matching thing, with or without the field
    assert [(b["keyValue"], b["count"]) for b in result["buckets"]] == [
        ("1.0.0", 3),
        ("1.1.0", 2),
        ("1.2.0", 1),
    ]
    top = iot.get_buckets_aggregation(
        queryString=query,
        aggregationField=PKG_VERSION,
        bucketsAggregationType={"termsAggregation": {"maxBuckets": 1}},
    )
    assert [(b["keyValue"], b["count"]) for b in top["buckets"]] == [("1.0.0", 3)]
    # maxBuckets defaults to 10
    plain = iot.get_buckets_aggregation(
        queryString=query,
        aggregationField=PKG_VERSION,
        bucketsAggregationType={"termsAggregation": {}},
    )
    assert len(plain["buckets"]) == 3


def test_aggregation_errors(iot: Any, iot_data: Any) -> None:
    query = _fleet(iot, iot_data, [{"attributes": {"temp": "1"}, "agent": "1.0.0"}])
    terms = {"termsAggregation": {"maxBuckets": 5}}
    cases: list[tuple[Any, dict[str, Any], str, int]] = [
        # not a managed field, not declared in customFields
        (
            iot.get_statistics,
            {"aggregationField": "attributes.undeclared"},
            "InvalidAggregation",
            400,
        ),
        (
            iot.get_buckets_aggregation,
            {"aggregationField": "shadow.reported.x", "bucketsAggregationType": terms},
            "InvalidAggregation",
            400,
        ),
        # percentiles need a Number field
        (iot.get_percentiles, {"aggregationField": "attributes.site"}, "InvalidAggregation", 400),
        (iot.get_percentiles, {"aggregationField": PKG_VERSION}, "InvalidAggregation", 400),
        # unknown index
        (
            iot.get_cardinality,
            {"aggregationField": "attributes.temp", "indexName": "NoSuchIndex"},
            "ResourceNotFound",
            404,
        ),
        # bad query
        (
            iot.get_statistics,
            {"aggregationField": "attributes.temp", "queryString": "attributes.site:("},
            "InvalidQuery",
            400,
        ),
        # maxBuckets above the model's 10,000
        (
            iot.get_buckets_aggregation,
            {
                "aggregationField": PKG_VERSION,
                "bucketsAggregationType": {"termsAggregation": {"maxBuckets": 10_001}},
            },
            "InvalidRequest",
            400,
        ),
    ]
    for call, kwargs, code, status in cases:
        got = aws_error(call, **{"queryString": query, **kwargs})
        assert got[:2] == (f"{code}Exception", status), (kwargs, got[2]["Error"])

    # A custom field from a shadow the configuration does not index.
    iot.update_indexing_configuration(
        thingIndexingConfiguration={**CONFIG, "filter": {"namedShadowNames": ["other"]}}
    )
    got = aws_error(iot.get_cardinality, queryString=query, aggregationField=PKG_VERSION)
    assert got[:2] == ("InvalidAggregationException", 400)
    # Thing indexing OFF: no index to aggregate.
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "OFF"})
    got = aws_error(iot.get_statistics, queryString="*")
    assert got[:2] == ("ResourceNotFoundException", 404)
    iot.update_indexing_configuration(thingIndexingConfiguration=CONFIG)


def test_a_large_aggregation_is_answered_in_slices() -> None:
    """Over HTTP the scan is resumable work (as SearchIndex): the server answers other requests
    between its slices (sans-IO: the same HttpApi the server runs)."""
    plane = ControlPlane()
    plane.index.update_indexing_configuration(thing_indexing_configuration=CONFIG)
    for i in range(300):
        plane.registry.create_thing(
            thing_name=f"t{i}", attribute_payload={"attributes": {"temp": str(i % 7)}}
        )
    api = HttpApi(plane, auth="none")
    body = orjson.dumps(
        {
            "queryString": "thingName:t*",
            "aggregationField": "attributes.temp",
            "bucketsAggregationType": {"termsAggregation": {"maxBuckets": 3}},
        }
    )
    reply = api.start("POST", "/indices/buckets", CIMultiDictProxy(CIMultiDict()), body)
    slices = 0
    while isinstance(reply, Pending):
        reply = reply.resume(50)
        slices += 1
    assert slices == 6  # 300 things, 50 a slice
    assert reply.status == 200
    assert orjson.loads(reply.body) == {
        "totalCount": 300,
        "buckets": [{"keyValue": k, "count": 43} for k in ("0", "1", "2")],
    }
