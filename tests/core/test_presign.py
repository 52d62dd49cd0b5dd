"""Presigned URLs are real SigV4: byte for byte what boto3's own ``generate_presigned_url`` gives.

boto3 is only the reference here. Its clock is pinned by replacing
``botocore.auth.get_current_datetime`` (what ``S3SigV4QueryAuth.add_auth`` calls in botocore 1.44)
so both signers sign at the same instant. When ``awscrt`` is installed (the AWS IoT Device SDK
brings it), botocore swaps in the CRT's signer, which orders query parameters differently and
reads its own clock; the reference is pinned to botocore's Python SigV4 signer, the one fleetsim
uses.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import boto3
import botocore.auth
import pytest
from botocore.config import Config

from simulator.core.arn import Scope
from simulator.core.catalog import Catalog, S3Location, VersionAction
from simulator.core.errors import DocumentError
from simulator.core.substitution import (
    Execution,
    JobDocument,
    PresignConfig,
    Presigner,
    S3Object,
    parse_s3_url,
    prepare_job_document,
    render_for_device,
)

NOW = 1_700_000_123.0
AKID, SECRET = "AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
TOKEN = "FwoGZXIvYXdzEJr//////////wEaDOn+session/token=="
VERSION_ID = "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo"
MSG_INVALID = "Provided argument for presigned url is invalid"


@pytest.fixture(autouse=True)
def pinned_botocore_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    when = dt.datetime.fromtimestamp(NOW, tz=dt.UTC).replace(tzinfo=None)
    monkeypatch.setattr(botocore.auth, "get_current_datetime", lambda: when)
    for name, signer in (
        ("s3v4", botocore.auth.S3SigV4Auth),
        ("s3v4-query", botocore.auth.S3SigV4QueryAuth),
        ("v4", botocore.auth.SigV4Auth),
        ("v4-query", botocore.auth.SigV4QueryAuth),
    ):
        monkeypatch.setitem(botocore.auth.AUTH_TYPE_MAPS, name, signer)


@functools.cache
def s3_client(region: str, style: str, token: str | None) -> Any:
    config = Config(
        signature_version="s3v4",
        s3={"addressing_style": style, "us_east_1_regional_endpoint": "regional"},
    )
    return boto3.client(
        "s3",
        region_name=region,
        aws_access_key_id=AKID,
        aws_secret_access_key=SECRET,
        aws_session_token=token,
        config=config,
    )


def boto3_url(
    region: str,
    bucket: str,
    key: str,
    *,
    version: str | None = None,
    token: str | None = None,
    expires: int = 3600,
    operation: str = "get_object",
) -> str:
    # Buckets that are not DNS-compatible (dots, capitals) can only be addressed path style.
    style = "virtual" if bucket.islower() and "." not in bucket else "path"
    params = {"Bucket": bucket, "Key": key} | ({"VersionId": version} if version else {})
    url: str = s3_client(region, style, token).generate_presigned_url(
        operation, Params=params, ExpiresIn=expires
    )
    return url


KEYS = ["plain.bin", "dir/with space/ü日本😀.bin", "a~b+c=d&e;f", "/lead//double/../x", "100%.txt"]


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
@pytest.mark.parametrize("bucket", ["my-bucket", "my.dotted.bucket", "LegacyBucket"])
@pytest.mark.parametrize("key", KEYS)
def test_get_urls_equal_boto3(region: str, bucket: str, key: str) -> None:
    presigner = Presigner(AKID, SECRET, region=region)
    mine = presigner.presign(S3Object(bucket, key), now=NOW, expires=900)
    assert mine == boto3_url(region, bucket, key, expires=900)


@pytest.mark.parametrize("region", ["us-east-1", "us-west-2"])
@pytest.mark.parametrize("token", [None, TOKEN])
@pytest.mark.parametrize("version", [None, VERSION_ID, "plain-id"])
@pytest.mark.parametrize("expires", [60, 3600, 604800])
def test_versions_tokens_and_expiry_equal_boto3(
    region: str, token: str | None, version: str | None, expires: int
) -> None:
    presigner = Presigner(AKID, SECRET, token, region=region)
    obj = S3Object("my-bucket", "pkg/1.0 final.zip", version)
    expected = boto3_url(
        region, "my-bucket", obj.key, version=version, token=token, expires=expires
    )
    assert presigner.presign(obj, now=NOW, expires=expires) == expected


@pytest.mark.parametrize("bucket", ["up-bucket", "up.dotted.bucket"])
@pytest.mark.parametrize("token", [None, TOKEN])
def test_put_urls_equal_boto3(bucket: str, token: str | None) -> None:
    presigner = Presigner(AKID, SECRET, token, region="us-west-2")
    key = "logs/thing 1/job~7/4.log"
    mine = presigner.presign(S3Object(bucket, key), now=NOW, expires=300, method="PUT")
    assert mine == boto3_url(
        "us-west-2", bucket, key, token=token, expires=300, operation="put_object"
    )


def test_region_of_the_url_wins_over_the_presigners() -> None:
    presigner = Presigner(AKID, SECRET, region="us-east-1")
    mine = presigner.presign(S3Object("my-bucket", "k", region="us-west-2"), now=NOW, expires=60)
    assert mine == boto3_url("us-west-2", "my-bucket", "k", expires=60)


# -- parse_s3_url -------------------------------------------------------------------------------

Form = Literal["v1", "v2", "upload"]


W2 = "us-west-2"
Obj = S3Object
VHOST, PATH = "https://b-1.s3.us-west-2.amazonaws.com/", "https://s3.us-west-2.amazonaws.com/"


@pytest.mark.parametrize(
    ("url", "form", "expected"),
    [
        (VHOST + "d/f.bin", "v1", Obj("b-1", "d/f.bin", None, W2)),
        ("https://b-1.s3-us-west-2.amazonaws.com/f", "v1", Obj("b-1", "f", None, W2)),
        ("https://b-1.s3.amazonaws.com/f", "v1", Obj("b-1", "f")),
        ("https://s3-logs.s3.us-west-2.amazonaws.com/f", "v1", Obj("s3-logs", "f", None, W2)),
        ("https://my.b.s3.eu-west-1.amazonaws.com/f", "v1", Obj("my.b", "f", None, "eu-west-1")),
        (PATH + "my.b/d/f", "v1", Obj("my.b", "d/f", None, W2)),
        ("https://s3.amazonaws.com/EXAMPLEBUCKET/f", "v1", Obj("EXAMPLEBUCKET", "f")),
        (PATH + "b-1/a b+c%20", "v1", Obj("b-1", "a b+c%20", None, W2)),  # v1: unencoded
        (PATH + "b-1/a%20b%2Bc", "v2", Obj("b-1", "a b+c", None, W2)),  # v2: S3-SDK-encoded
        (VHOST + "f%3FversionId%3Dv.1_x", "v2", Obj("b-1", "f", "v.1_x", W2)),
        (PATH + "b-1/d/f%3FversionId%3Dv1", "v2", Obj("b-1", "d/f", "v1", W2)),
        (PATH + "b-1/f%3FversionId%3D3%2FL4%2Bq", "v2", Obj("b-1", "f", "3/L4+q", W2)),
        (VHOST + "f?versionId=v1", "v2", Obj("b-1", "f", "v1", W2)),
        (PATH + "b-1", "upload", Obj("b-1", "", None, W2)),
        (VHOST, "upload", Obj("b-1", "", None, W2)),
    ],
)
def test_parse_s3_url(url: str, form: Form, expected: S3Object) -> None:
    assert parse_s3_url(url, form) == expected


@pytest.mark.parametrize(
    ("url", "form"),
    [
        (VHOST + "f?versionId=v1", "v1"),
        (VHOST + "f?x=1", "upload"),
        (VHOST + "f%3FversionId%3D", "v2"),
        (PATH + "b-1/", "v1"),
        (PATH + "b-1", "v2"),
        ("http://b-1.s3.us-west-2.amazonaws.com/f", "v1"),
        ("https://example.com/b-1/f", "v1"),
        (PATH + "-bkt/f", "v1"),
        (PATH + "b/f", "v1"),
        ("", "upload"),
    ],
)
def test_parse_s3_url_refusals(url: str, form: Form) -> None:
    with pytest.raises(DocumentError) as info:
        parse_s3_url(url, form)
    assert (info.value.message, info.value.http_status) == (MSG_INVALID, 400)


# -- render_for_device --------------------------------------------------------------------------

SCOPE = Scope(region="us-west-2", account="123456789012")
ARN = "arn:aws:iot:us-west-2:123456789012:package/samplePackage/version/2.1.5"
ROLE = PresignConfig("arn:aws:iam::123456789012:role/JobsPresign")
EXECUTION = Execution("thing-1", "job-7", 4)
ATTRS = {
    "v1URL": "https://firmware.s3.us-west-2.amazonaws.com/fw/2.1.5 final.bin",
    "v2URL": "https://s3.us-west-2.amazonaws.com/fw.dotted/fw%2F2.1.5.bin%3FversionId%3D3%2FL4%2Bq",
    "signature": "abc",
}


def prepared(document: Any) -> JobDocument:
    catalog = Catalog(SCOPE)
    catalog.create_package("samplePackage", now=0.0)
    artifact = S3Location("artifacts", "samplePackage/2.1.5/code.zip", VERSION_ID)
    catalog.create_version("samplePackage", "2.1.5", now=0.0, attributes=ATTRS, artifact=artifact)
    catalog.update_version("samplePackage", "2.1.5", now=0.0, action=VersionAction.PUBLISH)
    text = json.dumps(document)
    return prepare_job_document(text, [ARN], catalog, scope=SCOPE, presign=ROLE)


def rendered(document: Any, execution: Execution = EXECUTION, now: float = NOW) -> Any:
    presigner = Presigner(AKID, SECRET, region="us-west-2")
    out = render_for_device(prepared(document), execution, presigner, now=now, expires_in=600)
    return json.loads(out)


PKG = "${aws:iot:package:samplePackage:version:2.1.5"


def test_artifact_and_nested_attribute_urls() -> None:
    doc = {
        "artifact": PKG + ":artifact-location:s3-presigned-url}",
        "artifact2": PKG + ":artifact:s3-presigned-url}",
        "v1": "${aws:iot:s3-presigned-url:" + PKG + ":attributes:v1URL}}",
        "v2": "${aws:iot:s3-presigned-url-v2:" + PKG + ":attributes:v2URL}}",
        "sig": PKG + ":attributes:signature}",
        "all": PKG + ":attributes}",
    }
    art = boto3_url(
        "us-west-2", "artifacts", "samplePackage/2.1.5/code.zip", version=VERSION_ID, expires=600
    )
    assert rendered(doc) == {
        "artifact": art,
        "artifact2": art,
        "v1": boto3_url("us-west-2", "firmware", "fw/2.1.5 final.bin", expires=600),
        "v2": boto3_url("us-west-2", "fw.dotted", "fw/2.1.5.bin", version="3/L4+q", expires=600),
        "sig": "abc",
        "all": ATTRS,
    }


def test_urls_are_minted_at_each_fetch() -> None:
    doc = {"a": PKG + ":artifact:s3-presigned-url}"}
    first, later = rendered(doc)["a"], rendered(doc, now=NOW + 3600)["a"]
    assert first != later
    stamp = dt.datetime.fromtimestamp(NOW + 3600, tz=dt.UTC).strftime("%Y%m%dT%H%M%SZ")
    assert parse_qs(urlsplit(later).query)["X-Amz-Date"] == [stamp]


def test_upload_local_placeholders_take_the_executions_values() -> None:
    url = "https://s3.us-west-2.amazonaws.com/up-bucket/${thingName}/${jobId}-${executionNumber}"
    doc = {"up": "${aws:iot:s3-presigned-url-upload:" + url + "/${thingName}.log}"}
    expected = boto3_url(
        "us-west-2", "up-bucket", "thing-1/job-7-4/thing-1.log", expires=600, operation="put_object"
    )
    assert rendered(doc) == {"up": expected}


def test_upload_without_key_gets_one_per_execution() -> None:
    doc = {"up": "${aws:iot:s3-presigned-url-upload:https://up-bucket.s3.us-west-2.amazonaws.com/}"}
    urls = [rendered(doc, Execution("thing-1", "job-7", n))["up"] for n in (1, 2)]
    keys = {urlsplit(u).path for u in urls}
    assert len(keys) == 2 and all(k.startswith("/") and len(k) > 1 for k in keys)
    assert all(u.startswith("https://up-bucket.s3.us-west-2.amazonaws.com/") for u in urls)


def test_static_document_is_returned_as_stored() -> None:
    job = prepared({"sig": PKG + ":attributes:signature}", "cmd": "echo ${HOME}"})
    presigner = Presigner(AKID, SECRET, region="us-west-2")
    out = render_for_device(job, EXECUTION, presigner, now=NOW, expires_in=600)
    assert out is job.after
    assert json.loads(out) == {"sig": "abc", "cmd": "echo ${HOME}"}
