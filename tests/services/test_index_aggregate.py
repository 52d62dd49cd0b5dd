"""The aggregations of IndexService over the real registry and shadow service (no HTTP).

The property: over any fleet, bucket counts sum to the values found, statistics and percentiles
agree with ``statistics`` and numpy on the same values, and a scan stepped one thing at a time
answers what the one pass answers.
"""

from __future__ import annotations

import math
import statistics
from typing import Any

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.core.errors import (
    IndexNotReadyException,
    InvalidAggregationException,
    InvalidRequestException,
)
from simulator.services.index import IndexOptions
from simulator.services.index.results import BucketsAggregation
from tests.hypothesis_profiles import examples
from tests.services.test_index import ON_PACKAGE, Env, error_of

VERSION = "shadow.name.$package.reported.agent.version"
CONFIG: dict[str, Any] = {
    **ON_PACKAGE,
    "customFields": [
        {"name": "attributes.temp", "type": "Number"},
        {"name": "attributes.ok", "type": "Boolean"},
        {"name": VERSION, "type": "String"},
    ],
}
TERMS = {"termsAggregation": {"maxBuckets": 10_000}}

_temps = st.one_of(
    st.none(),
    st.integers(-(10**6), 10**6).map(str),
    st.floats(-1e6, 1e6, allow_nan=False, allow_infinity=False).map(repr),
    st.sampled_from(["warm", "", "1e", "0x10"]),  # not numbers: ignored
)
_things = st.lists(
    st.tuples(_temps, st.sampled_from([None, "1.0.0", "1.1.0", "2.0.0-RC"]), st.booleans()),
    max_size=25,
)


def _env(things: list[tuple[str | None, str | None, bool]]) -> Env:
    env = Env(IndexOptions(build_delay_s=0.0))
    env.index.update_indexing_configuration(thing_indexing_configuration=CONFIG)
    for i, (temp, version, ok) in enumerate(things):
        attributes = {"ok": "true" if ok else "false"}
        if temp is not None:
            attributes["temp"] = temp
        env.thing(f"t{i}", **attributes)
        if version is not None:
            env.package(f"t{i}", agent=version)
    return env


@settings(max_examples=examples(60), deadline=None)
@given(_things)
def test_aggregations_agree_with_numpy(things: list[tuple[str | None, str | None, bool]]) -> None:
    env = _env(things)
    index = env.index
    numbers = [float(t) for t, _, _ in things if t is not None and _is_number(t)]
    versions = [v.lower() for _, v, _ in things if v is not None]

    buckets = index.get_buckets_aggregation(
        query_string="*", aggregation_field=VERSION, buckets_aggregation_type=TERMS
    )
    assert buckets.total_count == len(things)
    assert sum(b.count for b in buckets.buckets) == len(versions)
    assert {b.key: b.count for b in buckets.buckets} == {v: versions.count(v) for v in versions}
    counts = [b.count for b in buckets.buckets]
    assert counts == sorted(counts, reverse=True)

    stats = index.get_statistics(query_string="*", aggregation_field="attributes.temp")
    assert stats.count == len(numbers)
    if numbers:
        assert stats.minimum == min(numbers) and stats.maximum == max(numbers)
        assert stats.sum is not None and math.isclose(stats.sum, math.fsum(numbers), abs_tol=1e-6)
        assert stats.average is not None and stats.variance is not None
        assert math.isclose(stats.average, statistics.fmean(numbers), rel_tol=1e-9, abs_tol=1e-6)
        pvariance = statistics.pvariance(numbers)
        assert math.isclose(stats.variance, pvariance, rel_tol=1e-6, abs_tol=1e-6)
        assert stats.std_deviation is not None
        assert math.isclose(stats.std_deviation, math.sqrt(pvariance), rel_tol=1e-6, abs_tol=1e-3)
        squares = math.fsum(x * x for x in numbers)
        assert stats.sum_of_squares is not None
        assert math.isclose(stats.sum_of_squares, squares, rel_tol=1e-9, abs_tol=1e-6)
    else:
        assert stats.sum is None

    flags = index.get_statistics(query_string="*", aggregation_field="attributes.ok")
    assert flags.count == len(things)
    assert flags.sum == (sum(ok for _, _, ok in things) if things else None)

    percents = (0.0, 12.5, 50.0, 99.0, 100.0)
    found = index.get_percentiles(
        query_string="*", aggregation_field="attributes.temp", percents=percents
    )
    if numbers:
        expected = np.percentile(np.asarray(numbers), percents)
        assert [p.percent for p in found.percentiles] == list(percents)
        assert np.allclose([p.value for p in found.percentiles], expected)
    else:
        assert found.percentiles == ()

    cardinality = index.get_cardinality(query_string="*", aggregation_field="attributes.temp")
    assert cardinality.cardinality == len(set(numbers))

    buckets = _fast_path_agrees(env, len(things), buckets)

    # One thing per step answers what one pass answers.
    scan = index.start_get_buckets_aggregation(
        query_string="*", aggregation_field=VERSION, buckets_aggregation_type=TERMS
    )
    while not scan.step(1):
        pass
    assert scan.result() == buckets


def _fast_path_agrees(env: Env, size: int, buckets: BucketsAggregation) -> BucketsAggregation:
    """``*`` reads values without documents; any other query reads them from the documents."""
    index = env.index
    for field in (VERSION, "attributes.temp", "attributes.ok", "thingName"):
        for op, extra in (
            (index.get_buckets_aggregation, {"buckets_aggregation_type": TERMS}),
            (index.get_statistics, {}),
            (index.get_cardinality, {}),
        ):
            fast = op(query_string="*", aggregation_field=field, **extra)
            assert fast == op(query_string="thingName:*", aggregation_field=field, **extra), field

    # Values read without documents follow changes (the cache is emptied of a changed thing).
    if size:
        env.package("t0", agent="9.9.9")
        env.registry.delete_thing(thing_name=f"t{size - 1}")
        fast = index.get_buckets_aggregation(
            query_string="*", aggregation_field=VERSION, buckets_aggregation_type=TERMS
        )
        slow = index.get_buckets_aggregation(
            query_string="thingName:*", aggregation_field=VERSION, buckets_aggregation_type=TERMS
        )
        assert fast == slow and fast.total_count == size - 1
        return fast
    return buckets


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return text.strip() == text and text not in ("", "0x10") and "_" not in text


def test_index_not_ready_while_building() -> None:
    env = Env(IndexOptions(index_build_delay_s=10.0), configure=False)
    env.index.update_indexing_configuration(thing_indexing_configuration=CONFIG)
    error = error_of(env.index.get_statistics, query_string="*")
    assert isinstance(error, IndexNotReadyException)
    env.advance(10.0)
    assert env.index.get_statistics(query_string="*").count == 0


def test_managed_fields_and_wildcard_custom_fields() -> None:
    env = Env(IndexOptions(build_delay_s=0.0))
    config = {
        **ON_PACKAGE,
        "customFields": [{"name": "shadow.name.*.reported.agent.version", "type": "String"}],
    }
    env.index.update_indexing_configuration(thing_indexing_configuration=config)
    env.registry.create_thing_group(thing_group_name="g1")
    for i, version in enumerate(["1.0.0", "1.0.0", "2.0.0"]):
        env.thing(f"t{i}")
        env.package(f"t{i}", agent=version)
        env.registry.join("g1", f"t{i}")
    buckets = env.index.get_buckets_aggregation(
        query_string="*", aggregation_field=VERSION, buckets_aggregation_type=TERMS
    )
    assert [(b.key, b.count) for b in buckets.buckets] == [("1.0.0", 2), ("2.0.0", 1)]
    groups = env.index.get_buckets_aggregation(
        query_string="*",
        aggregation_field="registry.thingGroupNames",
        buckets_aggregation_type=TERMS,
    )
    assert [(b.key, b.count) for b in groups.buckets] == [("g1", 3)]
    delta = env.index.get_statistics(
        query_string="*", aggregation_field="shadow.name.$package.hasDelta"
    )
    assert (delta.count, delta.sum) == (3, 0.0)
    assert env.index.get_statistics(query_string="*").sum == 3.0  # registry.version
    for field in ("shadow.version", "connectivity.connected", "attributes.x", "shadow.hasDelt"):
        error = error_of(env.index.get_cardinality, query_string="*", aggregation_field=field)
        assert isinstance(error, InvalidAggregationException), field


@pytest.mark.parametrize(
    "custom",
    [
        [{"name": "thingName", "type": "String"}],
        [{"name": "shadow.name.$package.version", "type": "Number"}],
    ],
)
def test_managed_fields_cannot_be_custom(custom: list[dict[str, str]]) -> None:
    env = Env()
    error = error_of(
        env.index.update_indexing_configuration,
        thing_indexing_configuration={**ON_PACKAGE, "customFields": custom},
    )
    assert isinstance(error, InvalidRequestException)


def test_shadow_custom_fields_need_shadow_indexing() -> None:
    env = Env()
    error = error_of(
        env.index.update_indexing_configuration,
        thing_indexing_configuration={
            "thingIndexingMode": "REGISTRY",
            "customFields": [{"name": "shadow.reported.x", "type": "Number"}],
        },
    )
    assert isinstance(error, InvalidRequestException)
