"""Routes compiled against botocore's service models: where each input member comes from.

For every :class:`~.routes.Route`, the operation's input shape says which members live in the URI,
the query string, headers, the JSON body or (``payload`` trait) the raw body; each member gets its
snake_case keyword (the service method's parameter name) and a compiled :data:`~.validate.Check`.
Validation failures use the operation's modelled error: ``ValidationException`` where the model
lists it (the package operations), ``InvalidRequestException`` otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Literal

import botocore.session
from botocore import xform_name
from botocore.model import OperationModel, ServiceModel, Shape

from simulator.api.http.routes import ROUTES, Route, ServiceName
from simulator.api.http.validate import Check, ShapeChecks

__all__ = ["Location", "Member", "Operation", "compile_routes", "service_model"]

Location = Literal["uri", "querystring", "header", "body", "payload"]


@dataclass(frozen=True, slots=True)
class Member:
    """One top-level input member."""

    name: str
    kwarg: str
    location: Location
    wire_name: str
    type_name: str
    required: bool
    check: Check


@dataclass(frozen=True, slots=True)
class Operation:
    """A route with everything the request parser and the serialiser need."""

    route: Route
    method_name: str
    error_type: str
    members: tuple[Member, ...]
    uri: tuple[Member, ...]
    query: dict[str, Member]
    headers: tuple[Member, ...]
    body: tuple[Member, ...]
    payload: Member | None
    output_payload: str | None


@cache
def service_model(name: ServiceName) -> ServiceModel:
    """botocore's model of one service (loaded once per process)."""
    return botocore.session.get_session().get_service_model(name)


def _location(shape: Shape, name: str, payload: str | None) -> Location:
    if name == payload:
        return "payload"
    where = shape.serialization.get("location")
    if where in ("uri", "querystring", "header"):
        return where  # type: ignore[no-any-return]  # narrowed by the membership test
    if where is not None:
        raise ValueError(f"unsupported member location {where!r} of {name}")
    return "body"


def _error_type(model: OperationModel) -> str:
    names = {shape.name for shape in model.error_shapes}
    return "ValidationException" if "ValidationException" in names else "InvalidRequestException"


def _compile(route: Route, checks: ShapeChecks) -> Operation:
    model = service_model(route.service).operation_model(route.operation)
    shape = model.input_shape
    members: list[Member] = []
    payload_name: str | None = None
    if shape is not None:
        payload_name = shape.serialization.get("payload")
        required = set(shape.required_members)
        for name, member in shape.members.items():
            location = _location(member, name, payload_name)
            if location == "payload" and member.type_name not in ("blob", "structure"):
                raise ValueError(f"unsupported payload type of {route.operation}.{name}")
            members.append(
                Member(
                    name=name,
                    kwarg=xform_name(name),
                    location=location,
                    wire_name=member.serialization.get("name", name),
                    type_name=member.type_name,
                    required=name in required,
                    check=checks.check(member),
                )
            )
    output = model.output_shape
    output_payload = None if output is None else output.serialization.get("payload")
    payload = [m for m in members if m.location == "payload"]
    return Operation(
        route=route,
        method_name=xform_name(route.operation),
        error_type=_error_type(model),
        members=tuple(members),
        uri=tuple(m for m in members if m.location == "uri"),
        query={m.wire_name: m for m in members if m.location == "querystring"},
        headers=tuple(m for m in members if m.location == "header"),
        body=tuple(m for m in members if m.location == "body"),
        payload=payload[0] if payload else None,
        output_payload=output_payload,
    )


def compile_routes(routes: tuple[Route, ...] = ROUTES) -> tuple[Operation, ...]:
    """Compile every route against its service model (about 0.3 s, once per server)."""
    # Shape names are only unique within one service model, so each service has its own cache.
    checks: dict[ServiceName, ShapeChecks] = {}
    return tuple(
        _compile(route, checks.setdefault(route.service, ShapeChecks())) for route in routes
    )
