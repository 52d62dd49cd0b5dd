"""Typed results of the catalog, registry, security, tag, index and shadow services, and their
wire shapes.

The services return records (never a wire dict); :data:`simulator.api.wire.ENCODERS` holds one
encoder per operation of theirs. Exercised in-process through the sans-IO :class:`HttpApi`, so the
bytes checked are the bytes a client receives (boto3 against a real server: the other test_http_*
modules).
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import orjson
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from simulator.api.http.dispatch import HttpApi
from simulator.api.http.operations import compile_routes
from simulator.api.mqtt.dispatch import MqttApi
from simulator.api.wire import ENCODERS
from simulator.core.errors import InvalidRequestException
from simulator.services.controlplane import ControlPlane
from simulator.services.registry.model import (
    PropagatingAttribute,
    ThingTypeProperties,
    parse_thing_type_properties,
)
from simulator.services.runtime import RecordingPublisher, Runtime

TYPED = frozenset({"catalog", "registry", "security", "tags", "index", "shadows"})
ACCOUNT = "arn:aws:iot:us-east-1:123456789012"
SERVICES = Path(__file__).resolve().parents[2] / "simulator" / "services"
_CAMEL = re.compile(r"[a-z]+[A-Z][A-Za-z0-9]*")
#: (module, key) of wire keys services may still build: the ``executionState`` an
#: AwsError carries (errors are AWS-shaped where they are raised, see core.errors).
_ALLOWED = frozenset({("jobs/data.py", "versionNumber"), ("jobs/data.py", "statusDetails")})


def test_every_operation_has_an_encoder_and_every_encoder_a_route() -> None:
    routes = {(op.route.service, op.route.operation) for op in compile_routes()}
    # A missing encoder would answer a typed result as orjson's idea of it (or "null").
    assert sorted(key for key in routes if key not in ENCODERS) == []
    assert sorted(k for k in ENCODERS if k not in routes) == []


def _wire_literals(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """camelCase keys of dict displays and item stores, and MQTT topic literals."""
    for node in ast.walk(tree):
        keys: list[ast.expr | None] = []
        if isinstance(node, ast.Dict):
            keys = list(node.keys)
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Store):
            keys = [node.slice]
        for key in keys:
            if isinstance(key, ast.Constant) and _CAMEL.fullmatch(str(key.value)):
                yield key.lineno, str(key.value)
        if isinstance(node, ast.Constant) and str(node.value).startswith("$aws/"):
            yield node.lineno, str(node.value)  # f-strings too: their literal parts are Constants


def test_services_build_no_camel_case_members_nor_topics() -> None:
    found = [
        (f"{path.relative_to(SERVICES)}:{line}", text)
        for path in sorted(SERVICES.rglob("*.py"))
        for line, text in _wire_literals(ast.parse(path.read_text(encoding="utf-8")))
        if (str(path.relative_to(SERVICES)), text) not in _ALLOWED
    ]
    assert found == []


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
            if name.startswith("start_"):  # resumable work: its result is the answer
                return _WatchedWork(result, name.removeprefix("start_"), self._seen)
            return result

        return call


class _WatchedWork:
    """Resumable work (``start_<operation>``) whose result is recorded as the operation's."""

    def __init__(self, work: Any, operation: str, seen: list[tuple[str, object]]) -> None:
        self._work = work
        self._operation = operation
        self._seen = seen

    def step(self, max_items: int | None = None, /) -> bool:
        return bool(self._work.step(max_items))

    def result(self) -> Any:
        result = self._work.result()
        self._seen.append((self._operation, result))
        return result


class _Plane:
    def __init__(self, inner: ControlPlane | None = None) -> None:
        self.inner = inner or ControlPlane()
        self.seen: list[tuple[str, object]] = []

    def __getattr__(self, name: str) -> Any:
        service = getattr(self.inner, name)
        return _Watched(service, self.seen) if name in TYPED else service


def _client(plane: _Plane | None = None, service: str = "iot") -> tuple[_Plane, Callable[..., Any]]:
    plane = plane or _Plane()
    api = HttpApi(plane, auth="none")
    scope = f"test/20260101/us-east-1/{service}/aws4_request"
    auth = f"AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=x"

    def call(method: str, target: str, body: object = None, **headers: str) -> Any:
        hdrs = CIMultiDict({"authorization": auth})
        hdrs.update({k.replace("_", "-"): v for k, v in headers.items()})
        raw = body if isinstance(body, bytes) else b"" if body is None else orjson.dumps(body)
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


def test_index_answers_are_typed_and_encode_as_aws_does() -> None:
    plane, call = _client()
    _, data = _client(plane, "iotdata")
    call("POST", "/things/t1", {"attributePayload": {"attributes": {"site": "n"}}})
    config = {
        "thingIndexingMode": "REGISTRY_AND_SHADOW",
        "namedShadowIndexingMode": "ON",
        "filter": {"namedShadowNames": ["cfg"]},
    }
    assert call("POST", "/indexing/config", {"thingIndexingConfiguration": config}) == {}
    assert call("GET", "/indexing/config") == {
        "thingIndexingConfiguration": config
        | {"thingConnectivityIndexingMode": "OFF", "deviceDefenderIndexingMode": "OFF"},
        "thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "OFF"},
    }
    assert call("GET", "/indices/AWS_Things") == {
        "indexName": "AWS_Things",
        "indexStatus": "ACTIVE",
        "schema": "REGISTRY_AND_SHADOW",
    }
    data("POST", "/things/t1/shadow?name=cfg", {"state": {"desired": {"m": 1}}})
    found = call("POST", "/indices/search", {"queryString": "attributes.site:n"})
    assert found == {
        "things": [
            {
                "thingName": "t1",
                "thingId": found["things"][0]["thingId"],
                "thingGroupNames": [],
                "attributes": {"site": "n"},
                # A JSON string, as AWS sends it.
                "shadow": '{"name":{"cfg":{"desired":{"m":1},"delta":{"m":1},"hasDelta":true}}}',
            }
        ]
    }
    created = call("POST", "/dynamic-thing-groups/g", {"queryString": "attributes.site:n"})
    assert created == {
        "thingGroupName": "g",
        "thingGroupArn": f"{ACCOUNT}:thinggroup/g",
        "thingGroupId": created["thingGroupId"],
        "indexName": "AWS_Things",
        "queryString": "attributes.site:n",
        "queryVersion": "2017-09-30",
    }
    assert call("PATCH", "/dynamic-thing-groups/g", {"thingGroupProperties": {}}) == {"version": 2}
    assert call("DELETE", "/dynamic-thing-groups/g") == {}
    assert call("DELETE", "/dynamic-thing-groups/g") == {}  # gone: still no error
    assert {n for n, _ in plane.seen} >= {
        "update_indexing_configuration",
        "get_indexing_configuration",
        "describe_index",
        "search_index",  # the result of start_search_index's work
        "create_dynamic_thing_group",
        "update_dynamic_thing_group",
        "delete_dynamic_thing_group",
    }
    assert not [n for n, r in plane.seen if isinstance(r, dict)]


def test_shadow_answers_are_typed_and_both_apis_send_the_same_bytes() -> None:
    publisher = RecordingPublisher()
    plane = _Plane(ControlPlane(Runtime(publisher=publisher)))
    mqtt = MqttApi(plane.inner)  # the same service's notifications leave as MQTT messages
    _, iot = _client(plane)
    _, data = _client(plane, "iotdata")
    api = HttpApi(plane, auth="none")
    iot("POST", "/things/t1", {})

    def raw(method: str, target: str, body: bytes = b"") -> bytes:
        reply = api.handle(method, target, CIMultiDictProxy(CIMultiDict()), body)
        assert reply.status == 200, reply.body
        return reply.body

    update = b'{"state":{"desired":{"a":1},"reported":{"a":0}},"clientToken":"c"}'
    accepted = raw("POST", "/things/t1/shadow", update)
    assert dict(publisher.messages)["$aws/things/t1/shadow/update/accepted"] == accepted
    assert orjson.loads(accepted)["clientToken"] == "c"
    [(topic, got)] = mqtt.handle("$aws/things/t1/shadow/get", b"")
    assert (topic, got) == ("$aws/things/t1/shadow/get/accepted", raw("GET", "/things/t1/shadow"))
    data("POST", "/things/t1/shadow?name=cfg", {"state": {}})
    assert data("GET", "/api/things/shadow/ListNamedShadowsForThing/t1?pageSize=1") == {
        "results": ["cfg"],
        "timestamp": int(plane.inner.runtime.clock()),
    }
    publisher.messages.clear()
    deleted = data("DELETE", "/things/t1/shadow")
    assert deleted == {"version": 1, "timestamp": int(plane.inner.runtime.clock())}
    assert publisher.messages == [("$aws/things/t1/shadow/delete/accepted", orjson.dumps(deleted))]
    assert {n for n, _ in plane.seen} >= {
        "update_thing_shadow",
        "get_thing_shadow",
        "list_named_shadows_for_thing",
        "delete_thing_shadow",
    }
    assert not [n for n, r in plane.seen if isinstance(r, dict)]


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
