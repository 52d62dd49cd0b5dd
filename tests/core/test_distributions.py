"""Distribution specs for scenarios: parsing, errors naming the field, seeded streams, means."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.core.distributions import Distribution, parse_distribution, stream
from simulator.core.errors import UsageError


@pytest.mark.parametrize(
    ("spec", "expected"),
    [
        (5, Distribution("constant", 5.0)),
        (2.5, Distribution("constant", 2.5)),
        ("constant(3)", Distribution("constant", 3.0)),
        ("uniform(1, 3)", Distribution("uniform", 1.0, 3.0)),
        ("  uniform( 0.02 ,0.08 ) ", Distribution("uniform", 0.02, 0.08)),
        ("normal(10, 2)", Distribution("normal", 10.0, 2.0)),
        ("lognormal(20, 0.5)", Distribution("lognormal", 20.0, 0.5)),
        ("exponential(30)", Distribution("exponential", 30.0)),
        ("uniform(5, 5)", Distribution("uniform", 5.0, 5.0)),
        ("normal(1, 0)", Distribution("normal", 1.0, 0.0)),
        ("exponential(1e-3)", Distribution("exponential", 0.001)),
    ],
)
def test_specs_parse_into_distributions(spec: object, expected: Distribution) -> None:
    assert parse_distribution(spec) == expected


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (True, "expected a number or a distribution, got True"),
        ([1, 2], "expected a number or a distribution"),
        (None, "expected a number or a distribution"),
        ("gamma(1, 2)", "cannot read 'gamma(1, 2)'; use a number or one of constant(...)"),
        ("uniform 1 3", "cannot read"),
        ("Uniform(1, 3)", "cannot read"),
        ("", "cannot read"),
        ("uniform(a, b)", "arguments of 'uniform(a, b)' must be numbers"),
        ("uniform(1,)", "must be numbers"),
        ("uniform(1)", "uniform takes 2 argument(s)"),
        ("exponential(1, 2)", "exponential takes 1 argument(s)"),
        ("constant()", "constant takes 1 argument(s)"),
        ("uniform(3, 1)", "invalid parameters"),
        ("normal(1, -1)", "invalid parameters"),
        ("lognormal(0, 1)", "invalid parameters"),
        ("lognormal(5, -0.1)", "invalid parameters"),
        ("exponential(0)", "invalid parameters"),
        ("exponential(-2)", "invalid parameters"),
        ("uniform(0, inf)", "invalid parameters"),
        ("normal(nan, 1)", "invalid parameters"),
        (math.nan, "invalid parameters in 'nan'"),
        (math.inf, "invalid parameters in 'inf'"),
    ],
)
def test_a_bad_spec_is_a_usage_error_naming_the_field(spec: object, message: str) -> None:
    with pytest.raises(UsageError) as caught:
        parse_distribution(spec, field="$.device.steps.install.duration")
    assert caught.value.message.startswith("$.device.steps.install.duration: ")
    assert message in caught.value.message


@given(st.text(max_size=30) | st.integers() | st.floats() | st.none() | st.booleans())
def test_any_input_parses_or_raises_a_usage_error(spec: object) -> None:
    try:
        dist = parse_distribution(spec, field="$.x")
    except UsageError as exc:
        assert exc.message.startswith("$.x: ")
    else:
        assert dist.kind in ("constant", "uniform", "normal", "lognormal", "exponential")
        assert math.isfinite(dist.a)
        assert math.isfinite(dist.b)


def test_draws_are_never_negative() -> None:
    rng = np.random.default_rng(1)
    assert Distribution("constant", -4.0).sample(rng, 3) == [0.0, 0.0, 0.0]
    draws = Distribution("normal", 0.0, 1.0).sample(rng, 10_000)
    assert min(draws) == 0.0
    assert 0.45 < draws.count(0.0) / len(draws) < 0.55  # half the mass was below 0


def take(s: object, n: int) -> list[float]:
    assert callable(s)
    return [s() for _ in range(n)]


DIST = Distribution("lognormal", 20.0, 0.5)


def test_a_stream_depends_only_on_the_seed_and_its_name() -> None:
    # More than one batch (4,096), so refills are covered too.
    first = take(stream(42, "device.step.install.duration", DIST), 10_000)
    again = take(stream(42, "device.step.install.duration", DIST), 10_000)
    assert first == again
    assert take(stream(43, "device.step.install.duration", DIST), 100) != first[:100]
    assert take(stream(42, "device.step.verify.duration", DIST), 100) != first[:100]


def test_streams_are_independent_of_each_other() -> None:
    alone = take(stream(7, "a", DIST), 5000)
    a, b = stream(7, "a", DIST), stream(7, "b", DIST)
    interleaved = []
    for _ in range(5000):
        interleaved.append(a())
        b()
        b()
    assert interleaved == alone
    # Two streams of one seed are not correlated.
    xs = np.array(take(stream(7, "x", Distribution("uniform", 0, 1)), 50_000))
    ys = np.array(take(stream(7, "y", Distribution("uniform", 0, 1)), 50_000))
    assert abs(np.corrcoef(xs, ys)[0, 1]) < 0.03


def test_a_stream_keeps_its_distribution() -> None:
    assert stream(1, "n", DIST).distribution is DIST


def test_seeds_beyond_64_bits_and_negative_seeds_still_give_streams() -> None:
    assert take(stream(2**70, "n", DIST), 3) == take(stream(2**70, "n", DIST), 3)
    assert len(take(stream(-1, "n", DIST), 3)) == 3


@pytest.mark.parametrize(
    ("dist", "sd"),
    [
        (Distribution("constant", 12.5), 0.0),
        (Distribution("uniform", 10.0, 40.0), 30 / math.sqrt(12)),
        (Distribution("normal", 50.0, 5.0), 5.0),
        (
            Distribution("lognormal", 15.0, 0.6),
            15 * math.sqrt((math.exp(0.36) - 1) * math.exp(0.36)),
        ),
        (Distribution("exponential", 30.0), 30.0),
    ],
)
def test_sample_means_agree_with_the_stated_mean(dist: Distribution, sd: float) -> None:
    n = 200_000
    draws = np.array(take(stream(3, f"mean.{dist.kind}", dist), n))
    tolerance = 5 * sd / math.sqrt(n) + 1e-9
    assert abs(draws.mean() - dist.mean) <= tolerance
    if sd:
        assert abs(draws.std() - sd) / sd < 0.02


def test_the_lognormal_median_is_its_first_parameter() -> None:
    draws = np.array(take(stream(5, "median", Distribution("lognormal", 20.0, 0.5)), 100_000))
    assert abs(np.median(draws) - 20.0) < 0.2
