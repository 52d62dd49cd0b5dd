"""Device Shadows over HTTP (iot-data): raw JSON payloads both ways, ``$package`` as %24package."""

from __future__ import annotations

import json
import uuid
from typing import Any

from tests.api.conftest import aws_error


def _thing(iot: Any) -> str:
    name = f"dev-{uuid.uuid4().hex[:10]}"
    iot.create_thing(thingName=name)
    return name


def _payload(response: dict[str, Any]) -> dict[str, Any]:
    document: dict[str, Any] = json.loads(response["payload"].read())
    return document


def test_classic_shadow_round_trip(iot: Any, iot_data: Any) -> None:
    thing = _thing(iot)
    update = {"state": {"desired": {"led": "on"}, "reported": {"led": "off"}}}
    accepted = _payload(iot_data.update_thing_shadow(thingName=thing, payload=json.dumps(update)))
    assert accepted["state"] == update["state"]
    assert accepted["version"] == 1

    document = _payload(iot_data.get_thing_shadow(thingName=thing))
    assert document["state"]["delta"] == {"led": "on"}
    assert document["version"] == 1

    # Optimistic locking: a stale version is a 409 ConflictException (x-amzn-ErrorType, not the
    # shadow document's numeric code).
    stale = {"state": {"reported": {"led": "on"}}, "version": 0}
    code, status, _ = aws_error(
        iot_data.update_thing_shadow, thingName=thing, payload=json.dumps(stale)
    )
    assert (code, status) == ("ConflictException", 409)

    deleted = _payload(iot_data.delete_thing_shadow(thingName=thing))
    assert deleted["version"] == 1
    code, status, _ = aws_error(iot_data.get_thing_shadow, thingName=thing)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_named_and_package_shadows(iot: Any, iot_data: Any) -> None:
    thing = _thing(iot)
    iot_data.update_thing_shadow(
        thingName=thing,
        shadowName="$package",
        payload=json.dumps({"state": {"reported": {"agent": {"version": "1.0"}}}}),
    )
    iot_data.update_thing_shadow(
        thingName=thing, shadowName="config", payload=b'{"state":{"desired":{"rate":5}}}'
    )
    package = _payload(iot_data.get_thing_shadow(thingName=thing, shadowName="$package"))
    assert package["state"]["reported"] == {"agent": {"version": "1.0"}}
    names = iot_data.list_named_shadows_for_thing(thingName=thing)["results"]
    assert sorted(names) == ["$package", "config"]


def test_shadow_input_validation(iot: Any, iot_data: Any) -> None:
    thing = _thing(iot)
    code, status, response = aws_error(
        iot_data.get_thing_shadow, thingName=thing, shadowName="bad name"
    )
    assert (code, status) == ("InvalidRequestException", 400)
    assert "at 'shadowName'" in response["Error"]["Message"]
    code, status, _ = aws_error(iot_data.update_thing_shadow, thingName=thing, payload=b"{not json")
    assert (code, status) == ("InvalidRequestException", 400)
    code, status, _ = aws_error(
        iot_data.list_named_shadows_for_thing, thingName=thing, pageSize=101
    )
    assert (code, status) == ("InvalidRequestException", 400)


def test_nul_inside_a_key_is_refused(iot: Any, iot_data: Any) -> None:
    thing = _thing(iot)
    for payload in (
        b'{"state": {"reported": {"a\\u0000b": 1}}}',
        b'{"state": {"desired": {"x": {"\\u0000": true}}}}',
    ):
        code, status, response = aws_error(
            iot_data.update_thing_shadow, thingName=thing, payload=payload
        )
        assert (code, status) == ("InvalidRequestException", 400)
        assert response["Error"]["Message"] == "State contains an invalid node"
    code, status, _ = aws_error(iot_data.get_thing_shadow, thingName=thing)
    assert (code, status) == ("ResourceNotFoundException", 404)  # nothing was stored
    accepted = iot_data.update_thing_shadow(
        thingName=thing, payload=b'{"state": {"reported": {"a": "x\\u0000y"}}}'
    )
    assert _payload(accepted)["state"] == {"reported": {"a": "x\x00y"}}  # values may hold NUL
