"""The Device Shadow MQTT API as a codec: request topic and payload in, replies out.

Transport-neutral: a driver (broker bridge, in-process bus, fleet engine) calls
:func:`parse_shadow_topic` on each publish it receives, then :func:`handle_shadow`, and publishes
what it returns to the requester.

Accepted updates and deletes are **not** in the returned list: the service already published
``/update/accepted``, ``/update/documents``, ``/update/delta`` and ``/delete/accepted`` through
the runtime's publisher (every subscriber sees them, whichever API made the change), so returning
them would deliver them twice. Only ``/get/accepted`` and the ``…/rejected`` error documents,
which go to the requester alone [AD:device-shadow-mqtt], are returned. Every payload is built by
:mod:`simulator.api.wire.shadow` (the bytes the HTTP API answers for the same document).
"""

from __future__ import annotations

from typing import Final, Literal, assert_never

from simulator.api.mqtt.notices import shadow_topic_prefix
from simulator.api.wire import shadow as wire
from simulator.core.errors import AwsError
from simulator.core.shadow import client_token_of
from simulator.services.shadows import ShadowService

__all__ = ["Operation", "handle_shadow", "parse_shadow_topic"]

Operation = Literal["get", "update", "delete"]
_OPERATIONS: Final[dict[str, Operation]] = {"get": "get", "update": "update", "delete": "delete"}


def parse_shadow_topic(topic: str) -> tuple[str, str | None, Operation] | None:
    """Split a shadow request topic into (thing, shadow name or ``None``, operation).

    Recognises ``$aws/things/{thing}/shadow/{get|update|delete}`` and
    ``$aws/things/{thing}/shadow/name/{name}/{get|update|delete}``; anything else (reply topics
    included) gives ``None``.
    """
    parts = topic.split("/")
    count = len(parts)
    if count not in (5, 7) or parts[0] != "$aws" or parts[1] != "things" or parts[3] != "shadow":
        return None
    operation = _OPERATIONS.get(parts[-1])
    thing = parts[2]
    if operation is None or not thing:
        return None
    if count == 5:
        return thing, None, operation
    if parts[4] != "name" or not parts[5]:
        return None
    return thing, parts[5], operation


def _rejected(service: ShadowService, error: AwsError, client_token: str | None) -> bytes:
    stamp = int(service.runtime.clock()) if service.options.rejected_timestamp else None
    return wire.rejected(error, stamp, client_token)


def handle_shadow(
    service: ShadowService,
    thing: str,
    shadow_name: str | None,
    operation: Operation,
    payload: bytes,
) -> list[tuple[str, bytes]]:
    """Serve one shadow request and return the (topic, payload) messages for the requester.

    Args:
        service: the shadow service that holds the state.
        thing: the thing name from the topic.
        shadow_name: the shadow name from the topic, ``None`` for the classic shadow.
        operation: ``get``, ``update`` or ``delete``.
        payload: the request payload (may be empty for get and delete; a delete's content is
            ignored except for its ``clientToken``).

    Returns:
        ``[(…/get/accepted, document)]`` for a successful get, ``[]`` for a successful update or
        delete (the service published those), ``[(…/{operation}/rejected, error)]`` otherwise,
        with ``{code, message, timestamp?, clientToken?}``. Malformed input never raises.
    """
    prefix = shadow_topic_prefix(thing, shadow_name)
    client_token = client_token_of(payload)
    try:
        if operation == "get":
            document = service.get_shadow(thing, shadow_name, client_token=client_token)
            return [(f"{prefix}/get/accepted", wire.get_accepted(document))]
        if operation == "update":
            service.update_thing_shadow(thing_name=thing, shadow_name=shadow_name, payload=payload)
            return []
        if operation == "delete":
            service.delete_shadow(thing, shadow_name, client_token=client_token)
            return []
        assert_never(operation)
    except AwsError as error:
        return [(f"{prefix}/{operation}/rejected", _rejected(service, error, client_token))]
