"""simulator.report.stats: percentiles against references, empty input, bins, downsampling."""

from __future__ import annotations

import math
import statistics

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.report.stats import (
    PERCENTILE_METHOD,
    downsample_indices,
    ecdf,
    histogram,
    histogram_edges,
    percent,
    summarize,
    summarize_by,
)
from tests.hypothesis_profiles import examples

finite = st.floats(min_value=-1e6, max_value=1e6, allow_nan=False, allow_infinity=False)


def _type7(sorted_values: list[float], p: float) -> float:
    """Hyndman & Fan type 7 written out, independent of numpy."""
    h = (len(sorted_values) - 1) * p / 100.0
    lo = math.floor(h)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (h - lo) * (sorted_values[hi] - sorted_values[lo])


@settings(max_examples=examples(200), deadline=None)
@given(st.lists(finite, min_size=2, max_size=300))
def test_percentiles_match_numpy_and_the_stdlib(values: list[float]) -> None:
    summary = summarize(np.array(values))
    array = np.array(values)
    reference = np.percentile(array, [50, 90, 99], method="linear")
    cuts = statistics.quantiles(values, n=100, method="inclusive")  # same definition, in Python
    scale = max(1.0, *(abs(v) for v in values))
    for got, ref, cut, p in zip(
        (summary.p50, summary.p90, summary.p99),
        reference,
        (cuts[49], cuts[89], cuts[98]),
        (50, 90, 99),
        strict=True,
    ):
        assert got == pytest.approx(float(ref), rel=1e-12, abs=1e-12 * scale)
        assert got == pytest.approx(cut, rel=1e-9, abs=1e-9 * scale)
        assert got == pytest.approx(_type7(sorted(values), p), rel=1e-9, abs=1e-9 * scale)
    assert summary.count == len(values)
    assert summary.min == min(values)
    assert summary.max == max(values)
    assert summary.mean == pytest.approx(statistics.fmean(values), rel=1e-9, abs=1e-9 * scale)
    assert summary.min <= summary.p50 <= summary.p90 <= summary.p99 <= summary.max


def test_the_method_is_numpys_linear_default() -> None:
    assert PERCENTILE_METHOD == "linear"
    values = np.arange(1.0, 102.0)  # 1..101: ranks land exactly on integers
    summary = summarize(values)
    assert (summary.p50, summary.p90, summary.p99, summary.max) == (51.0, 91.0, 100.0, 101.0)
    # Between ranks it interpolates: 10 values, p90 sits at rank 8.1.
    assert summarize(np.arange(10.0)).p90 == pytest.approx(8.1)


@pytest.mark.parametrize("empty", [[], np.array([]), [math.nan, math.inf, -math.inf]])
def test_empty_input_gives_nulls(empty: object) -> None:
    summary = summarize(empty)  # type: ignore[arg-type]
    assert summary.count == 0
    assert {summary.min, summary.max, summary.mean, summary.p50, summary.p90, summary.p99} == {None}


def test_one_value_is_every_statistic() -> None:
    summary = summarize([4.25])
    assert summary.count == 1
    assert summary.min == summary.max == summary.mean == 4.25
    assert summary.p50 == summary.p90 == summary.p99 == 4.25


def test_non_finite_values_are_dropped() -> None:
    summary = summarize([1.0, math.nan, 3.0, math.inf])
    assert summary.count == 2
    assert summary.mean == 2.0
    assert summary.max == 3.0


def test_summarize_by_splits_in_status_order() -> None:
    values = [1.0, 2.0, 3.0, 10.0, 20.0, 7.0]
    labels = ["FAILED", "SUCCEEDED", "SUCCEEDED", "FAILED", "ZZZ_CUSTOM", "TIMED_OUT"]
    by = summarize_by(values, labels)
    assert list(by) == ["SUCCEEDED", "FAILED", "TIMED_OUT", "ZZZ_CUSTOM"]
    assert by["SUCCEEDED"].count == 2
    assert by["SUCCEEDED"].p50 == 2.5
    assert by["FAILED"].max == 10.0
    assert summarize_by([], []) == {}
    with pytest.raises(ValueError, match="labels"):
        summarize_by([1.0], [])


def test_percent() -> None:
    assert percent(1, 4) == 25.0
    assert percent(0, 0) is None


@settings(max_examples=examples(100), deadline=None)
@given(
    st.lists(st.floats(min_value=0, max_value=1e7, allow_nan=False), min_size=0, max_size=200),
    st.data(),
)
def test_histogram_counts_every_finite_value_once(values: list[float], data: st.DataObject) -> None:
    labels = data.draw(
        st.lists(
            st.sampled_from(["SUCCEEDED", "FAILED"]), min_size=len(values), max_size=len(values)
        )
    )
    hist = histogram([*values, math.nan], [*labels, "SUCCEEDED"])
    assert np.all(np.diff(hist.edges) > 0)
    for label in set(labels):
        assert int(hist.counts[label].sum()) == labels.count(label)
    assert sum(int(c.sum()) for c in hist.counts.values()) == len(values)
    assert all(c.size == hist.edges.size - 1 for c in hist.counts.values())


def test_histogram_edges_go_log_when_the_spread_is_large() -> None:
    edges, log = histogram_edges([0.0, 0.5, 2.0, 40.0, 3000.0])
    assert log
    assert edges[0] == 0.5
    assert edges[-1] == pytest.approx(3000.0)
    ratios = edges[1:] / edges[:-1]
    assert np.allclose(ratios, ratios[0])  # evenly spaced in log
    hist = histogram([0.0, 0.5, 2.0, 40.0, 3000.0])
    assert hist.log
    assert int(hist.counts["all"][0]) == 2  # the zero is counted in the first bin


def test_histogram_edges_stay_linear_for_a_narrow_spread() -> None:
    edges, log = histogram_edges(np.linspace(10.0, 50.0, 1000), max_bins=20)
    assert not log
    assert edges[0] == 10.0
    assert edges[-1] == 50.0
    assert edges.size - 1 <= 20
    assert np.allclose(np.diff(edges), np.diff(edges)[0])


def test_histogram_edges_degenerate_inputs() -> None:
    edges, log = histogram_edges([])
    assert edges.tolist() == [0.0, 1.0]
    assert not log
    edges, _ = histogram_edges([5.0, 5.0])
    assert edges[0] < 5.0 < edges[1]
    edges, _ = histogram_edges([0.0])
    assert edges[0] < 0.0 < edges[1]
    edges, log = histogram_edges([-5.0, 1000.0])
    assert not log  # negative values cannot go on a log axis


def test_ecdf() -> None:
    x, fraction = ecdf(np.arange(101.0), points=11)
    assert fraction.tolist() == pytest.approx([i / 10 for i in range(11)])
    assert x.tolist() == pytest.approx([float(i * 10) for i in range(11)])
    x, fraction = ecdf([])
    assert x.size == fraction.size == 0


def test_downsample_keeps_ends_and_at_most_max_points() -> None:
    assert downsample_indices(5, 500).tolist() == [0, 1, 2, 3, 4]
    assert downsample_indices(0, 500).tolist() == []
    picked = downsample_indices(2000, 500)
    assert picked.size == 500
    assert picked[0] == 0
    assert picked[-1] == 1999
    assert np.all(np.diff(picked) > 0)


def test_downsample_with_weight_keeps_a_spike() -> None:
    weight = np.zeros(10_000)
    weight[4321] = 7.0  # a one-sample burst that even spacing would skip
    assert 4321 not in downsample_indices(10_000, 100).tolist()
    picked = downsample_indices(10_000, 100, weight)
    assert 4321 in picked.tolist()
    assert picked.size <= 100
    assert picked[0] == 0
    assert picked[-1] == 9_999
    with pytest.raises(ValueError, match="weight"):
        downsample_indices(3, 2, [1.0])
