"""ShadowService: iot-data operations, published messages, $package, listing, Jobs' fast path."""

from __future__ import annotations

import tracemalloc
from typing import Any

import orjson
import pytest

from simulator.api.mqtt.notices import ShadowMqttNotices, shadow_topic_prefix
from simulator.api.wire import shadow as wire_shadow
from simulator.core.arn import Scope
from simulator.core.errors import AwsError
from simulator.core.shadow import ShadowOptions
from simulator.services.registry import Registry
from simulator.services.runtime import RecordingPublisher, Runtime, TimerHeap, VirtualClock
from simulator.services.shadows import ShadowService
from tests.services.jobs_support import Wire

NOW = 1_700_000_000.0
T = int(NOW)
PREFIX = "$aws/things/thing1/shadow"
PKG = "$aws/things/thing1/shadow/name/$package"


class Env:
    def __init__(self, options: ShadowOptions | None = None) -> None:
        self.clock = VirtualClock(NOW)
        self.publisher = RecordingPublisher()
        self.runtime = Runtime(clock=self.clock, scheduler=TimerHeap(), publisher=self.publisher)
        self.registry = Registry(self.runtime, Scope())
        self.registry.create_thing(thing_name="thing1")
        self.service = ShadowService(self.runtime, self.registry, options)
        #: The same operations answering their wire shape (as an HTTP client sees them).
        self.wire = Wire(self.service, "iot-data")
        # The messages as the MQTT API publishes the service's notifications.
        self.service.notify_to(ShadowMqttNotices(self.publisher))
        self.changes: list[tuple[str, str | None]] = []
        self.service.subscribe(lambda thing, name: self.changes.append((thing, name)))

    def update(self, doc: Any, name: str | None = None, thing: str = "thing1") -> dict[str, Any]:
        out = self.wire.update_thing_shadow(
            thing_name=thing, shadow_name=name, payload=orjson.dumps(doc)
        )
        assert set(out) == {"payload"} and isinstance(out["payload"], bytes)
        result: dict[str, Any] = orjson.loads(out["payload"])
        return result

    def get(self, name: str | None = None, thing: str = "thing1") -> dict[str, Any]:
        out = self.wire.get_thing_shadow(thing_name=thing, shadow_name=name)
        result: dict[str, Any] = orjson.loads(out["payload"])
        return result

    def published(self) -> list[tuple[str, Any]]:
        out = [(topic, orjson.loads(payload)) for topic, payload in self.publisher.messages]
        self.publisher.messages.clear()
        return out


@pytest.fixture
def env() -> Env:
    return Env()


def error_of(fn: Any, **kw: Any) -> AwsError:
    with pytest.raises(AwsError) as info:
        fn(**kw)
    return info.value


def test_update_publishes_accepted_documents_and_delta(env: Env) -> None:
    body = env.update({"state": {"desired": {"color": "RED"}}, "clientToken": "c1"})
    assert body == {
        "state": {"desired": {"color": "RED"}},
        "metadata": {"desired": {"color": {"timestamp": T}}},
        "version": 1,
        "timestamp": T,
        "clientToken": "c1",
    }
    messages = env.published()
    assert [topic for topic, _ in messages] == [
        f"{PREFIX}/update/accepted",
        f"{PREFIX}/update/documents",
        f"{PREFIX}/update/delta",
    ]
    assert messages[0][1] == body
    assert messages[1][1]["previous"] is None
    assert messages[1][1]["current"]["state"] == {"desired": {"color": "RED"}}
    assert messages[2][1] == {
        "state": {"color": "RED"},
        "metadata": {"color": {"timestamp": T}},
        "version": 1,
        "timestamp": T,
        "clientToken": "c1",
    }
    env.update({"state": {"reported": {"color": "RED"}}})
    assert [topic for topic, _ in env.published()] == [
        f"{PREFIX}/update/accepted",
        f"{PREFIX}/update/documents",
    ]
    assert env.changes == [("thing1", None), ("thing1", None)]


def test_named_shadow_topics_and_get(env: Env) -> None:
    env.clock.now = NOW + 7
    env.update({"state": {"reported": {"a": 1}}}, name="cfg")
    assert [topic for topic, _ in env.published()] == [
        "$aws/things/thing1/shadow/name/cfg/update/accepted",
        "$aws/things/thing1/shadow/name/cfg/update/documents",
    ]
    assert env.get("cfg") == {
        "state": {"reported": {"a": 1}},
        "metadata": {"reported": {"a": {"timestamp": T + 7}}},
        "version": 1,
        "timestamp": T + 7,
    }
    error = error_of(env.service.get_thing_shadow, thing_name="thing1")
    assert (error.error_type, error.http_status) == ("ResourceNotFoundException", 404)
    assert error.message == "No shadow exists with name: 'thing1'"
    error = error_of(env.service.get_thing_shadow, thing_name="thing1", shadow_name="nope")
    assert error.message == "No shadow exists with name: 'nope'"
    assert env.changes == [("thing1", "cfg")]


def test_topic_prefix() -> None:
    assert shadow_topic_prefix("t", None) == "$aws/things/t/shadow"
    assert shadow_topic_prefix("t", "$package") == "$aws/things/t/shadow/name/$package"


@pytest.mark.parametrize(
    ("payload", "error", "message"),
    [
        (b"nope", ("InvalidRequestException", 400), "Invalid JSON"),
        (b'{"state": {"desired": 1}}', ("InvalidRequestException", 400), None),
        (b"\xff", ("UnsupportedDocumentEncodingException", 415), None),
        (
            orjson.dumps({"state": {"reported": {"a": "x" * 9000}}}),
            ("RequestEntityTooLargeException", 413),
            "The payload exceeds the maximum size allowed",
        ),
        (b'{"state": {}, "version": 5}', ("ConflictException", 409), "Version conflict"),
    ],
)
def test_rejected_updates_publish_nothing(
    env: Env, payload: bytes, error: tuple[str, int], message: str | None
) -> None:
    env.update({"state": {"reported": {"a": 1}}})
    env.published()
    env.changes.clear()
    exc = error_of(env.service.update_thing_shadow, thing_name="thing1", payload=payload)
    assert (exc.error_type, exc.http_status) == error
    if message is not None:
        assert exc.message == message
    assert env.publisher.messages == [] and env.changes == []
    assert env.get()["version"] == 1


def test_unregistered_things(env: Env) -> None:
    calls: list[tuple[Any, dict[str, Any]]] = [
        (env.service.get_thing_shadow, {}),
        (env.service.delete_thing_shadow, {}),
        (env.service.update_thing_shadow, {"payload": b'{"state": {}}'}),
        (env.service.list_named_shadows_for_thing, {}),
    ]
    for fn, kw in calls:
        error = error_of(fn, thing_name="ghost", **kw)
        assert (error.error_type, error.http_status, error.message) == (
            "ResourceNotFoundException",
            404,
            "Thing not found",
        )
    error = error_of(env.service.merge_package_versions, thing_name="ghost", versions={"p": "1"})
    assert error.message == "Thing not found"
    loose = Env(ShadowOptions(require_registered_thing=False))
    assert loose.update({"state": {"reported": {"a": 1}}}, thing="ghost")["version"] == 1
    loose.service.merge_package_versions("ghost", {"p": "1"})
    assert loose.get("$package", thing="ghost")["state"] == {"reported": {"p": {"version": "1"}}}
    error = error_of(loose.service.get_thing_shadow, thing_name="bad/name")
    assert (error.error_type, error.http_status) == ("InvalidRequestException", 400)


def test_invalid_shadow_name(env: Env) -> None:
    error = error_of(
        env.service.update_thing_shadow,
        thing_name="thing1",
        shadow_name="a/b",
        payload=b'{"state": {}}',
    )
    assert (error.error_type, error.http_status) == ("InvalidRequestException", 400)


def test_delete_publishes_and_keeps_numbering(env: Env) -> None:
    env.update({"state": {"reported": {"a": 1}}})
    env.update({"state": {"reported": {"a": 2}}})
    env.published()
    env.clock.now = NOW + 1
    out = env.wire.delete_thing_shadow(thing_name="thing1")
    assert orjson.loads(out["payload"]) == {"version": 2, "timestamp": T + 1}
    assert env.published() == [(f"{PREFIX}/delete/accepted", {"version": 2, "timestamp": T + 1})]
    assert env.changes[-1] == ("thing1", None)
    error = error_of(env.service.delete_thing_shadow, thing_name="thing1")
    assert (error.http_status, error.message) == (404, "No shadow exists with name: 'thing1'")
    assert env.update({"state": {"reported": {"b": 1}}})["version"] == 3
    env.service.delete_thing_shadow(thing_name="thing1")
    env.clock.now = NOW + 2 + 48 * 3600
    assert env.update({"state": {"reported": {"b": 1}}})["version"] == 1


def test_delete_echoes_the_mqtt_client_token(env: Env) -> None:
    env.update({"state": {}}, name="cfg")
    env.published()
    deletion = env.service.delete_shadow("thing1", "cfg", client_token="tok")
    assert (deletion.document, deletion.client_token) == ({"version": 1, "timestamp": T}, "tok")
    # The REST body never has the token; the MQTT message does.
    assert orjson.loads(wire_shadow.delete_thing_shadow(deletion)["payload"]) == deletion.document
    assert env.published() == [
        (
            "$aws/things/thing1/shadow/name/cfg/delete/accepted",
            {"version": 1, "timestamp": T, "clientToken": "tok"},
        )
    ]


def test_list_named_shadows(env: Env) -> None:
    for name in ("zeta", None, "alpha", "$package", "mid"):
        env.update({"state": {}}, name=name)
    env.service.delete_thing_shadow(thing_name="thing1", shadow_name="mid")
    env.registry.create_thing(thing_name="thing2")
    env.update({"state": {}}, name="other", thing="thing2")
    out = env.wire.list_named_shadows_for_thing(thing_name="thing1")
    assert out == {"results": ["$package", "alpha", "zeta"], "timestamp": T}
    pages: list[str] = []
    token = None
    while True:
        out = env.wire.list_named_shadows_for_thing(
            thing_name="thing1", page_size=2, next_token=token
        )
        pages.append(",".join(out["results"]))
        token = out.get("nextToken")
        if token is None:
            break
    assert pages == ["$package,alpha", "zeta"]
    for size in (0, 101):
        error = error_of(
            env.service.list_named_shadows_for_thing, thing_name="thing1", page_size=size
        )
        assert (error.error_type, error.http_status) == ("InvalidRequestException", 400)
    error = error_of(
        env.service.list_named_shadows_for_thing, thing_name="thing1", next_token="garbage!"
    )
    assert error.http_status == 400
    env.registry.create_thing(thing_name="empty")
    assert env.wire.list_named_shadows_for_thing(thing_name="empty")["results"] == []


def test_package_rules(env: Env) -> None:
    bad = {"state": {"reported": {"pkg": {"version": "1.0", "description": "x"}}}}
    error = error_of(
        env.service.update_thing_shadow,
        thing_name="thing1",
        shadow_name="$package",
        payload=orjson.dumps(bad),
    )
    assert (error.error_type, error.http_status) == ("InvalidRequestException", 400)
    assert "description" in error.message
    body = env.update(
        {"state": {"reported": {"pkg": {"version": "1.0", "attributes": {"k": "v"}}}}},
        name="$package",
    )
    assert body == {
        "state": {"reported": {"pkg": {"version": "1.0", "attributes": {"k": "v"}}}},
        "version": 1,
        "timestamp": T,
    }
    documents = env.published()[1][1]
    assert documents == {
        "previous": None,
        "current": {
            "state": {"reported": {"pkg": {"version": "1.0", "attributes": {"k": "v"}}}},
            "version": 1,
        },
        "timestamp": T,
    }
    assert "metadata" not in env.get("$package")


def test_merge_package_versions(env: Env) -> None:
    env.update(
        {
            "state": {
                "reported": {"a": {"version": "1", "attributes": {"k": "v"}}, "b": {"version": "1"}}
            }
        },
        name="$package",
    )
    env.published()
    env.changes.clear()
    env.clock.now = NOW + 5
    env.service.merge_package_versions("thing1", {"a": "2", "b": None, "c": "9"})
    assert env.published() == [
        (
            f"{PKG}/update/accepted",
            {
                "state": {"reported": {"a": {"version": "2"}, "b": None, "c": {"version": "9"}}},
                "version": 2,
                "timestamp": T + 5,
            },
        ),
        (
            f"{PKG}/update/documents",
            {
                "previous": {
                    "state": {
                        "reported": {
                            "a": {"version": "1", "attributes": {"k": "v"}},
                            "b": {"version": "1"},
                        }
                    },
                    "version": 1,
                },
                "current": {
                    "state": {
                        "reported": {
                            "a": {"version": "2", "attributes": {"k": "v"}},
                            "c": {"version": "9"},
                        }
                    },
                    "version": 2,
                },
                "timestamp": T + 5,
            },
        ),
    ]
    assert env.changes == [("thing1", "$package")]
    env.service.merge_package_versions("thing1", {})
    assert env.publisher.messages == [] and env.get("$package")["version"] == 2


def test_merge_package_versions_creates_the_shadow_and_publishes_delta(env: Env) -> None:
    env.service.merge_package_versions("thing1", {"p": "1"})
    assert env.get("$package") == {
        "state": {"reported": {"p": {"version": "1"}}},
        "version": 1,
        "timestamp": T,
    }
    env.update({"state": {"desired": {"p": {"version": "2"}}}}, name="$package")
    env.published()
    env.service.merge_package_versions("thing1", {"q": "1"})
    topics = [topic for topic, _ in env.published()]
    assert topics[-1] == f"{PKG}/update/delta"
    env.service.merge_package_versions("thing1", {"p": "2"})
    assert [topic for topic, _ in env.published()][-1] == f"{PKG}/update/documents"


def test_merge_package_versions_respects_the_size_limit(env: Env) -> None:
    versions = {f"package-{i:04d}": "v" * 60 for i in range(120)}
    with pytest.raises(AwsError) as info:
        env.service.merge_package_versions("thing1", versions)
    assert info.value.http_status == 413
    assert env.service.state("thing1", "$package") is None


def test_state_is_a_copy_without_empty_sections(env: Env) -> None:
    assert env.service.state("thing1", None) is None
    env.update({"state": {"desired": {"a": {"x": 1}}, "reported": {"a": {"x": 0}, "b": 2}}})
    state = env.service.state("thing1", None)
    assert state == {
        "desired": {"a": {"x": 1}},
        "reported": {"a": {"x": 0}, "b": 2},
        "delta": {"a": {"x": 1}},
    }
    assert state is not None
    state["desired"]["a"]["x"] = 99
    assert env.get()["state"]["desired"] == {"a": {"x": 1}}
    env.update({"state": {"desired": None}})
    assert env.service.state("thing1", None) == {"reported": {"a": {"x": 0}, "b": 2}}
    env.update({"state": None})
    assert env.service.state("thing1", None) == {}


def test_deleting_the_thing_drops_its_shadows(env: Env) -> None:
    env.update({"state": {}})
    env.update({"state": {}}, name="cfg")
    env.update({"state": {}}, name="cfg")
    env.changes.clear()
    env.registry.delete_thing(thing_name="thing1")
    assert sorted(env.changes, key=str) == [("thing1", "cfg"), ("thing1", None)]
    assert env.service.state("thing1", None) is None
    assert env.service.state("thing1", "cfg") is None
    env.registry.create_thing(thing_name="thing1")
    assert env.wire.list_named_shadows_for_thing(thing_name="thing1")["results"] == []
    assert env.update({"state": {}}, name="cfg")["version"] == 3  # within 48 h: numbering goes on

    keep = Env(ShadowOptions(drop_shadows_with_thing=False))
    keep.update({"state": {"reported": {"a": 1}}})
    keep.registry.delete_thing(thing_name="thing1")
    keep.registry.create_thing(thing_name="thing1")
    assert keep.get()["state"] == {"reported": {"a": 1}}


def test_deleted_shadows_are_forgotten_after_the_version_window() -> None:
    """Nothing of a deleted shadow outlives ``version_reset_after_s`` (48 h by default)."""
    env = Env()
    store = env.service.store
    for i in range(200):
        env.registry.create_thing(thing_name=f"t{i}")
        env.update({"state": {"reported": {"n": i}}}, thing=f"t{i}")
        env.update({"state": {"desired": {"n": i}}}, name="cfg", thing=f"t{i}")
    assert store.retained()[:2] == (400, 0)
    for i in range(100):
        env.service.delete_thing_shadow(thing_name=f"t{i}")
        env.service.delete_thing_shadow(thing_name=f"t{i}", shadow_name="cfg")
    for i in range(100, 200):
        env.registry.delete_thing(thing_name=f"t{i}")
    assert store.retained() == (0, 400, 0)  # 400 versions remembered, nothing else
    env.clock.now += 47 * 3600
    env.update({"state": {}})  # any write forgets what has expired: nothing yet
    assert store.retained()[:2] == (1, 400)
    env.registry.create_thing(thing_name="t0")
    assert env.update({"state": {}}, thing="t0")["version"] == 2  # numbering goes on
    env.clock.now += 2 * 3600
    env.update({"state": {}})
    assert store.retained()[:2] == (2, 0)
    env.service.delete_thing_shadow(thing_name="t0")
    env.clock.now += 49 * 3600
    env.update({"state": {}})
    assert store.retained()[:2] == (1, 0)
    assert env.update({"state": {}}, thing="t0")["version"] == 1  # beyond 48 h: from 1


def test_remembered_deletions_are_bounded() -> None:
    env = Env(ShadowOptions(max_deleted_versions=50))
    for i in range(120):
        env.registry.create_thing(thing_name=f"t{i}")
        env.update({"state": {"reported": {"n": i}}}, thing=f"t{i}")
        env.update({"state": {"reported": {"n": i}}}, thing=f"t{i}")
        env.service.delete_thing_shadow(thing_name=f"t{i}")
    assert env.service.store.retained()[:2] == (0, 50)
    assert env.update({"state": {}}, thing="t119")["version"] == 3  # the newest: remembered
    assert env.update({"state": {}}, thing="t0")["version"] == 1  # the oldest: forgotten


def test_shadow_churn_leaves_no_memory_behind() -> None:
    """Create and delete 5,000 shadows, past the window: memory back to what it was."""
    env = Env(ShadowOptions(version_reset_after_s=60.0))
    names = [f"t{i}" for i in range(5_000)]
    for name in names:
        env.registry.create_thing(thing_name=name)

    def churn(start: int) -> None:
        for i, name in enumerate(names):
            state = {"reported": {"n": start + i, "blob": f"{start + i:0200d}"}}
            env.update({"state": state}, thing=name)
            env.update({"state": state}, name="cfg", thing=name)
            env.service.delete_thing_shadow(thing_name=name)
            env.service.delete_thing_shadow(thing_name=name, shadow_name="cfg")
        env.published()
        env.changes.clear()
        env.clock.now += 61.0
        env.update({"state": {}})  # forgets the expired deletions
        env.service.delete_thing_shadow(thing_name="thing1")

    tracemalloc.start()
    try:
        churn(0)  # warm-up: tables reach the size one round needs
        before = tracemalloc.get_traced_memory()[0]
        for start in (10_000, 20_000, 30_000):
            churn(start)
        after = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert env.service.store.retained() == (0, 1, 0)  # thing1's own deletion, just now
    # 30,000 shadows with 200-byte values came and went: kept, they would be over 10 MB.
    assert after - before < 100_000, after - before
