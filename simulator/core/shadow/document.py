"""Shadow request validation and the rules on state trees: deep merge, metadata, delta.

A state tree is a JSON object (``dict``) whose leaves are any other JSON value; arrays are
leaves (replaced and compared whole). Metadata mirrors the state: the same objects, with each
leaf replaced by ``{"timestamp": T}`` (an array's metadata is one such leaf,
[AD:device-shadow-document] example).

Trees are never mutated in place: :func:`merge` and :func:`merge_meta` build new objects along
the changed paths and share every untouched subtree, so a reference to an older tree stays a
valid snapshot (``/update/documents`` gets ``previous`` without a copy). Leaf metadata objects are
shared too; treat every tree as read-only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Final, Literal, TypeAlias

import orjson

from simulator.core.errors import InvalidRequestException, UnsupportedDocumentEncodingException
from simulator.core.shadow.options import (
    MAX_CLIENT_TOKEN_BYTES,
    MAX_DEPTH,
    PACKAGE_KEYS,
)

__all__ = [
    "SECTIONS",
    "JsonObject",
    "Section",
    "UpdateRequest",
    "check_shadow_name",
    "check_thing_name",
    "client_token_of",
    "delta",
    "delta_meta",
    "merge",
    "merge_meta",
    "meta_of",
    "parse_update",
    "same",
]

JsonObject: TypeAlias = dict[str, Any]
Section: TypeAlias = Literal["desired", "reported"]
SECTIONS: Final[tuple[Section, ...]] = ("desired", "reported")

# Validation messages, verbatim from [cur:device-shadow-error-messages].
INVALID_JSON: Final = "Invalid JSON"
MISSING_STATE: Final = "Missing required node: state"
STATE_NOT_OBJECT: Final = "State node must be an object"
SECTION_NOT_OBJECT: Final[dict[str, str]] = {
    "desired": "Desired node must be an object",
    "reported": "Reported node must be an object",
}
INVALID_VERSION: Final = "Invalid version"
INVALID_CLIENT_TOKEN: Final = "Invalid clientToken"
TOO_DEEP: Final = f"JSON contains too many levels of nesting; maximum is {MAX_DEPTH}"
INVALID_NODE: Final = "State contains an invalid node"
NOT_UTF8: Final = "Unsupported documented encoding; supported encoding is UTF-8"

_THING_NAME: Final = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
_SHADOW_NAME: Final = re.compile(r"[$a-zA-Z0-9:_-]{1,64}")  # [B] ShadowName


@dataclass(frozen=True, slots=True)
class UpdateRequest:
    """A validated update request.

    Attributes:
        state: the request's ``state`` exactly as sent (only ``desired``/``reported`` keys, each
            an object or ``None``); ``None`` means ``{"state": null}``, which clears the state.
        client_token: the ``clientToken`` to echo, if any.
        version: the expected current version, or ``None`` to skip the check.
    """

    state: JsonObject | None
    client_token: str | None = None
    version: int | None = None


def check_thing_name(name: str) -> str:
    """Return ``name`` if it is a valid thing name, else raise InvalidRequestException."""
    if not _THING_NAME.fullmatch(name):
        raise InvalidRequestException(f"Invalid thing name: {name!r}")  # wording (inf)
    return name


def check_shadow_name(name: str) -> str:
    """Return ``name`` if it matches the service model's ShadowName, else raise."""
    if not _SHADOW_NAME.fullmatch(name):
        raise InvalidRequestException(f"Invalid shadow name: {name!r}")  # wording (inf)
    return name


def _load(payload: bytes) -> Any:
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        try:
            payload.decode("utf-8")
        except UnicodeDecodeError:
            raise UnsupportedDocumentEncodingException(NOT_UTF8) from None
        raise InvalidRequestException(INVALID_JSON) from None


def _client_token(value: object) -> str | None:
    if value is None:
        return None
    if type(value) is not str or len(value.encode()) > MAX_CLIENT_TOKEN_BYTES:
        raise InvalidRequestException(INVALID_CLIENT_TOKEN)
    return value


def client_token_of(payload: bytes) -> str | None:
    """The valid ``clientToken`` of a request payload, or ``None``; never raises.

    Used to echo the token in ``/get/accepted`` and in rejected messages, whatever else is wrong
    with the request.
    """
    try:
        doc = orjson.loads(payload) if payload else None
        return _client_token(doc.get("clientToken")) if type(doc) is dict else None
    except (orjson.JSONDecodeError, InvalidRequestException):
        return None


def parse_update(payload: bytes, *, package: bool = False) -> UpdateRequest:
    """Validate an update request document.

    Args:
        payload: the raw request body.
        package: apply the ``$package`` rules (each package entry holds only ``version`` and
            ``attributes``).

    Returns:
        The validated request.

    Raises:
        InvalidRequestException: with AWS's message for the first rule broken.
        UnsupportedDocumentEncodingException: the payload is not UTF-8.
    """
    doc = _load(payload)
    if type(doc) is not dict:
        raise InvalidRequestException(INVALID_JSON)  # a non-object document (inf)
    token = _client_token(doc.get("clientToken"))
    version = doc.get("version")
    # A JSON integer >= 0; null counts as omitted (inf).
    if version is not None and (type(version) is not int or version < 0):
        raise InvalidRequestException(INVALID_VERSION)
    if "state" not in doc:
        raise InvalidRequestException(MISSING_STATE)
    state = doc["state"]
    if state is None:
        return UpdateRequest(None, token, version)
    if type(state) is not dict:
        raise InvalidRequestException(STATE_NOT_OBJECT)
    for key, value in state.items():
        if key not in SECTION_NOT_OBJECT:
            raise InvalidRequestException(INVALID_NODE)
        if value is None:
            continue
        if type(value) is not dict:
            raise InvalidRequestException(SECTION_NOT_OBJECT[key])
        _check_tree(value, 1, False)
        if package:
            _check_package_entries(value)
    return UpdateRequest(state, token, version)


def _check_tree(node: JsonObject | list[Any], level: int, in_array: bool) -> None:
    # ``level`` counts the section object as 1, so {"a": {"b": 1}} is 2 levels (inf: AWS does
    # not say whether the section itself counts, nor whether arrays count; both do here).
    if level > MAX_DEPTH:
        raise InvalidRequestException(TOO_DEEP)
    if isinstance(node, dict):
        for key in node:
            if "\x00" in key:
                # A NUL inside a key: JSON allows it ("\u0000"), AWS documents no rule. Refused
                # with the message AWS gives for a node it does not accept (inf), before it can
                # reach the index, topics and logs as a C-string terminator.
                raise InvalidRequestException(INVALID_NODE)
    for child in node.values() if isinstance(node, dict) else node:
        if isinstance(child, dict):
            _check_tree(child, level + 1, in_array)
        elif isinstance(child, list):
            _check_tree(child, level + 1, True)
        elif child is None and in_array:
            # Arrays can't hold null [AD:device-shadow-document]; the message is (inf).
            raise InvalidRequestException(INVALID_NODE)


def _check_package_entries(section: JsonObject) -> None:
    for package, entry in section.items():
        if type(entry) is dict:
            extra = sorted(entry.keys() - PACKAGE_KEYS)
            if extra:
                # Rejected per [SPC-prep]; status 400 and this wording are unverified (mem).
                raise InvalidRequestException(
                    f"Invalid key '{extra[0]}' in $package entry '{package}': "
                    "an entry may only contain 'version' and 'attributes'"
                )


# -- trees ----------------------------------------------------------------------------------


def merge(target: JsonObject, patch: JsonObject) -> JsonObject:
    """Deep-merge ``patch`` into ``target`` and return the result (neither is changed).

    ``None`` deletes a key, objects merge recursively, anything else (arrays included) replaces
    the value. An object left empty is dropped, so a tree never holds ``{}`` (inf: AWS drops
    empty sections; it is not documented for nested objects).
    """
    out = dict(target)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
        elif type(value) is dict:
            old = out.get(key)
            sub = merge(old if type(old) is dict else {}, value)
            if sub:
                out[key] = sub
            else:
                out.pop(key, None)
        else:
            out[key] = value
    return out


def merge_meta(
    target: JsonObject, meta: JsonObject, patch: JsonObject, leaf: JsonObject
) -> tuple[JsonObject, JsonObject]:
    """:func:`merge`, keeping the metadata tree ``meta`` in step (``leaf`` for each new value)."""
    out = dict(target)
    out_meta = dict(meta)
    for key, value in patch.items():
        if value is None:
            out.pop(key, None)
            out_meta.pop(key, None)
        elif type(value) is dict:
            old = out.get(key)
            if type(old) is dict:
                sub, sub_meta = merge_meta(old, out_meta[key], value, leaf)
            else:
                sub, sub_meta = merge_meta({}, {}, value, leaf)
            if sub:
                out[key] = sub
                out_meta[key] = sub_meta
            else:
                out.pop(key, None)
                out_meta.pop(key, None)
        else:
            out[key] = value
            out_meta[key] = leaf
    return out, out_meta


def meta_of(value: Any, leaf: JsonObject) -> Any:
    """The metadata of a value as sent (``null`` leaves included): ``leaf`` for each leaf."""
    if type(value) is dict:
        return {key: meta_of(child, leaf) for key, child in value.items()}
    return leaf


def same(a: Any, b: Any) -> bool:
    """JSON equality: ``true`` is not ``1`` and ``1`` is not ``1.0`` (inf)."""
    kind = type(a)
    if kind is not type(b):
        return False
    if kind is dict:
        return a.keys() == b.keys() and all(same(v, b[k]) for k, v in a.items())
    if kind is list:
        return len(a) == len(b) and all(same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def delta(desired: JsonObject, reported: JsonObject) -> JsonObject:
    """The desired values that differ from, or are missing in, ``reported``.

    Nested differences keep their full path; arrays compare whole; keys only in ``reported``
    never appear [AD:device-shadow-document].
    """
    out: JsonObject = {}
    for key, want in desired.items():
        if key not in reported:
            out[key] = want
            continue
        have = reported[key]
        if type(want) is dict and type(have) is dict:
            sub = delta(want, have)
            if sub:
                out[key] = sub
        elif not same(want, have):
            out[key] = want
    return out


def delta_meta(delta_tree: JsonObject, desired_meta: JsonObject) -> JsonObject:
    """The metadata of a delta: the desired metadata of its paths [AD:device-shadow-document]."""
    out: JsonObject = {}
    for key, value in delta_tree.items():
        meta = desired_meta[key]
        out[key] = delta_meta(value, meta) if type(value) is dict else meta
    return out
