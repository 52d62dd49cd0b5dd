"""``fleetsim serve --throttle``: ThrottlingException 429 through boto3, and the pieces behind it.

The server tests call a real ``fleetsim serve`` with retries off; the token bucket and the SPEC
parser are checked with an injected clock and hypothesis.
"""

from __future__ import annotations

import time
from typing import Any

import pytest
from botocore.config import Config
from hypothesis import given
from hypothesis import strategies as st

from simulator.api.http.routes import ROUTES
from simulator.api.http.throttle import (
    AWS_RATES,
    Throttle,
    ThrottleSpec,
    TokenBucket,
    parse_throttle,
)
from simulator.cli import main
from simulator.core.errors import UsageError

NO_RETRIES = Config(retries={"total_max_attempts": 1})


def _burst(call: Any, count: int, **kwargs: Any) -> list[tuple[str, int, dict[str, str], str]]:
    """``count`` calls as fast as possible: per call (error code or "", status, headers,
    error message or "")."""
    out = []
    for _ in range(count):
        try:
            response = call(**kwargs)
            out.append(("", 200, response["ResponseMetadata"]["HTTPHeaders"], ""))
        except Exception as exc:
            response = exc.response  # type: ignore[attr-defined]
            meta = response["ResponseMetadata"]
            error = response["Error"]
            out.append(
                (error["Code"], meta["HTTPStatusCode"], meta["HTTPHeaders"], error["Message"])
            )
    return out


@pytest.mark.slow
def test_describe_job_faster_than_5_per_second_is_throttled(start_server: Any) -> None:
    server = start_server("--throttle", "5")
    iot = server.client("iot", config=NO_RETRIES)
    arn = iot.create_thing(thingName="throttled-thing")["thingArn"]
    iot.create_job(jobId="throttled-job", targets=[arn], document="{}")
    began = time.monotonic()
    results = _burst(iot.describe_job, 20, jobId="throttled-job")
    elapsed = time.monotonic() - began
    ok = [r for r in results if r[0] == ""]
    throttled = [r for r in results if r[0] == "ThrottlingException"]
    assert len(ok) + len(throttled) == 20
    # The burst of 5, and what refilled during the calls (a loaded machine calls slowly).
    assert 5 <= len(ok) <= 5 + 5 * elapsed + 1, (len(ok), elapsed)
    assert throttled and all(r[1] == 429 for r in throttled)
    assert throttled[0][2]["x-amzn-errortype"] == "ThrottlingException"
    assert throttled[0][3] == "Rate exceeded"
    time.sleep(1.1)  # refilled
    assert iot.describe_job(jobId="throttled-job")["job"]["jobId"] == "throttled-job"
    # Each operation has its own bucket, and the data planes are not limited by N.
    assert iot.describe_thing(thingName="throttled-thing")["thingName"] == "throttled-thing"
    data = server.client("iot-data", config=NO_RETRIES)
    shadows = _burst(data.list_named_shadows_for_thing, 12, thingName="throttled-thing")
    assert all(r[0] != "ThrottlingException" for r in shadows), shadows


@pytest.mark.slow
def test_aws_rates_and_overrides(start_server: Any) -> None:
    server = start_server("--throttle", "aws,DescribeThing=2")
    iot = server.client("iot", config=NO_RETRIES)
    iot.create_thing(thingName="aws-rated")
    began = time.monotonic()
    codes = [r[0] for r in _burst(iot.describe_thing, 6, thingName="aws-rated")]
    elapsed = time.monotonic() - began
    assert 2 <= codes.count("") <= 2 + 2 * elapsed + 1, (codes, elapsed)
    assert "ThrottlingException" in codes
    # ListJobs at AWS's 10/s: a burst of 10 passes, more are throttled.
    results = _burst(iot.list_jobs, 15)
    assert [r[0] for r in results].count("") in (10, 11)


def test_bad_throttle_spec_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["serve", "--throttle", "fast"]) == 2  # refused before anything listens
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert err.startswith("fleetsim serve: error: --throttle: rate 'fast'")


@pytest.mark.parametrize(
    ("args", "fragment"),
    [
        (["--ca-dir", "/nonexistent"], "--ca-dir /nonexistent: cannot read"),
        (["--endpoint-address", "a b"], "--endpoint-address 'a b'"),
    ],
)
def test_bad_serve_options(
    args: list[str], fragment: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["serve", *args]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and fragment in err, err


# -- in process -----------------------------------------------------------------------------


class FakeClock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_bucket_refills_at_its_rate() -> None:
    clock = FakeClock()
    throttle = Throttle(ThrottleSpec(control_plane=4.0), clock)
    assert [throttle.admit("iot", "DescribeJob") for _ in range(5)] == [True] * 4 + [False]
    clock.now += 0.25
    assert throttle.admit("iot", "DescribeJob")
    assert not throttle.admit("iot", "DescribeJob")
    assert throttle.admit("iot", "CreateJob")  # another bucket
    assert throttle.admit("iot-data", "GetThingShadow")  # N limits the control plane only
    clock.now += 100
    assert [throttle.admit("iot", "DescribeJob") for _ in range(5)] == [True] * 4 + [False]


@given(
    rate=st.floats(0.5, 200),
    gaps=st.lists(st.floats(0, 0.5), min_size=1, max_size=200),
)
def test_bucket_never_exceeds_rate_times_time_plus_burst(rate: float, gaps: list[float]) -> None:
    bucket = TokenBucket(rate=rate, burst=max(1.0, rate))
    now, admitted = 0.0, 0
    for gap in gaps:
        now += gap
        wait = bucket.reserve(now)
        if wait == 0.0:
            admitted += 1
        else:
            assert wait > 0
            assert bucket.reserve(now + wait + 1e-9) == 0.0  # the promised token is there
            admitted += 1
            now += wait + 1e-9
    assert admitted <= rate * now + max(1.0, rate) + 1e-6


_OPERATIONS = sorted({r.operation for r in ROUTES})
_TERM = st.one_of(
    st.just("aws"),
    st.integers(1, 10_000).map(str),
    st.tuples(st.sampled_from(_OPERATIONS), st.integers(1, 500)).map(lambda t: f"{t[0]}={t[1]}"),
)


@given(st.lists(_TERM, min_size=1, max_size=6))
def test_spec_round_trips(terms: list[str]) -> None:
    spec = parse_throttle(",".join(terms))
    assert spec is not None
    assert parse_throttle(str(spec)) == spec
    for name, rate in dict(spec.overrides).items():  # the last one of a name wins
        service = next(r.service for r in ROUTES if r.operation == name)
        assert spec.limit(service, name) == (f"{service}:{name}", rate)


@given(st.text(max_size=40))
def test_any_spec_parses_or_is_a_usage_error(text: str) -> None:
    try:
        spec = parse_throttle(text)
    except UsageError as err:
        assert "\n" not in err.message
    else:
        assert spec is None or isinstance(spec, ThrottleSpec)


@pytest.mark.parametrize("text", ["", "0", "-1", "1e9", "aws,", "Nope=3", "DescribeJob=0", "x"])
def test_bad_specs(text: str) -> None:
    with pytest.raises(UsageError):
        parse_throttle(text)


def test_aws_table_names_served_operations() -> None:
    served = {(r.service, r.operation) for r in ROUTES}
    assert set(AWS_RATES) <= served
    assert AWS_RATES["iot", "CreateThing"][1] == 100.0
    assert parse_throttle("none") is None
    assert parse_throttle("5,none") is None
