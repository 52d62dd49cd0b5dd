"""The route table against botocore's service models, and the services behind it.

For every route: the operation exists in the service model with the same HTTP method and request
URI; requests botocore itself serialises for it route back to it and parse back into the
parameters it was given (snake_case keywords, ``$`` values URL-decoded); the ControlPlane
attribute's method, once wired, takes exactly the snake_case input members as keyword-only
parameters, with defaults for the optional ones; and a route whose service is not wired yet
answers a clean AWS-shaped 4xx.
"""

from __future__ import annotations

import inspect
from typing import Any
from urllib.parse import unquote

import botocore.serialize
import pytest
from botocore import xform_name
from botocore.model import ListShape, MapShape, Shape, StringShape, StructureShape
from botocore.utils import percent_encode_sequence
from multidict import CIMultiDict, CIMultiDictProxy

from simulator.api.http import ROUTES, SIGNING_NAMES, HttpApi, Route
from simulator.api.http.operations import Operation, compile_routes, service_model
from simulator.api.http.parse import build_kwargs
from simulator.api.http.patterns import compile_java
from simulator.api.http.router import Match, Router
from simulator.api.http.routes import ServiceName
from simulator.services.controlplane import ControlPlane

#: The operations the brief asks for, by ControlPlane attribute.
EXPECTED: dict[ServiceName, dict[str, set[str]]] = {
    "iot": {
        "catalog": {
            "CreatePackage",
            "GetPackage",
            "UpdatePackage",
            "DeletePackage",
            "ListPackages",
            "CreatePackageVersion",
            "GetPackageVersion",
            "UpdatePackageVersion",
            "DeletePackageVersion",
            "ListPackageVersions",
            "AssociateSbomWithPackageVersion",
            "DisassociateSbomFromPackageVersion",
            "ListSbomValidationResults",
            "GetPackageConfiguration",
            "UpdatePackageConfiguration",
        },
        "registry": {
            "CreateThing",
            "DescribeThing",
            "ListThings",
            "UpdateThing",
            "DeleteThing",
            "CreateThingType",
            "DescribeThingType",
            "CreateThingGroup",
            "DescribeThingGroup",
            "UpdateThingGroup",
            "DeleteThingGroup",
            "ListThingGroups",
            "AddThingToThingGroup",
            "RemoveThingFromThingGroup",
            "ListThingsInThingGroup",
            "ListThingGroupsForThing",
        },
        "jobs": {
            "CreateJob",
            "DescribeJob",
            "GetJobDocument",
            "ListJobs",
            "UpdateJob",
            "CancelJob",
            "DeleteJob",
            "AssociateTargetsWithJob",
            "CreateJobTemplate",
            "DescribeJobTemplate",
            "ListJobTemplates",
            "DeleteJobTemplate",
            "ListJobExecutionsForJob",
            "ListJobExecutionsForThing",
            "DescribeJobExecution",
            "CancelJobExecution",
            "DeleteJobExecution",
        },
        "security": {
            "CreateKeysAndCertificate",
            "DescribeCertificate",
            "UpdateCertificate",
            "DeleteCertificate",
            "ListCertificates",
            "CreatePolicy",
            "GetPolicy",
            "DeletePolicy",
            "ListPolicies",
            "AttachPolicy",
            "DetachPolicy",
            "ListAttachedPolicies",
            "ListTargetsForPolicy",
            "AttachThingPrincipal",
            "DetachThingPrincipal",
            "ListThingPrincipals",
            "ListPrincipalThings",
            "DescribeEndpoint",
        },
        "tags": {"TagResource", "UntagResource", "ListTagsForResource"},
        "events": {"UpdateEventConfigurations", "DescribeEventConfigurations"},
        "index": {
            "GetIndexingConfiguration",
            "UpdateIndexingConfiguration",
            "SearchIndex",
            "DescribeIndex",
            "CreateDynamicThingGroup",
            "UpdateDynamicThingGroup",
            "DeleteDynamicThingGroup",
            "GetStatistics",
            "GetCardinality",
            "GetPercentiles",
            "GetBucketsAggregation",
        },
    },
    "iot-jobs-data": {
        "jobs_data": {
            "GetPendingJobExecutions",
            "StartNextPendingJobExecution",
            "DescribeJobExecution",
            "UpdateJobExecution",
        }
    },
    "iot-data": {
        "shadows": {
            "GetThingShadow",
            "UpdateThingShadow",
            "DeleteThingShadow",
            "ListNamedShadowsForThing",
        }
    },
}

OPERATIONS = {op.route: op for op in compile_routes()}
SERIALIZER = botocore.serialize.create_serializer("rest-json", include_validation=True)
#: Values tried, in order, for required strings with a pattern.
CANDIDATES = ("x1", "arn:aws:iot:us-east-1:123456789012:thing/x1", "A1", "x" * 36, "a" * 64)


def _route_id(route: Route) -> str:
    return f"{route.service}:{route.operation}"


def test_table_covers_exactly_the_expected_operations() -> None:
    table = {(r.service, r.attribute, r.operation) for r in ROUTES}
    expected = {
        (service, attribute, op)
        for service, attributes in EXPECTED.items()
        for attribute, ops in attributes.items()
        for op in ops
    }
    assert table == expected
    assert len(ROUTES) == len(table)  # no duplicates


def test_signing_names_match_the_models() -> None:
    for service in EXPECTED:
        model = service_model(service)
        assert SIGNING_NAMES[model.signing_name] == service
    assert len(SIGNING_NAMES) == len(EXPECTED)


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_route_matches_botocore(route: Route) -> None:
    model = service_model(route.service).operation_model(route.operation)
    assert model.http["method"] == route.method
    assert model.http["requestUri"] == route.uri
    assert model.http.get("responseCode", 200) == 200  # the server always answers 200


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_validation_error_type_is_the_modelled_one(route: Route) -> None:
    op = OPERATIONS[route]
    modelled = {
        e.name for e in service_model(route.service).operation_model(route.operation).error_shapes
    }
    assert op.error_type in modelled or not op.members
    if route.attribute == "catalog" and op.members:
        assert op.error_type == "ValidationException"
    elif op.members:
        assert op.error_type == "InvalidRequestException"


# -- the services behind the routes --------------------------------------------------------


def _input_members(route: Route) -> tuple[set[str], set[str]]:
    shape = service_model(route.service).operation_model(route.operation).input_shape
    if shape is None:
        return set(), set()
    assert isinstance(shape, StructureShape)
    return set(shape.members), set(shape.required_members)


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_service_method_takes_the_input_members(route: Route) -> None:
    control_plane = ControlPlane()
    service = getattr(control_plane, route.attribute, None)
    if service is None:
        _assert_clean_unwired_error(control_plane, route)
        return
    method = getattr(service, xform_name(route.operation), None)
    assert callable(method), f"{route.attribute} has no {xform_name(route.operation)}"
    members, required = _input_members(route)
    params = inspect.signature(method).parameters
    assert set(params) == {xform_name(m) for m in members}
    for name, param in params.items():
        assert param.kind is inspect.Parameter.KEYWORD_ONLY, name
    for member in members - required:
        assert params[xform_name(member)].default is not inspect.Parameter.empty, (
            f"optional member {member} needs a default"
        )


def _assert_clean_unwired_error(control_plane: ControlPlane, route: Route) -> None:
    api = HttpApi(control_plane, auth="none")
    path = route.uri.replace("{", "").replace("}", "")
    signing = next(k for k, v in SIGNING_NAMES.items() if v == route.service)
    headers = CIMultiDictProxy(
        CIMultiDict(
            {
                "Authorization": f"AWS4-HMAC-SHA256 Credential=test/20260101/us-east-1/{signing}"
                "/aws4_request, SignedHeaders=host, Signature=00"
            }
        )
    )
    reply = api.handle(route.method, path, headers, b"")
    assert reply.status == 400
    assert reply.error_type == "UnknownOperationException"
    assert route.operation in reply.body.decode()


# -- botocore's own requests route and parse back ------------------------------------------


def _sample(shape: Shape) -> Any:
    kind = shape.type_name
    if kind == "string":
        assert isinstance(shape, StringShape)
        if shape.enum:
            return shape.enum[0]
        pattern = shape.metadata.get("pattern")
        low = int(shape.metadata.get("min", 1))
        for candidate in CANDIDATES:
            value = candidate.ljust(low, "x")
            compiled = compile_java(pattern) if pattern else None
            if compiled is None or compiled.fullmatch(value):
                return value
        raise AssertionError(f"no sample matches {pattern!r}")
    if kind in ("integer", "long"):
        return max(int(shape.metadata.get("min", 1)), 1)
    if kind in ("float", "double"):
        return 1.5
    if kind == "boolean":
        return True
    if kind == "blob":
        return b'{"state":{"reported":{"on":true}}}'
    if kind == "timestamp":
        return 1_700_000_000
    if kind == "list":
        assert isinstance(shape, ListShape)
        return [_sample(shape.member)] * max(int(shape.metadata.get("min", 1)), 1)
    if kind == "map":
        assert isinstance(shape, MapShape)
        return {_sample(shape.key): _sample(shape.value)}
    assert isinstance(shape, StructureShape)
    return {name: _sample(shape.members[name]) for name in shape.required_members}


def _round_trip(route: Route, params: dict[str, Any]) -> tuple[Operation, dict[str, object]]:
    model = service_model(route.service).operation_model(route.operation)
    request = SERIALIZER.serialize_to_request(params, model)
    routers = {
        service: Router((r.method, r.uri, OPERATIONS[r]) for r in ROUTES if r.service == service)
        for service in EXPECTED
    }
    path = request["url_path"]
    segments = [unquote(s) for s in path[1:].split("/")]
    match = routers[route.service].match(request["method"], segments)
    assert isinstance(match, Match), (path, match)
    assert match.value.route == route, (path, match.value.route)
    query = percent_encode_sequence(request["query_string"])
    headers = CIMultiDictProxy(CIMultiDict(request["headers"]))
    kwargs = build_kwargs(match.value, match.params, query, headers, request["body"])
    return match.value, kwargs


@pytest.mark.parametrize("route", ROUTES, ids=_route_id)
def test_botocore_request_parses_back(route: Route) -> None:
    shape = service_model(route.service).operation_model(route.operation).input_shape
    params = {} if shape is None else _sample(shape)
    _, kwargs = _round_trip(route, params)
    assert kwargs == {xform_name(k): v for k, v in params.items()}


@pytest.mark.parametrize(
    ("service", "operation", "params", "expected"),
    [
        # botocore sends StartNext's literal $next ...
        (
            "iot-jobs-data",
            "StartNextPendingJobExecution",
            {"thingName": "t1", "stepTimeoutInMinutes": 5},
            {"thing_name": "t1", "step_timeout_in_minutes": 5},
        ),
        # ... but DescribeJobExecution's jobId as %24next.
        (
            "iot-jobs-data",
            "DescribeJobExecution",
            {"thingName": "t1", "jobId": "$next", "includeJobDocument": False},
            {"thing_name": "t1", "job_id": "$next", "include_job_document": False},
        ),
        # ?name=%24package
        (
            "iot-data",
            "UpdateThingShadow",
            {"thingName": "t1", "shadowName": "$package", "payload": b'{"state":{}}'},
            {"thing_name": "t1", "shadow_name": "$package", "payload": b'{"state":{}}'},
        ),
        (
            "iot",
            "DeleteJobExecution",
            {"thingName": "t1", "jobId": "j1", "executionNumber": 7, "force": True},
            {"thing_name": "t1", "job_id": "j1", "execution_number": 7, "force": True},
        ),
        (
            "iot",
            "ListJobs",
            {"status": "IN_PROGRESS", "maxResults": 250, "thingGroupName": "g1"},
            {"status": "IN_PROGRESS", "max_results": 250, "thing_group_name": "g1"},
        ),
    ],
)
def test_dollar_values_and_querystrings(
    service: str, operation: str, params: dict[str, Any], expected: dict[str, Any]
) -> None:
    route = next(r for r in ROUTES if (r.service, r.operation) == (service, operation))
    _, kwargs = _round_trip(route, params)
    assert kwargs == expected


# -- patterns ------------------------------------------------------------------------------


def _patterns(shape: Shape, seen: set[str], out: set[str]) -> None:
    if shape.name in seen:
        return
    seen.add(shape.name)
    pattern = shape.metadata.get("pattern")
    if isinstance(pattern, str):
        out.add(pattern)
    if isinstance(shape, StructureShape):
        for member in shape.members.values():
            _patterns(member, seen, out)
    elif isinstance(shape, ListShape):
        _patterns(shape.member, seen, out)
    elif isinstance(shape, MapShape):
        _patterns(shape.key, seen, out)
        _patterns(shape.value, seen, out)


def test_every_input_pattern_is_translated() -> None:
    found: set[str] = set()
    for route in ROUTES:
        shape = service_model(route.service).operation_model(route.operation).input_shape
        if shape is not None:
            _patterns(shape, set(), found)
    assert len(found) >= 10
    untranslated = sorted(p for p in found if compile_java(p) is None)
    assert untranslated == []


@pytest.mark.parametrize(
    ("pattern", "good", "bad"),
    [
        (r"[\p{Graph}\x20]*", ["a b~", ""], ["é", "tab\there"]),  # Java POSIX = ASCII only
        (r"[^\p{C}]+", ["héllo wörld", "日本"], ["a\x00", "zero\u200bwidth"]),
        (r"\S{2,4}", ["ab", "éé"], ["a b", "a"]),  # \S: not ASCII whitespace
        (r"[a-zA-Z0-9_-]+|^\$next", ["$next", "job-1"], ["$nexts", "x$next"]),
        (r"^arn:[!-~]+$", ["arn:aws:x"], ["arn:aws:x\n", "arn: x"]),
        (r"[a-zA-Z0-9-_.]+", ["a-b_c.d"], ["a=b", "a/b"]),
    ],
)
def test_java_pattern_semantics(pattern: str, good: list[str], bad: list[str]) -> None:
    compiled = compile_java(pattern)
    assert compiled is not None
    assert all(compiled.fullmatch(v) for v in good), good
    assert not any(compiled.fullmatch(v) for v in bad), bad


@pytest.mark.parametrize("pattern", [r"[a-z&&[^b]]+", r"\Qa.b\E", r"[\P{Graph}]", r"a\bb"])
def test_untranslatable_patterns_are_skipped(pattern: str) -> None:
    assert compile_java(pattern) is None
