"""Wire shapes of Device Shadow (``iot-data`` over HTTP, and the MQTT shadow topics' payloads).

The documents themselves come from the pure core (:mod:`simulator.core.shadow` builds every
shadow document: the document *is* the API's payload, see
:mod:`simulator.services.shadow_results`); this module turns the services' records into bytes,
for the HTTP API (the ``payload`` blob of Get/Update/DeleteThingShadow, the members of
ListNamedShadowsForThing) and for the MQTT API (``/get/accepted``, ``/update/accepted``,
``/update/documents``, ``/update/delta``, ``/delete/accepted`` and the ``…/rejected`` error
document), so a client sees the same bytes whichever API it uses. Topics are
:mod:`simulator.api.mqtt`'s.
"""

from __future__ import annotations

from typing import Any

import orjson

from simulator.core.errors import AwsError
from simulator.core.shadow import UpdateOutcome
from simulator.services.shadow_results import NamedShadowPage, ShadowDeletion, ShadowDocument

__all__ = [
    "delete_accepted",
    "delete_thing_shadow",
    "get_accepted",
    "get_thing_shadow",
    "list_named_shadows_for_thing",
    "rejected",
    "update_accepted",
    "update_delta",
    "update_documents",
    "update_thing_shadow",
]

# -- payloads (both APIs) ----------------------------------------------------------------------


def get_accepted(result: ShadowDocument) -> bytes:
    """The full document: GetThingShadow's body, MQTT ``/get/accepted``."""
    return orjson.dumps(result.document)


def update_accepted(outcome: UpdateOutcome) -> bytes:
    """The accepted document: UpdateThingShadow's body, MQTT ``/update/accepted``."""
    return orjson.dumps(outcome.accepted)


def update_documents(outcome: UpdateOutcome) -> bytes:
    """MQTT ``/update/documents``: previous and current state."""
    return orjson.dumps(outcome.documents)


def update_delta(outcome: UpdateOutcome) -> bytes:
    """MQTT ``/update/delta`` (only for an update that publishes one: ``outcome.delta``)."""
    if outcome.delta is None:
        raise ValueError("this update publishes no /update/delta")
    return orjson.dumps(outcome.delta)


def delete_accepted(result: ShadowDeletion) -> bytes:
    """MQTT ``/delete/accepted``: ``{version, timestamp}`` and the request's ``clientToken``."""
    if result.client_token is None:
        return orjson.dumps(result.document)
    return orjson.dumps({**result.document, "clientToken": result.client_token})


def rejected(error: AwsError, timestamp: int | None, client_token: str | None) -> bytes:
    """MQTT ``/…/rejected``: ``{code, message, timestamp?, clientToken?}``."""
    document: dict[str, Any] = {"code": error.http_status, "message": error.message}
    if timestamp is not None:
        document["timestamp"] = timestamp
    if client_token is not None:
        document["clientToken"] = client_token
    return orjson.dumps(document)


# -- HTTP encoders (``ENCODERS``) ---------------------------------------------------------------


def get_thing_shadow(result: ShadowDocument) -> dict[str, Any]:
    """GetThingShadow: the document as the raw ``payload`` blob."""
    return {"payload": get_accepted(result)}


def update_thing_shadow(outcome: UpdateOutcome) -> dict[str, Any]:
    """UpdateThingShadow: the accepted document as the raw ``payload`` blob."""
    return {"payload": update_accepted(outcome)}


def delete_thing_shadow(result: ShadowDeletion) -> dict[str, Any]:
    """DeleteThingShadow: ``{version, timestamp}`` (never a ``clientToken``) as ``payload``."""
    return {"payload": orjson.dumps(result.document)}


def list_named_shadows_for_thing(result: NamedShadowPage) -> dict[str, Any]:
    """ListNamedShadowsForThing."""
    out: dict[str, Any] = {"results": list(result.names)}
    if result.next_token is not None:
        out["nextToken"] = result.next_token
    out["timestamp"] = result.timestamp
    return out
