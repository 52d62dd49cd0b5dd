"""fleetsim's presigned URLs against botocore's ``generate_presigned_url`` on random inputs.

Buckets (DNS-style, dotted, legacy capitals), keys (any Unicode, reserved characters, slashes),
object versions, session tokens, access keys, regions, signing times, expiries and both
methods: the URL must be the same string, byte for byte. botocore's clock and signer are pinned
by the benchmark's own peer (:class:`simulator.bench._botocore.BotocorePresigner`), which is
thus tested here too.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import botocore.auth
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.bench._botocore import BotocorePresigner
from simulator.core.substitution import Presigner, S3Object
from tests.hypothesis_profiles import examples

DNS_BUCKETS = st.from_regex(r"[a-z0-9][a-z0-9-]{1,20}[a-z0-9]", fullmatch=True)
OTHER_BUCKETS = st.from_regex(r"[A-Za-z0-9][A-Za-z0-9.]{1,20}[A-Za-z0-9]", fullmatch=True)
KEYS = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=40)
VERSIONS = st.none() | st.text(st.sampled_from("abcXYZ019+/=._-~ "), min_size=1, max_size=30)
REGIONS = st.sampled_from(["us-east-1", "us-west-2", "eu-central-1", "ap-southeast-2"])
# A few credentials (a botocore client per credential set takes ~0.1 s to build), odd ones too.
ACCESS_KEYS = st.sampled_from(["AKIAIOSFODNN7EXAMPLE", "test", "AKID+/=~ x"])
SECRETS = st.sampled_from(["wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "test", "s€cret/+="])
SECRETS_FIXED = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKENS = st.sampled_from([None, "FwoGZXIvYXdzEJr//////////wEaDOn+session/token=="])


@functools.cache
def _peer(access_key: str, secret: str, token: str | None, region: str) -> BotocorePresigner:
    return BotocorePresigner(access_key, secret, region=region, session_token=token)


@dataclass(frozen=True)
class Case:
    obj: S3Object
    credentials: tuple[str, str, str | None]
    region: str
    now: int
    expires: int
    method: str


def _check(case: Case) -> None:
    access_key, secret, token = case.credentials
    obj = case.obj
    if case.method == "PUT":  # uploads name no object version
        obj = S3Object(obj.bucket, obj.key, None, obj.region)
    mine = Presigner(access_key, secret, token, region=case.region).presign(
        obj, now=case.now, expires=case.expires, method="PUT" if case.method == "PUT" else "GET"
    )
    peer = _peer(access_key, secret, token, case.region)
    with peer.pinned():
        peer.at(case.now)
        theirs = peer.presign(obj, case.method, case.expires)
    assert mine == theirs


OBJECTS = st.builds(S3Object, DNS_BUCKETS | OTHER_BUCKETS, KEYS, VERSIONS, st.none() | REGIONS)
TIMES = st.integers(min_value=946_684_800, max_value=4_102_444_799)
EXPIRIES = st.integers(min_value=1, max_value=604_800)
METHODS = st.sampled_from(["GET", "PUT"])
#: Objects, times, expiries and methods at random; one key pair, two regions.
CASES = st.builds(
    Case,
    OBJECTS,
    st.tuples(st.just("AKIAIOSFODNN7EXAMPLE"), st.just(SECRETS_FIXED), TOKENS),
    st.sampled_from(["us-east-1", "us-west-2"]),
    TIMES,
    EXPIRIES,
    METHODS,
)
#: The same with credentials and regions at random too.
ANY_CREDENTIALS = st.builds(
    Case, OBJECTS, st.tuples(ACCESS_KEYS, SECRETS, TOKENS), REGIONS, TIMES, EXPIRIES, METHODS
)


@settings(max_examples=examples(200), deadline=None)
@given(CASES)
def test_urls_are_botocores(case: Case) -> None:
    _check(case)


@pytest.mark.slow  # a botocore client per credential set and region: ~0.1 s each
@settings(max_examples=examples(100), deadline=None)
@given(ANY_CREDENTIALS)
def test_urls_are_botocores_for_any_credentials(case: Case) -> None:
    _check(case)


def test_pinned_restores_botocore() -> None:
    auth: Any = botocore.auth  # get_current_datetime is missing from the type stubs
    before = (auth.get_current_datetime, auth.AUTH_TYPE_MAPS["s3v4-query"])
    peer = _peer("test", "test", None, "us-east-1")
    with peer.pinned():
        assert auth.get_current_datetime is not before[0]
    assert (auth.get_current_datetime, auth.AUTH_TYPE_MAPS["s3v4-query"]) == before
