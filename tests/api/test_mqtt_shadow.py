"""The Shadow MQTT codec: topic parsing, replies to the requester, rejected documents."""

from __future__ import annotations

from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.api.mqtt import handle_shadow, parse_shadow_topic
from simulator.api.mqtt.notices import ShadowMqttNotices
from simulator.core.arn import Scope
from simulator.core.shadow import ShadowOptions
from simulator.services.registry import Registry
from simulator.services.runtime import RecordingPublisher, Runtime, TimerHeap, VirtualClock
from simulator.services.shadows import ShadowService
from tests.hypothesis_profiles import examples

NOW = 1_700_000_000.0
T = int(NOW)
PREFIX = "$aws/things/dev1/shadow"


def make_service(options: ShadowOptions | None = None) -> tuple[ShadowService, RecordingPublisher]:
    publisher = RecordingPublisher()
    runtime = Runtime(clock=VirtualClock(NOW), scheduler=TimerHeap(), publisher=publisher)
    registry = Registry(runtime, Scope())
    registry.create_thing(thing_name="dev1")
    service = ShadowService(runtime, registry, options)
    service.notify_to(ShadowMqttNotices(publisher))
    return service, publisher


@pytest.fixture
def service() -> ShadowService:
    return make_service()[0]


def decoded(messages: list[tuple[str, bytes]]) -> list[tuple[str, Any]]:
    return [(topic, orjson.loads(payload)) for topic, payload in messages]


@pytest.mark.parametrize(
    ("topic", "parsed"),
    [
        ("$aws/things/dev1/shadow/get", ("dev1", None, "get")),
        ("$aws/things/dev1/shadow/update", ("dev1", None, "update")),
        ("$aws/things/dev1/shadow/delete", ("dev1", None, "delete")),
        ("$aws/things/dev1/shadow/name/cfg/update", ("dev1", "cfg", "update")),
        ("$aws/things/dev1/shadow/name/$package/get", ("dev1", "$package", "get")),
        ("$aws/things/name/shadow/name/name/delete", ("name", "name", "delete")),
        ("$aws/things/dev1/shadow/get/accepted", None),
        ("$aws/things/dev1/shadow/update/delta", None),
        ("$aws/things/dev1/shadow/name/cfg/update/rejected", None),
        ("$aws/things/dev1/shadow/list", None),
        ("$aws/things/dev1/shadow/name/cfg", None),
        ("$aws/things/dev1/shadow/named/cfg/get", None),
        ("$aws/things/dev1/shadow/name//get", None),
        ("$aws/things//shadow/get", None),
        ("$aws/things/dev1/jobs/get", None),
        ("aws/things/dev1/shadow/get", None),
        ("$aws/thing/dev1/shadow/get", None),
        ("", None),
    ],
)
def test_parse_shadow_topic(topic: str, parsed: tuple[str, str | None, str] | None) -> None:
    assert parse_shadow_topic(topic) == parsed


def test_get_replies_with_the_document_and_token(service: ShadowService) -> None:
    handle_shadow(service, "dev1", None, "update", b'{"state": {"desired": {"on": true}}}')
    replies = handle_shadow(service, "dev1", None, "get", b'{"clientToken": "g1"}')
    assert decoded(replies) == [
        (
            f"{PREFIX}/get/accepted",
            {
                "state": {"desired": {"on": True}, "delta": {"on": True}},
                "metadata": {"desired": {"on": {"timestamp": T}}},
                "version": 1,
                "timestamp": T,
                "clientToken": "g1",
            },
        )
    ]
    assert "clientToken" not in decoded(handle_shadow(service, "dev1", None, "get", b""))[0][1]
    # A get payload that is not JSON is ignored, as its content does not matter.
    assert decoded(handle_shadow(service, "dev1", None, "get", b"junk"))[0][0].endswith("accepted")


def test_get_missing_shadow_is_rejected(service: ShadowService) -> None:
    replies = handle_shadow(service, "dev1", "cfg", "get", b'{"clientToken": "g2"}')
    assert decoded(replies) == [
        (
            f"{PREFIX}/name/cfg/get/rejected",
            {
                "code": 404,
                "message": "No shadow exists with name: 'cfg'",
                "timestamp": T,
                "clientToken": "g2",
            },
        )
    ]


def test_accepted_update_is_published_once_not_returned() -> None:
    service, publisher = make_service()
    doc = {"state": {"reported": {"a": 1}}, "clientToken": "u1"}
    assert handle_shadow(service, "dev1", "cfg", "update", orjson.dumps(doc)) == []
    assert publisher.topics() == [
        f"{PREFIX}/name/cfg/update/accepted",
        f"{PREFIX}/name/cfg/update/documents",
    ]
    assert orjson.loads(publisher.messages[0][1])["clientToken"] == "u1"


@pytest.mark.parametrize(
    ("payload", "code", "message", "token"),
    [
        (b"{not json", 400, "Invalid JSON", None),
        (b'{"clientToken": "u2"}', 400, "Missing required node: state", "u2"),
        (
            b'{"state": {"reported": []}, "clientToken": "u3"}',
            400,
            "Reported node must be an object",
            "u3",
        ),
        (b'{"state": {}, "version": 7, "clientToken": "u4"}', 409, "Version conflict", "u4"),
        (
            b'\xff{"state": {}}',
            415,
            "Unsupported documented encoding; supported encoding is UTF-8",
            None,
        ),
        (
            orjson.dumps({"state": {"reported": {"a": "x" * 9000}}, "clientToken": "u5"}),
            413,
            "The payload exceeds the maximum size allowed",
            "u5",
        ),
        (orjson.dumps({"state": {}, "clientToken": "x" * 65}), 400, "Invalid clientToken", None),
    ],
)
def test_rejected_update(payload: bytes, code: int, message: str, token: str | None) -> None:
    service, publisher = make_service()
    replies = decoded(handle_shadow(service, "dev1", None, "update", payload))
    expected: dict[str, Any] = {"code": code, "message": message, "timestamp": T}
    if token is not None:
        expected["clientToken"] = token
    assert replies == [(f"{PREFIX}/update/rejected", expected)]
    assert publisher.messages == []


def test_delete(service: ShadowService) -> None:
    publisher = service.runtime.publisher
    assert isinstance(publisher, RecordingPublisher)
    handle_shadow(service, "dev1", None, "update", b'{"state": {}}')
    publisher.messages.clear()
    assert handle_shadow(service, "dev1", None, "delete", b'{"clientToken": "d1"}') == []
    assert decoded(publisher.messages) == [
        (f"{PREFIX}/delete/accepted", {"version": 1, "timestamp": T, "clientToken": "d1"})
    ]
    replies = decoded(handle_shadow(service, "dev1", None, "delete", b""))
    assert replies == [
        (
            f"{PREFIX}/delete/rejected",
            {"code": 404, "message": "No shadow exists with name: 'dev1'", "timestamp": T},
        )
    ]


def test_unknown_thing_and_bad_names_are_rejected(service: ShadowService) -> None:
    replies = decoded(handle_shadow(service, "ghost", None, "update", b'{"state": {}}'))
    assert replies == [
        (
            "$aws/things/ghost/shadow/update/rejected",
            {"code": 404, "message": "Thing not found", "timestamp": T},
        )
    ]
    replies = decoded(handle_shadow(service, "dev1", "bad name", "get", b""))
    assert replies[0][0] == "$aws/things/dev1/shadow/name/bad name/get/rejected"
    assert replies[0][1]["code"] == 400


def test_rejected_timestamp_is_an_option() -> None:
    service, _ = make_service(ShadowOptions(rejected_timestamp=False))
    replies = decoded(handle_shadow(service, "dev1", None, "get", b'{"clientToken": "z"}'))
    assert replies[0][1] == {
        "code": 404,
        "message": "No shadow exists with name: 'dev1'",
        "clientToken": "z",
    }


def test_topic_round_trip() -> None:
    service, publisher = make_service()
    parsed = parse_shadow_topic("$aws/things/dev1/shadow/name/$package/update")
    assert parsed is not None
    payload = b'{"state": {"reported": {"pkg": {"version": "1.0"}}}}'
    assert handle_shadow(service, *parsed, payload) == []
    assert publisher.topics()[0] == "$aws/things/dev1/shadow/name/$package/update/accepted"


@settings(max_examples=examples(300), deadline=None)
@given(
    st.sampled_from(["get", "update", "delete"]),
    st.sampled_from([None, "cfg", "$package"]),
    st.binary(max_size=48) | st.sampled_from([b'{"state": {"reported": {"a": 1}}}', b"{}"]),
)
def test_random_payloads_never_raise(
    operation: Any, shadow_name: str | None, payload: bytes
) -> None:
    service, _ = make_service()
    replies = handle_shadow(service, "dev1", shadow_name, operation, payload)
    assert len(replies) <= 1
    for topic, body in replies:
        assert topic.split("/")[-1] in ("accepted", "rejected")
        document = orjson.loads(body)
        if topic.endswith("rejected"):
            assert isinstance(document["code"], int) and isinstance(document["message"], str)
