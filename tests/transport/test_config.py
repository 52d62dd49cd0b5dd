"""Pure parts of the transport: broker URIs, shards, token bucket, backoff, TLS options."""

from __future__ import annotations

import random
import resource
import ssl
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from simulator.core.errors import UsageError
from simulator.transport.mqtt import (
    AWS_IOT_ALPN,
    Backoff,
    BrokerConfig,
    PoolOptions,
    Shard,
    TlsConfig,
    TokenBucket,
    loopback_sources,
    parse_broker_uri,
    parse_shard,
    raise_open_file_limit,
    shard_range,
)


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("mqtt://127.0.0.1:1883", BrokerConfig("127.0.0.1", 1883, False)),
        ("mqtt://localhost", BrokerConfig("localhost", 1883, False)),
        ("mqtts://broker.example", BrokerConfig("broker.example", 8883, True)),
        (
            "MQTTS://abc-ats.iot.eu-west-1.amazonaws.com:443/",
            BrokerConfig("abc-ats.iot.eu-west-1.amazonaws.com", 443, True),
        ),
        ("mqtt://[::1]:2000", BrokerConfig("::1", 2000, False)),
    ],
)
def test_broker_uris(uri: str, expected: BrokerConfig) -> None:
    assert parse_broker_uri(uri) == expected
    assert parse_broker_uri(expected.uri) == expected


@pytest.mark.parametrize(
    ("uri", "why"),
    [
        ("", "no scheme"),
        ("127.0.0.1:1883", "scheme"),
        ("http://host:80", "unsupported scheme 'http'"),
        ("mqtt:host", "missing '//'"),
        ("mqtt://", "no host"),
        ("mqtt://:1883", "no host"),
        ("mqtt://host:0", "port"),
        ("mqtt://host:65536", "port"),
        ("mqtt://host:http", "port"),
        ("mqtt://host:", "port"),
        ("mqtt://user:pw@host", "credentials"),
        ("mqtt://host/topic", "no path"),
        ("mqtt://host?x=1", "query"),
        ("mqtt://host#frag", "fragment"),
        ("mqtt://[::1", "malformed"),
        ("mqtt://ho st", "whitespace"),
    ],
)
def test_bad_broker_uris_are_usage_errors(uri: str, why: str) -> None:
    with pytest.raises(UsageError, match="expected mqtt://HOST:PORT") as info:
        parse_broker_uri(uri)
    assert why in info.value.message


@given(st.text(max_size=30))
def test_any_text_parses_or_is_a_usage_error(text: str) -> None:
    try:
        parsed = parse_broker_uri(text)
    except UsageError:
        return
    assert 1 <= parsed.port <= 65535 and parsed.host


@given(st.integers(0, 100_000), st.integers(1, 64), st.integers(0, 10**6))
def test_shards_partition_the_fleet(size: int, count: int, first: int) -> None:
    ranges = [shard_range(k, count, size, first=first) for k in range(count)]
    indices = [i for r in ranges for i in r]
    assert indices == list(range(first, first + size))  # contiguous, disjoint, in order
    lengths = [len(r) for r in ranges]
    assert max(lengths) - min(lengths) <= 1


def test_shard_examples_and_parsing() -> None:
    assert shard_range(0, 3, 10) == range(3)
    assert shard_range(2, 3, 10) == range(6, 10)
    assert Shard(1, 4).range(1000, first=5000) == range(5250, 5500)
    assert parse_shard(" 3/8 ") == Shard(3, 8)
    for bad in ("8/8", "-1/4", "1", "a/b", "1/0", "1/²", ""):
        with pytest.raises(UsageError):
            parse_shard(bad)
    with pytest.raises(UsageError):
        shard_range(0, 2, -1)


def test_token_bucket_paces_after_the_burst() -> None:
    bucket = TokenBucket(rate=10.0, burst=3, now=100.0)
    assert [bucket.take(100.0) for _ in range(3)] == [0.0, 0.0, 0.0]
    assert bucket.take(100.0) == pytest.approx(0.1)
    assert bucket.take(100.05) == pytest.approx(0.05)  # nothing taken: still waiting
    assert bucket.take(100.1) == 0.0
    assert bucket.take(200.0) == 0.0  # a long pause refills only up to the burst
    assert bucket.take(200.0) == 0.0
    assert bucket.take(200.0) == 0.0
    assert bucket.take(200.0) > 0.0
    # Over a long run the rate holds: 1,000 tokens at 10/s take ~99.7 s after the burst of 3.
    now, taken = 300.0, 0
    bucket = TokenBucket(rate=10.0, burst=3, now=now)
    while taken < 1000:
        wait = bucket.take(now)
        if wait:
            now += wait
        else:
            taken += 1
    assert now - 300.0 == pytest.approx(99.7, abs=0.01)
    with pytest.raises(ValueError, match="rate"):
        TokenBucket(0, 1, 0.0)


def test_backoff_is_jittered_exponential_capped_and_seeded() -> None:
    backoff = Backoff(0.5, 8.0, random.Random(1))
    delays = [backoff.delay(k) for k in range(8)]
    for k, delay in enumerate(delays):
        ceiling = min(8.0, 0.5 * 2**k)
        assert ceiling / 2 <= delay <= ceiling
    again = Backoff(0.5, 8.0, random.Random(1))
    assert [again.delay(k) for k in range(8)] == delays
    assert 4.0 <= backoff.delay(10_000) <= 8.0
    spread = {round(Backoff(1.0, 1.0, random.Random(s)).delay(0), 6) for s in range(50)}
    assert len(spread) == 50  # a fleet's reconnects do not line up


def test_pool_options_are_checked() -> None:
    for bad in (
        {"keepalive": 70000},
        {"connect_rate": 0},
        {"max_inflight": 0},
        {"backoff_base": 5, "backoff_cap": 1},
    ):
        with pytest.raises(UsageError, match="MQTT pool options"):
            PoolOptions(**bad)  # type: ignore[arg-type]


def test_tls_options() -> None:
    assert TlsConfig().alpn_for(443) == (AWS_IOT_ALPN,) == ("x-amzn-mqtt-ca",)
    assert TlsConfig().alpn_for(8883) == ()
    assert TlsConfig(alpn=("mqtt",)).alpn_for(443) == ("mqtt",)
    context = TlsConfig().context(8883)
    assert context.verify_mode is ssl.CERT_REQUIRED and context.check_hostname
    with pytest.raises(UsageError, match="both a client certificate and its key"):
        TlsConfig(cert_file=Path("c.pem"))
    with pytest.raises(UsageError, match="cannot load"):
        TlsConfig(ca_file=Path("/nonexistent/ca.pem")).context(8883)


def test_open_file_limit_and_sources() -> None:
    soft = raise_open_file_limit()
    assert soft == resource.getrlimit(resource.RLIMIT_NOFILE)[1] or soft > 19_000
    sources = loopback_sources(300)
    assert len(set(sources)) == 300
    assert (
        sources[0] == "127.0.1.1" and sources[253] == "127.0.1.254" and sources[254] == "127.0.2.1"
    )
