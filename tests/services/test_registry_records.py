"""Thing records: ARNs and IDs derived on demand, shared group tuples and empty attributes."""

from __future__ import annotations

import uuid

from simulator.api.wire import registry as wire
from simulator.core.arn import Scope
from simulator.services.registry import Registry, RegistryEvent
from simulator.services.registry.groups import id_base
from simulator.services.runtime import NullPublisher, Runtime, TimerHeap, VirtualClock

NOW = 1_700_000_000.0


def _registry(scope: Scope | None = None) -> Registry:
    runtime = Runtime(clock=VirtualClock(NOW), scheduler=TimerHeap(), publisher=NullPublisher())
    return Registry(runtime, scope or Scope())


def test_arns_and_ids_are_what_create_thing_returned() -> None:
    scope = Scope(region="eu-west-1", account="210987654321")
    registry = _registry(scope)
    registry.create_thing_group(thing_group_name="g")  # ids count every creation
    created = [registry.create_thing(thing_name=f"t{i}") for i in range(3)]
    base = id_base(scope.account)
    for i, answer in enumerate(created):
        thing = registry.things[f"t{i}"]
        assert answer is thing  # the record itself: no wire dict to build per thing
        assert wire.create_thing(answer) == {
            "thingName": f"t{i}",
            "thingArn": thing.arn,
            "thingId": thing.thing_id,
        }
        assert thing.arn == f"arn:aws:iot:eu-west-1:210987654321:thing/t{i}"
        # A UUID whose last 48 bits count the registry's creations (the group was the first).
        assert thing.thing_id == str(uuid.UUID(int=base | (i + 2)))
        described = wire.describe_thing(registry.describe_thing(thing_name=f"t{i}"))
        assert described["thingId"] == thing.thing_id


def test_things_in_the_same_groups_share_one_tuple() -> None:
    registry = _registry()
    for group in ("fleet", "canary"):
        registry.create_thing_group(thing_group_name=group)
    for name in ("a", "b", "c"):
        registry.create_thing(thing_name=name)
        registry.join("fleet", name)
    registry.join("canary", "a")
    registry.join("canary", "b")
    a, b, c = (registry.things[n] for n in "abc")
    assert a.groups == ("fleet", "canary")
    assert a.groups is b.groups
    assert c.groups == ("fleet",)
    registry.remove_thing_from_thing_group(thing_group_name="canary", thing_name="a")
    left = registry.things["a"].groups
    assert left == ("fleet",)
    assert left is c.groups
    assert b.groups == ("fleet", "canary")
    listed = registry.list_thing_groups_for_thing(thing_name="b")
    assert [g.name for g in listed.groups] == ["fleet", "canary"]
    assert wire.list_thing_groups(listed) == {
        "thingGroups": [
            {"groupName": g, "groupArn": registry.group_arn(g)} for g in ("fleet", "canary")
        ]
    }


def test_leaving_and_deleting_keep_group_order_and_events() -> None:
    registry = _registry()
    events: list[RegistryEvent] = []
    registry.subscribe(events.append)
    for group in ("g1", "g2", "g3"):
        registry.create_thing_group(thing_group_name=group)
    registry.create_thing(thing_name="t")
    for group in ("g1", "g2", "g3"):
        registry.add_thing_to_thing_group(thing_group_name=group, thing_name="t")
    registry.remove_thing_from_thing_group(thing_group_name="g2", thing_name="t")
    assert registry.things["t"].groups == ("g1", "g3")
    registry.delete_thing(thing_name="t")
    assert [(e.kind, e.group) for e in events[-3:]] == [
        ("left", "g1"),
        ("left", "g3"),
        ("thing-deleted", None),
    ]
    assert "t" not in registry.groups["g1"].things


def test_things_without_attributes_share_an_empty_read_only_mapping() -> None:
    registry = _registry()
    registry.create_thing(thing_name="a")
    registry.create_thing(thing_name="b")
    a, b = registry.things["a"], registry.things["b"]
    assert a.attributes is b.attributes
    assert wire.describe_thing(registry.describe_thing(thing_name="a"))["attributes"] == {}
    # CreateThing stays idempotent for equal (empty) input.
    assert registry.create_thing(thing_name="a", attribute_payload={"attributes": {}}) is a
    registry.update_thing(thing_name="a", attribute_payload={"attributes": {"k": "v"}})
    assert registry.describe_thing(thing_name="a").attributes == {"k": "v"}
    assert registry.describe_thing(thing_name="b").attributes == {}
    registry.update_thing(
        thing_name="a", attribute_payload={"attributes": {"k": ""}, "merge": True}
    )
    assert registry.things["a"].attributes == {}
    assert registry.things["a"].version == 3
