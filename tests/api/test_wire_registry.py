"""Typed results of the catalog, registry, security and tag services, and their wire shapes.

The services return records (never a wire dict); :data:`simulator.api.wire.ENCODERS` holds one
encoder per operation of theirs. Exercised in-process through the sans-IO :class:`HttpApi`, so the
bytes checked are the bytes a client receives (boto3 against a real server: the other test_http_*
modules).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from simulator.api.http.dispatch import HttpApi
from simulator.api.http.operations import compile_routes
from simulator.api.wire import ENCODERS
from simulator.core.errors import InvalidRequestException
from simulator.services.controlplane import ControlPlane
from simulator.services.registry.model import (
    PropagatingAttribute,
    ThingTypeProperties,
    parse_thing_type_properties,
)

TYPED = frozenset({"catalog", "registry", "security", "tags"})
ACCOUNT = "arn:aws:iot:us-east-1:123456789012"


def test_every_typed_operation_has_an_encoder_and_every_encoder_a_route() -> None:
    routes = {(op.route.service, op.route.operation): op.route.attribute for op in compile_routes()}
    # A missing encoder would answer a typed result as orjson's idea of it (or "null").
    missing = sorted(key for key, attr in routes.items() if attr in TYPED and key not in ENCODERS)
    assert missing == []
    assert sorted(k for k in ENCODERS if k not in routes) == []


class _Watched:
    """A service whose answers are recorded (to check that none is a dict)."""

    def __init__(self, service: object, seen: list[tuple[str, object]]) -> None:
        self._service = service
        self._seen = seen

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._service, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            result = attr(*args, **kwargs)
            self._seen.append((name, result))
            return result

        return call


class _Plane:
    def __init__(self) -> None:
        self.inner = ControlPlane()
        self.seen: list[tuple[str, object]] = []

    def __getattr__(self, name: str) -> Any:
        service = getattr(self.inner, name)
        return _Watched(service, self.seen) if name in TYPED else service


def _client() -> tuple[_Plane, Callable[..., Any]]:
    plane = _Plane()
    api = HttpApi(plane, auth="none")
    scope = "test/20260101/us-east-1/iot/aws4_request"
    auth = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=x"

    def call(method: str, target: str, body: object = None, **headers: str) -> Any:
        hdrs = CIMultiDict({"authorization": auth})
        hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
        raw = b"" if body is None else orjson.dumps(body)
        reply = api.handle(method, target, CIMultiDictProxy(hdrs), raw)
        assert reply.status == 200, reply.body
        return orjson.loads(reply.body)

    return plane, call


def test_catalog_answers_are_typed_and_encode_as_aws_does() -> None:
    plane, call = _client()
    assert call("PUT", "/packages/p", {"description": "d"}) == {
        "packageName": "p",
        "packageArn": f"{ACCOUNT}:package/p",
        "description": "d",
    }
    artifact = {"s3Location": {"bucket": "b", "key": "k", "version": "3"}}
    call("PUT", "/packages/p/versions/1.0", {"attributes": {"os": "linux"}, "artifact": artifact})
    sbom = {"s3Location": {"bucket": "sb", "key": "sk"}}
    associated = call("PUT", "/packages/p/versions/1.0/sbom", {"sbom": sbom})
    assert associated == {
        "packageName": "p",
        "versionName": "1.0",
        "sbom": sbom,
        "sbomValidationStatus": "IN_PROGRESS",
    }
    got = call("GET", "/packages/p/versions/1.0")
    assert (got["artifact"], got["sbom"], got["sbomValidationStatus"]) == (
        artifact,
        sbom,
        "IN_PROGRESS",
    )
    plane.inner.runtime.scheduler.run_due(plane.inner.runtime.clock())
    assert call("GET", "/packages/p/versions/1.0")["sbomValidationStatus"] == "SUCCEEDED"
    assert call("PATCH", "/packages/p/versions/1.0", {"action": "PUBLISH"}) == {}
    assert (
        call("GET", "/packages/p/versions?maxResults=1")["packageVersionSummaries"][0]["status"]
        == "PUBLISHED"
    )
    assert call("GET", "/package-configuration") == {
        "versionUpdateByJobsConfig": {"enabled": False}
    }
    assert call("GET", "/packages/p/versions/1.0/sbom-validation-results") == {
        "validationResultSummaries": []
    }
    assert plane.seen and not [n for n, r in plane.seen if isinstance(r, dict)]


def test_registry_and_security_answers_are_typed() -> None:
    plane, call = _client()
    props = {
        "thingTypeDescription": "sensors",
        "searchableAttributes": ["model"],
        "mqtt5Configuration": {
            "propagatingAttributes": [{"userPropertyKey": "k", "thingAttribute": "model"}]
        },
    }
    call("POST", "/thing-types/tt", {"thingTypeProperties": props})
    described = call("GET", "/thing-types/tt")
    assert described["thingTypeProperties"] == props
    assert described["thingTypeMetadata"]["deprecated"] is False
    created = call("POST", "/things/t1", {"thingTypeName": "tt"})
    assert set(created) == {"thingName", "thingArn", "thingId"}
    call("POST", "/thing-groups/root", {})
    call("POST", "/thing-groups/leaf", {"parentGroupName": "root"})
    assert call("GET", "/thing-groups/leaf")["thingGroupMetadata"]["rootToParentThingGroups"] == [
        {"groupName": "root", "groupArn": f"{ACCOUNT}:thinggroup/root"}
    ]
    assert call("PATCH", "/thing-groups/leaf", {"thingGroupProperties": {}}) == {"version": 2}
    call("PUT", "/thing-groups/addThingToThingGroup", {"thingGroupName": "leaf", "thingName": "t1"})
    assert call("GET", "/thing-groups/root/things?recursive=true") == {"things": ["t1"]}
    cert = call("POST", "/keys-and-certificate?setAsActive=true")
    assert set(cert["keyPair"]) == {"PublicKey", "PrivateKey"}
    call("PUT", "/things/t1/principals", x_amzn_principal=cert["certificateArn"])
    assert call("GET", "/things/t1/principals") == {"principals": [cert["certificateArn"]]}
    listed = call("GET", "/certificates?pageSize=1")
    assert listed["certificates"][0]["status"] == "ACTIVE"
    assert call("GET", "/endpoint") == {"endpointAddress": "localhost"}
    tags = {"resourceArn": f"{ACCOUNT}:thinggroup/root", "tags": [{"Key": "b", "Value": "2"}]}
    assert call("POST", "/tags", tags) == {}
    assert call("GET", f"/tags?resourceArn={ACCOUNT}%3Athinggroup%2Froot") == {
        "tags": [{"Key": "b", "Value": "2"}]
    }
    assert call("DELETE", "/things/t1/principals", x_amzn_principal=cert["certificateArn"]) == {}
    assert call("DELETE", "/things/t1") == {}
    assert plane.seen and not [n for n, r in plane.seen if isinstance(r, dict)]


def test_thing_type_properties_parse_into_records() -> None:
    assert parse_thing_type_properties(None) == ThingTypeProperties()
    parsed = parse_thing_type_properties(
        {
            "thingTypeDescription": "d",
            "searchableAttributes": ["a"],
            "mqtt5Configuration": {"propagatingAttributes": [{"connectionAttribute": "c"}]},
            "unknown": 1,  # ignored, as AWS ignores unknown members
        }
    )
    assert parsed == ThingTypeProperties("d", ("a",), (PropagatingAttribute(None, None, "c"),))


@pytest.mark.parametrize(
    "payload",
    [
        [],
        {"thingTypeDescription": 3},
        {"searchableAttributes": "a"},
        {"mqtt5Configuration": {"propagatingAttributes": [1]}},
        {"mqtt5Configuration": {"propagatingAttributes": [{"thingAttribute": 2}]}},
    ],
)
def test_malformed_thing_type_properties_are_aws_errors(payload: object) -> None:
    with pytest.raises(InvalidRequestException):
        parse_thing_type_properties(payload)
