"""Request parsing: path parameters, query string, headers and body into service keyword arguments.

Generic and driven by the compiled :class:`~.operations.Operation`: each input member is read
from where the model puts it, converted from text where it travels as text (``"25"`` -> 25,
``"true"`` -> True), checked against its shape, and passed under its snake_case name. JSON body
members are passed as decoded (nested structures keep their camelCase keys, as the services
expect); a blob ``payload`` member is passed as the raw body bytes. Every violation is collected
and reported at once with the operation's modelled error type, as AWS does.
"""

from __future__ import annotations

import math
from typing import Final
from urllib.parse import parse_qsl

import orjson
from multidict import MultiMapping

from simulator.api.http.operations import Member, Operation
from simulator.api.http.validate import describe_errors, violation
from simulator.core.errors import AwsError

__all__ = ["build_kwargs"]

_DIGITS: Final = frozenset("0123456789")


def _is_text(value: str) -> bool:
    """False for strings holding undecodable bytes (kept as lone surrogates)."""
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _from_text(member: Member, raw: str, errors: list[str]) -> object:
    """Convert a URI, query-string or header value to the member's type; None when invalid."""
    kind = member.type_name
    if not _is_text(raw):
        errors.append(violation(raw, member.name, "be valid UTF-8 text"))
        return None
    if kind in ("integer", "long"):
        digits = raw[1:] if raw.startswith("-") else raw
        if not digits or not _DIGITS.issuperset(digits) or len(digits) > 20:
            errors.append(violation(raw, member.name, "be an integer"))
            return None
        return int(raw)
    if kind == "boolean":
        if raw not in ("true", "false"):
            errors.append(violation(raw, member.name, "be a boolean"))
            return None
        return raw == "true"
    if kind in ("float", "double", "timestamp"):
        try:
            number = float(raw)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            errors.append(violation(raw, member.name, "be a number"))
            return None
        return number
    return raw


def _json_body(operation: Operation, body: bytes) -> dict[str, object]:
    if not body.strip():
        return {}
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise AwsError(
            f"Could not parse request body into json: {exc}",
            code=operation.error_type,
            status=400,
        ) from None
    if not isinstance(document, dict):
        raise AwsError(
            "The request body must be a JSON object", code=operation.error_type, status=400
        )
    return document


def build_kwargs(
    operation: Operation,
    params: dict[str, str],
    query: str,
    headers: MultiMapping[str],
    body: bytes,
) -> dict[str, object]:
    """The service method's keyword arguments; raises the operation's validation error."""
    errors: list[str] = []
    kwargs: dict[str, object] = {}
    present: set[str] = set()

    def accept(member: Member, value: object) -> None:
        present.add(member.name)
        before = len(errors)
        member.check(value, member.name, errors)
        if len(errors) == before:
            kwargs[member.kwarg] = value

    def accept_text(member: Member, raw: str) -> None:
        present.add(member.name)
        value = _from_text(member, raw, errors)
        if value is not None:
            accept(member, value)

    for member in operation.uri:
        accept_text(member, params[member.wire_name])
    if operation.query and query:
        for key, raw in parse_qsl(query, keep_blank_values=True, errors="surrogateescape"):
            wanted = operation.query.get(key)
            if wanted is not None and wanted.name not in present:
                accept_text(wanted, raw)  # unknown parameters are ignored; first repeat wins
    for member in operation.headers:
        raw_header = headers.get(member.wire_name)
        if raw_header is not None:
            accept_text(member, raw_header)
    payload = operation.payload
    if payload is not None:
        if payload.type_name == "blob":
            if body:
                present.add(payload.name)
                kwargs[payload.kwarg] = body
        else:
            document = _json_body(operation, body)
            if document:
                accept(payload, document)
    if operation.body:
        document = _json_body(operation, body)
        for member in operation.body:
            item = document.get(member.wire_name)
            if item is not None:
                accept(member, item)
    for member in operation.members:
        if member.required and member.name not in present:
            errors.append(violation(None, member.name, "not be null"))
    if errors:
        raise AwsError(describe_errors(errors), code=operation.error_type, status=400)
    return kwargs
