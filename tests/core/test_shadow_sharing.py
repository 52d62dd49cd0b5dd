"""The shadow store keeps one copy of repeated state trees, and sharing never leaks a change."""

from __future__ import annotations

import orjson
import pytest

from simulator.core.shadow import ShadowStore, parse_update
from simulator.core.shadow import store as store_module

NOW = 1_700_000_000.0


def _update(store: ShadowStore, thing: str, doc: object, shadow: str | None = "$package") -> None:
    store.update(thing, shadow, parse_update(orjson.dumps(doc)), now=NOW)


def _reported(version: str, **extra: object) -> dict[str, object]:
    return {"state": {"reported": {"agent": {"version": version, **extra}}}}


def test_equal_trees_are_stored_once() -> None:
    store = ShadowStore()
    for thing in ("a", "b", "c"):
        _update(store, thing, _reported("1.0"))
    shadows = [store.get(t, "$package") for t in ("a", "b", "c")]
    assert shadows[0].reported is shadows[1].reported is shadows[2].reported
    # Every empty section is the same empty tree.
    assert shadows[0].desired is shadows[1].desired
    assert shadows[0].desired == {}


def test_a_change_to_one_shadow_leaves_the_others_alone() -> None:
    store = ShadowStore()
    for thing in ("a", "b"):
        _update(store, thing, _reported("1.0"))
    _update(store, "a", _reported("2.0", attributes={"by": "x"}))
    _update(store, "b", {"state": {"desired": {"mode": "on"}}})
    assert store.get("a", "$package").reported == {
        "agent": {"version": "2.0", "attributes": {"by": "x"}}
    }
    assert store.get("b", "$package").reported == {"agent": {"version": "1.0"}}
    assert store.get("b", "$package").desired == {"mode": "on"}
    assert store.get("a", "$package").desired == {}
    assert store.get("a", "$package").version == 2


def test_trees_with_other_key_orders_or_json_types_are_not_merged() -> None:
    store = ShadowStore()
    _update(store, "a", {"state": {"reported": {"x": 1, "y": 2}}}, None)
    _update(store, "b", {"state": {"reported": {"y": 2, "x": 1}}}, None)
    _update(store, "c", {"state": {"reported": {"x": 1.0, "y": 2}}}, None)
    _update(store, "d", {"state": {"reported": {"x": True, "y": 2}}}, None)
    docs = [orjson.dumps(store.document(t, None, now=NOW)["state"]) for t in "abcd"]
    assert docs == [
        b'{"reported":{"x":1,"y":2}}',
        b'{"reported":{"y":2,"x":1}}',
        b'{"reported":{"x":1.0,"y":2}}',
        b'{"reported":{"x":true,"y":2}}',
    ]


def test_the_sharing_table_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store_module, "_SHARED_TREES", 3)
    store = ShadowStore()
    for i in range(10):
        _update(store, f"t{i}", _reported(f"{i}.0"))
    assert len(store._trees._by_json) <= 3
    assert [store.get(f"t{i}", "$package").reported["agent"]["version"] for i in range(10)] == [
        f"{i}.0" for i in range(10)
    ]


def test_large_trees_are_kept_as_they_are() -> None:
    store = ShadowStore()
    big = {"state": {"reported": {"blob": "x" * 2000}}}
    _update(store, "a", big, None)
    _update(store, "b", big, None)
    assert store.get("a", None).reported == store.get("b", None).reported
    assert store.get("a", None).reported is not store.get("b", None).reported


def test_shadows_by_name_across_things() -> None:
    store = ShadowStore()
    _update(store, "a", _reported("1.0"))
    _update(store, "a", {"state": {"reported": {"on": True}}}, None)
    _update(store, "a", {"state": {"reported": {"on": True}}}, "config")
    _update(store, "b", _reported("1.0"))
    assert store.names("a") == ["$package", "config"]
    assert store.names("b") == ["$package"]
    assert store.names("nobody") == []
    assert store.drop_thing("a", now=NOW) == ["$package", None, "config"]
    assert store.find("a", None) is None
    assert store.find("b", "$package") is not None
    assert store.drop_thing("a", now=NOW) == []
    # Versions of the dropped shadows are remembered.
    _update(store, "a", _reported("1.0"))
    assert store.get("a", "$package").version == 2
    store.delete("b", "$package", now=NOW)
    assert store.find("b", "$package") is None
    assert store.names("b") == []


def test_a_shared_tree_goes_with_its_last_shadow() -> None:
    store = ShadowStore()
    for thing in ("a", "b"):
        _update(store, thing, _reported("1.0"))
    assert store.retained() == (2, 0, 1)
    store.delete("a", "$package", now=NOW)
    assert store.retained() == (1, 1, 1)  # b still holds the tree
    _update(store, "b", _reported("2.0"))
    assert store.retained() == (1, 1, 1)  # 1.0's tree went, 2.0's came
    _update(store, "b", {"state": {"desired": {"x": 1}}})
    assert store.retained() == (1, 1, 2)  # the same reported tree, and a desired one
    assert store.drop_thing("b", now=NOW) == ["$package"]
    assert store.retained() == (0, 2, 0)
    _update(store, "c", _reported("2.0"))
    assert store._trees._by_json == {b'{"agent":{"version":"2.0"}}': {"agent": {"version": "2.0"}}}
