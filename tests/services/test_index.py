"""IndexService: indexing configuration, SearchIndex and dynamic thing groups.

Runs over the real registry and ShadowService with a virtual clock and a hand-driven timer heap:
dynamic groups turn ACTIVE and membership follows changes only when ``TimerHeap.run_due`` runs.
"""

from __future__ import annotations

import itertools
from typing import Any

import orjson
import pytest

from simulator.api.wire.registry import describe_thing_group
from simulator.core.arn import Scope
from simulator.core.errors import (
    AwsError,
    IndexNotReadyException,
    InvalidQueryException,
    InvalidRequestException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
    VersionConflictException,
)
from simulator.core.fleet_query import QuerySyntax
from simulator.services.index import BuildStatus, IndexOptions, IndexService
from simulator.services.index.model import TRANSITIONS, Change, advance
from simulator.services.registry import Registry, RegistryEvent
from simulator.services.registry.model import MAX_GROUPS_PER_THING
from simulator.services.runtime import RecordingPublisher, Runtime, TimerHeap, VirtualClock
from simulator.services.shadows import ShadowService
from tests.services.jobs_support import Wire

NOW = 1_700_000_000.0
PKG = "shadow.name.$package.reported"
ON_PACKAGE = {
    "thingIndexingMode": "REGISTRY_AND_SHADOW",
    "namedShadowIndexingMode": "ON",
    "filter": {"namedShadowNames": ["$package"]},
}


class Env:
    def __init__(self, options: IndexOptions | None = None, *, configure: bool = True) -> None:
        self.clock = VirtualClock(NOW)
        self.timers = TimerHeap()
        self.runtime = Runtime(self.clock, self.timers, RecordingPublisher())
        self.registry = Registry(self.runtime, Scope())
        self.shadows = ShadowService(self.runtime, self.registry)
        self.index = IndexService(
            self.runtime, self.registry, self.shadows, options or IndexOptions(build_delay_s=5.0)
        )
        #: The same operations answering their wire shape (as a client sees them).
        self.wire = Wire(self.index, "iot")
        self.events: list[RegistryEvent] = []
        self.registry.subscribe(self.events.append)
        if configure:
            self.index.update_indexing_configuration(thing_indexing_configuration=ON_PACKAGE)

    def thing(self, name: str, type_name: str | None = None, **attributes: str) -> None:
        if type_name is not None and type_name not in self.registry.thing_types:
            self.registry.create_thing_type(thing_type_name=type_name)
        self.registry.create_thing(
            thing_name=name,
            thing_type_name=type_name,
            attribute_payload={"attributes": attributes},
        )

    def shadow(self, thing: str, state: dict[str, Any], name: str | None = None) -> None:
        payload = orjson.dumps({"state": state})
        self.shadows.update_thing_shadow(thing_name=thing, shadow_name=name, payload=payload)

    def package(self, thing: str, **versions: str | None) -> None:
        reported = {p: None if v is None else {"version": v} for p, v in versions.items()}
        self.shadow(thing, {"reported": reported}, "$package")

    def advance(self, seconds: float = 0.0) -> None:
        self.clock.now += seconds
        self.timers.run_due(self.clock.now)

    def search(self, query: str, **kw: Any) -> list[str]:
        result = self.wire.search_index(query_string=query, **kw)
        return [t["thingName"] for t in result["things"]]

    def members(self, group: str) -> list[str]:
        return sorted(self.registry.members(group))

    def status(self, group: str) -> str:
        return str(self.registry.describe_thing_group(thing_group_name=group).group.status)

    def membership(self, group: str) -> list[tuple[str, str]]:
        """Membership events for ``group`` since the last call."""
        out: list[tuple[str, str]] = [(e.kind, e.thing) for e in self.events if e.group == group]
        self.events.clear()
        return out


def error_of(fn: Any, **kw: Any) -> AwsError:
    with pytest.raises(AwsError) as info:
        fn(**kw)
    return info.value


# -- configuration -------------------------------------------------------------------------------


def test_indexing_is_off_by_default() -> None:
    env = Env(configure=False)
    assert env.wire.get_indexing_configuration() == {
        "thingIndexingConfiguration": {
            "thingIndexingMode": "OFF",
            "thingConnectivityIndexingMode": "OFF",
            "deviceDefenderIndexingMode": "OFF",
            "namedShadowIndexingMode": "OFF",
        },
        "thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "OFF"},
    }
    assert isinstance(error_of(env.index.search_index, query_string="*"), ResourceNotFoundException)
    assert isinstance(
        error_of(env.index.describe_index, index_name="AWS_Things"), ResourceNotFoundException
    )


def test_configuration_is_echoed() -> None:
    env = Env(configure=False)
    thing_config = {
        "thingIndexingMode": "REGISTRY_AND_SHADOW",
        "namedShadowIndexingMode": "ON",
        "thingConnectivityIndexingMode": "STATUS",
        "customFields": [{"name": "shadow.name.$package.reported.agent.version", "type": "String"}],
        "filter": {"namedShadowNames": ["$package", "config"]},
    }
    assert (
        env.wire.update_indexing_configuration(
            thing_indexing_configuration=thing_config,
            thing_group_indexing_configuration={"thingGroupIndexingMode": "ON"},
        )
        == {}
    )
    assert env.wire.get_indexing_configuration() == {
        "thingIndexingConfiguration": {**thing_config, "deviceDefenderIndexingMode": "OFF"},
        "thingGroupIndexingConfiguration": {"thingGroupIndexingMode": "ON"},
    }
    assert env.wire.describe_index(index_name="AWS_Things") == {
        "indexName": "AWS_Things",
        "indexStatus": "ACTIVE",
        "schema": "REGISTRY_AND_SHADOW_AND_CONNECTIVITY_STATUS",
    }
    assert env.wire.describe_index(index_name="AWS_ThingGroups")["schema"] == "THING_GROUPS"
    error = error_of(env.index.search_index, index_name="AWS_ThingGroups", query_string="*")
    assert isinstance(error, InvalidRequestException)
    assert isinstance(error_of(env.index.describe_index, index_name="X"), ResourceNotFoundException)


@pytest.mark.parametrize(
    ("thing_config", "group_config"),
    [
        ({}, None),
        ({"thingIndexingMode": "SHADOW"}, None),
        ({"thingIndexingMode": "REGISTRY", "namedShadowIndexingMode": "YES"}, None),
        ({**ON_PACKAGE, "filter": {"namedShadowNames": ["bad name"]}}, None),
        ({**ON_PACKAGE, "filter": {"namedShadowNames": "$package"}}, None),
        ({**ON_PACKAGE, "filter": {"namedShadowNames": [f"s{i}" for i in range(11)]}}, None),
        ({**ON_PACKAGE, "customFields": [{"name": "x", "type": "Float"}]}, None),
        ({**ON_PACKAGE, "thingConnectivityIndexingMode": "ON"}, None),
        ("REGISTRY", None),
        (None, {}),
        (None, {"thingGroupIndexingMode": "YES"}),
    ],
)
def test_invalid_configurations_change_nothing(
    thing_config: Any, group_config: dict[str, Any] | None
) -> None:
    env = Env()
    before = env.wire.get_indexing_configuration()
    error = error_of(
        env.index.update_indexing_configuration,
        thing_indexing_configuration=thing_config,
        thing_group_indexing_configuration=group_config,
    )
    assert isinstance(error, InvalidRequestException)
    assert env.wire.get_indexing_configuration() == before


def test_package_shadow_does_not_count_toward_the_named_shadow_limit() -> None:
    env = Env(configure=False)
    names = [*(f"s{i}" for i in range(10)), "$package"]
    env.index.update_indexing_configuration(
        thing_indexing_configuration={**ON_PACKAGE, "filter": {"namedShadowNames": names}}
    )
    config = env.wire.get_indexing_configuration()["thingIndexingConfiguration"]
    assert config["filter"]["namedShadowNames"] == names


def test_index_builds_before_it_can_be_searched() -> None:
    env = Env(IndexOptions(index_build_delay_s=3.0), configure=False)
    env.thing("t1", model="pump")
    env.index.update_indexing_configuration(
        thing_indexing_configuration={"thingIndexingMode": "REGISTRY"}
    )
    assert env.wire.describe_index(index_name="AWS_Things")["indexStatus"] == "BUILDING"
    error = error_of(env.index.search_index, query_string="*")
    assert isinstance(error, IndexNotReadyException)
    assert (error.error_type, error.http_status) == ("IndexNotReadyException", 400)
    env.advance(3.0)
    assert env.wire.describe_index(index_name="AWS_Things") == {
        "indexName": "AWS_Things",
        "indexStatus": "ACTIVE",
        "schema": "REGISTRY",
    }
    env.index.update_indexing_configuration(thing_indexing_configuration=ON_PACKAGE)
    assert env.wire.describe_index(index_name="AWS_Things")["indexStatus"] == "REBUILDING"
    assert env.search("attributes.model:pump") == ["t1"]  # a rebuilding index still answers
    env.advance(3.0)
    assert env.wire.describe_index(index_name="AWS_Things")["indexStatus"] == "ACTIVE"


def test_indexing_cannot_be_turned_off_while_dynamic_groups_exist() -> None:
    env = Env()
    env.index.create_dynamic_thing_group(thing_group_name="g", query_string="*")
    off = {"thingIndexingMode": "OFF"}
    error = error_of(env.index.update_indexing_configuration, thing_indexing_configuration=off)
    assert isinstance(error, InvalidRequestException)
    assert env.wire.describe_index(index_name="AWS_Things")["indexStatus"] == "ACTIVE"
    env.index.delete_dynamic_thing_group(thing_group_name="g")
    env.index.update_indexing_configuration(thing_indexing_configuration=off)
    assert isinstance(error_of(env.index.search_index, query_string="*"), ResourceNotFoundException)


# -- search --------------------------------------------------------------------------------------


def test_search_over_registry_fields() -> None:
    env = Env()
    env.thing("pump-1", "PumpSensor", model="Legacy", rating="77")
    env.thing("pump-2", model="new", rating="5")
    env.thing("valve-1", model="new", rating="100")
    env.registry.create_thing_group(thing_group_name="north")
    env.registry.add_thing_to_thing_group(thing_group_name="north", thing_name="pump-2")
    assert env.search("thingName:pump*") == ["pump-1", "pump-2"]
    assert env.search("thingTypeName:pumpsensor") == ["pump-1"]
    assert env.search("attributes.model:LEGACY") == ["pump-1"]
    assert env.search("attributes.rating>50") == ["pump-1", "valve-1"]
    assert env.search("attributes.rating:[5 TO 77}") == ["pump-2"]
    assert env.search("thingGroupNames:north") == ["pump-2"]
    assert env.search("NOT thingGroupNames:north AND attributes.model:new") == ["valve-1"]
    assert env.search("thingName:(pump\\-1 OR valve\\-1)") == ["pump-1", "valve-1"]
    assert env.search("new") == ["pump-2", "valve-1"]


def test_search_result_shape_includes_indexed_shadows() -> None:
    env = Env()
    env.thing("t1", "PumpSensor", model="pump")
    env.registry.create_thing_group(thing_group_name="north")
    env.registry.add_thing_to_thing_group(thing_group_name="north", thing_name="t1")
    env.shadow("t1", {"reported": {"battery": 75}, "desired": {"battery": 100}})
    env.package("t1", agent="1.0.0")
    env.shadow("t1", {"reported": {"secret": 1}}, "unindexed")
    [thing] = env.wire.search_index(query_string="thingName:t1")["things"]
    shadow = orjson.loads(thing.pop("shadow"))
    assert thing == {
        "thingName": "t1",
        "thingId": env.registry.things["t1"].thing_id,
        "thingTypeName": "PumpSensor",
        "thingGroupNames": ["north"],
        "attributes": {"model": "pump"},
    }
    assert shadow == {
        "reported": {"battery": 75},
        "desired": {"battery": 100},
        "delta": {"battery": 100},
        "hasDelta": True,
        "name": {"$package": {"reported": {"agent": {"version": "1.0.0"}}, "hasDelta": False}},
    }
    assert env.search("shadow.hasDelta:true AND shadow.delta.battery:100") == ["t1"]
    assert env.search("shadow.name.unindexed.reported.secret:1") == []


@pytest.mark.parametrize(
    ("config", "classic", "package"),
    [
        ({"thingIndexingMode": "REGISTRY"}, False, False),
        ({"thingIndexingMode": "REGISTRY_AND_SHADOW"}, True, False),
        ({**ON_PACKAGE, "namedShadowIndexingMode": "OFF"}, True, False),
        ({**ON_PACKAGE, "filter": {"namedShadowNames": ["other"]}}, True, False),
        ({**ON_PACKAGE, "thingIndexingMode": "REGISTRY"}, False, False),
        (ON_PACKAGE, True, True),
    ],
)
def test_which_shadows_are_indexed(config: dict[str, Any], classic: bool, package: bool) -> None:
    env = Env(configure=False)
    env.thing("t1")
    env.shadow("t1", {"reported": {"fw": "2"}})
    env.package("t1", agent="1.0.0")
    env.index.update_indexing_configuration(thing_indexing_configuration=config)
    assert env.search("shadow.reported.fw:2") == (["t1"] if classic else [])
    assert env.search(f"{PKG}.agent.version:1.0.0") == (["t1"] if package else [])
    [thing] = env.wire.search_index(query_string="*")["things"]
    assert ("shadow" in thing) is classic


def test_search_follows_shadow_and_registry_changes_at_once() -> None:
    env = Env()
    env.thing("t1", model="a")
    env.package("t1", **{"telemetry-agent": "1.0.0"})
    assert env.search(f"{PKG}.telemetry\\-agent.version:1.0.0") == ["t1"]
    env.shadows.merge_package_versions("t1", {"telemetry-agent": "1.1.0"})  # the Jobs path
    assert env.search(f"{PKG}.telemetry\\-agent.version:1.0.0") == []
    assert env.search(f"{PKG}.telemetry\\-agent.version:1.1.*") == ["t1"]
    env.shadows.merge_package_versions("t1", {"telemetry-agent": None})
    assert env.search(f"{PKG}.telemetry\\-agent.version:*") == []
    env.registry.update_thing(thing_name="t1", attribute_payload={"attributes": {"model": "b"}})
    assert env.search("attributes.model:b") == ["t1"]
    env.registry.delete_thing(thing_name="t1")
    assert env.search("*") == []


def test_package_attributes_allow_ranges() -> None:
    env = Env()
    for name, pid in (("t1", "1600"), ("t2", "900")):
        env.thing(name)
        entry = {"version": "1.0", "attributes": {"packageID": pid}}
        env.shadow(name, {"reported": {"agent": entry}}, "$package")
    assert env.search(f"{PKG}.*.attributes.packageID>1500") == ["t1"]
    assert env.search(f"{PKG}.agent.attributes.packageID:[800 TO 1000]") == ["t2"]
    error = error_of(env.index.search_index, query_string=f"{PKG}.agent.version>1.0")
    assert isinstance(error, InvalidQueryException)
    assert error.http_status == 400


def test_search_paging() -> None:
    env = Env()
    for i in range(5):
        env.thing(f"t{i}")
    first = env.wire.search_index(query_string="thingName:t*", max_results=2)
    assert [t["thingName"] for t in first["things"]] == ["t0", "t1"]
    second = env.wire.search_index(
        query_string="thingName:t*", max_results=2, next_token=first["nextToken"]
    )
    third = env.wire.search_index(
        query_string="thingName:t*", max_results=2, next_token=second["nextToken"]
    )
    assert [t["thingName"] for t in second["things"] + third["things"]] == ["t2", "t3", "t4"]
    assert "nextToken" not in third
    for bad in ({"max_results": 101}, {"max_results": 0}, {"next_token": "garbage"}):
        error = error_of(env.index.search_index, query_string="*", **bad)
        assert isinstance(error, InvalidRequestException)


@pytest.mark.parametrize(
    ("kwargs", "error_type"),
    [
        ({"query_string": "thingName:"}, InvalidQueryException),
        ({"query_string": "a b c d e f g h i j k l m"}, InvalidQueryException),  # 13 > 12 terms
        ({"query_string": "*", "index_name": "Other"}, ResourceNotFoundException),
        ({"query_string": "*", "query_version": "2020-01-01"}, InvalidRequestException),
    ],
)
def test_search_errors(kwargs: dict[str, Any], error_type: type[AwsError]) -> None:
    env = Env()
    assert type(error_of(env.index.search_index, **kwargs)) is error_type


def test_term_limit_is_an_option() -> None:
    env = Env(IndexOptions(syntax=QuerySyntax(max_terms=12)))
    env.thing("a")
    assert env.search("a b c d e f g h OR a") == ["a"]


# -- dynamic groups ------------------------------------------------------------------------------


def test_dynamic_group_builds_then_follows_shadow_updates() -> None:
    env = Env()
    for name in ("t1", "t2", "t3"):
        env.thing(name)
    env.package("t1", agent="1.0.0")
    env.package("t2", agent="1.0.0", other="3")
    env.package("t3", agent="0.9.0")
    env.events.clear()
    created = env.wire.create_dynamic_thing_group(
        thing_group_name="on-1_0",
        thing_group_properties={"thingGroupDescription": "agent 1.0.0"},
        query_string=f"{PKG}.agent.version:1.0.0",
    )
    group = env.registry.groups["on-1_0"]
    assert created == {
        "thingGroupName": "on-1_0",
        "thingGroupArn": group.arn,
        "thingGroupId": group.group_id,
        "indexName": "AWS_Things",
        "queryString": f"{PKG}.agent.version:1.0.0",
        "queryVersion": "2017-09-30",
    }
    described = describe_thing_group(env.registry.describe_thing_group(thing_group_name="on-1_0"))
    assert described["status"] == "BUILDING"
    assert described["thingGroupProperties"]["thingGroupDescription"] == "agent 1.0.0"
    assert env.members("on-1_0") == []
    env.advance(4.9)
    assert env.status("on-1_0") == "BUILDING"
    assert env.membership("on-1_0") == []
    env.advance(0.1)
    assert env.status("on-1_0") == "ACTIVE"
    assert env.members("on-1_0") == ["t1", "t2"]
    assert env.membership("on-1_0") == [("joined", "t1"), ("joined", "t2")]

    env.package("t3", agent="1.0.0")
    assert env.membership("on-1_0") == []  # eventually consistent: not inside the update
    env.advance()
    assert env.membership("on-1_0") == [("joined", "t3")]
    env.shadows.merge_package_versions("t1", {"agent": "1.1.0"})
    env.package("t2", other="4")  # still matches: no event
    env.advance()
    assert env.membership("on-1_0") == [("left", "t1")]
    assert env.members("on-1_0") == ["t2", "t3"]


def test_dynamic_group_follows_registry_changes() -> None:
    env = Env()
    env.registry.create_thing_group(thing_group_name="north")
    env.thing("t1", model="pump")
    env.index.create_dynamic_thing_group(
        thing_group_name="north-pumps", query_string="attributes.model:pump thingGroupNames:north"
    )
    env.advance(5.0)
    assert env.members("north-pumps") == []
    env.registry.add_thing_to_thing_group(thing_group_name="north", thing_name="t1")
    env.advance()
    assert env.members("north-pumps") == ["t1"]
    env.registry.update_thing(thing_name="t1", attribute_payload={"attributes": {"model": "x"}})
    env.advance()
    assert env.members("north-pumps") == []
    env.registry.update_thing(thing_name="t1", attribute_payload={"attributes": {"model": "pump"}})
    env.advance()
    assert env.members("north-pumps") == ["t1"]
    env.registry.remove_thing_from_thing_group(thing_group_name="north", thing_name="t1")
    env.advance()
    assert env.members("north-pumps") == []
    env.thing("t2", model="pump")
    env.registry.add_thing_to_thing_group(thing_group_name="north", thing_name="t2")
    env.advance()
    assert env.members("north-pumps") == ["t2"]
    env.events.clear()
    env.registry.delete_thing(thing_name="t2")
    env.advance()
    assert env.members("north-pumps") == []
    assert ("left", "t2") in env.membership("north-pumps")
    assert "t2" not in env.registry.things


def test_configuration_changes_reevaluate_membership() -> None:
    env = Env(configure=False)
    env.index.update_indexing_configuration(
        thing_indexing_configuration={"thingIndexingMode": "REGISTRY_AND_SHADOW"}
    )
    env.thing("t1")
    env.package("t1", agent="1.0.0")
    env.index.create_dynamic_thing_group(
        thing_group_name="g", query_string=f"{PKG}.agent.version:1.0.0"
    )
    env.advance(5.0)
    assert env.members("g") == []  # $package is not indexed yet
    env.index.update_indexing_configuration(thing_indexing_configuration=ON_PACKAGE)
    env.advance()
    assert env.members("g") == ["t1"]


def test_update_dynamic_group_rebuilds() -> None:
    env = Env()
    for name, version in (("t1", "1.0.0"), ("t2", "2.0.0")):
        env.thing(name)
        env.package(name, agent=version)
    env.index.create_dynamic_thing_group(
        thing_group_name="g", query_string=f"{PKG}.agent.version:1*"
    )
    env.advance(5.0)
    assert env.members("g") == ["t1"]
    error = error_of(
        env.index.update_dynamic_thing_group,
        thing_group_name="g",
        thing_group_properties={},
        expected_version=7,
    )
    assert isinstance(error, VersionConflictException)
    error = error_of(
        env.index.update_dynamic_thing_group,
        thing_group_name="g",
        thing_group_properties={},
        query_string="thingName:*x OR thingName:*y",  # one leading wildcard per query
    )
    assert isinstance(error, InvalidQueryException)
    assert env.registry.groups["g"].version == 1
    assert env.status("g") == "ACTIVE"

    result = env.wire.update_dynamic_thing_group(
        thing_group_name="g",
        thing_group_properties={"attributePayload": {"attributes": {"team": "a"}}},
        expected_version=1,
        query_string=f"{PKG}.agent.version:2*",
    )
    assert result == {"version": 2}
    described = describe_thing_group(env.registry.describe_thing_group(thing_group_name="g"))
    assert described["status"] == "REBUILDING"
    assert described["queryString"] == f"{PKG}.agent.version:2*"
    assert described["thingGroupProperties"]["attributePayload"]["attributes"] == {"team": "a"}
    assert env.members("g") == ["t1"]  # the old membership stands until the rebuild
    env.advance(5.0)
    assert env.status("g") == "ACTIVE"
    assert env.members("g") == ["t2"]
    # Properties alone do not rebuild.
    env.index.update_dynamic_thing_group(
        thing_group_name="g", thing_group_properties={"thingGroupDescription": "d"}
    )
    assert env.status("g") == "ACTIVE"


def test_update_and_delete_refuse_static_and_unknown_groups() -> None:
    env = Env()
    env.registry.create_thing_group(thing_group_name="static")
    for fn, kw in (
        (env.index.update_dynamic_thing_group, {"thing_group_properties": {}}),
        (env.index.delete_dynamic_thing_group, {}),
    ):
        assert isinstance(error_of(fn, thing_group_name="static", **kw), InvalidRequestException)
    error = error_of(
        env.index.update_dynamic_thing_group, thing_group_name="nope", thing_group_properties={}
    )
    assert isinstance(error, ResourceNotFoundException)
    assert env.wire.delete_dynamic_thing_group(thing_group_name="nope") == {}


def test_delete_dynamic_group() -> None:
    env = Env()
    env.thing("t1")
    env.thing("t2")
    env.index.create_dynamic_thing_group(thing_group_name="g", query_string="*")
    env.advance(5.0)
    env.events.clear()
    error = error_of(env.index.delete_dynamic_thing_group, thing_group_name="g", expected_version=2)
    assert isinstance(error, VersionConflictException)
    assert env.members("g") == ["t1", "t2"]
    assert env.wire.delete_dynamic_thing_group(thing_group_name="g", expected_version=1) == {}
    assert env.membership("g") == [("left", "t1"), ("left", "t2")]
    assert "g" not in env.registry.groups
    assert env.registry.things["t1"].groups == ()
    env.advance(10.0)  # nothing scheduled for the deleted group fires or fails


def test_delete_while_building_cancels_the_build() -> None:
    env = Env()
    env.thing("t1")
    env.index.create_dynamic_thing_group(thing_group_name="g", query_string="*")
    env.index.delete_dynamic_thing_group(thing_group_name="g")
    env.index.create_dynamic_thing_group(thing_group_name="g", query_string="thingName:none")
    env.advance(5.0)
    assert env.members("g") == []


def test_create_errors_leave_no_group() -> None:
    env = Env(IndexOptions(max_dynamic_groups=1))
    cases: list[tuple[dict[str, Any], type[AwsError]]] = [
        ({"query_string": "thingName:*x OR thingName:*y"}, InvalidQueryException),
        ({"query_string": f"{PKG}.agent.version:[1 TO 2]"}, InvalidQueryException),
        ({"query_string": "*", "index_name": "AWS_ThingGroups"}, ResourceNotFoundException),
        ({"query_string": "*", "query_version": "2099-01-01"}, InvalidRequestException),
        (
            {"query_string": "*", "thing_group_properties": {"attributePayload": []}},
            InvalidRequestException,
        ),
    ]
    for kwargs, error_type in cases:
        error = error_of(env.index.create_dynamic_thing_group, thing_group_name="g", **kwargs)
        assert type(error) is error_type, kwargs
        assert "g" not in env.registry.groups
    bad_name = error_of(
        env.index.create_dynamic_thing_group, thing_group_name="a b", query_string="*"
    )
    assert isinstance(bad_name, InvalidRequestException)
    env.index.create_dynamic_thing_group(thing_group_name="g", query_string="*")
    again = error_of(env.index.create_dynamic_thing_group, thing_group_name="g", query_string="*")
    assert isinstance(again, ResourceAlreadyExistsException)
    limit = error_of(env.index.create_dynamic_thing_group, thing_group_name="h", query_string="*")
    assert isinstance(limit, LimitExceededException)
    off = Env(configure=False)
    error = error_of(off.index.create_dynamic_thing_group, thing_group_name="g", query_string="*")
    assert isinstance(error, ResourceNotFoundException)


def test_membership_limit_older_dynamic_groups_win() -> None:
    env = Env()
    env.thing("t1")
    statics = [f"s{i}" for i in range(MAX_GROUPS_PER_THING - 1)]
    for name in statics:
        env.registry.create_thing_group(thing_group_name=name)
        env.registry.add_thing_to_thing_group(thing_group_name=name, thing_name="t1")
    # Created first (older), but t1 does not match it yet.
    env.index.create_dynamic_thing_group(thing_group_name="old", query_string="attributes.k:v")
    env.index.create_dynamic_thing_group(thing_group_name="new", query_string="thingName:t1")
    env.advance(5.0)
    assert env.members("new") == ["t1"]
    assert len(env.registry.things["t1"].groups) == MAX_GROUPS_PER_THING
    assert env.index.metrics() == {"AddThingToDynamicThingGroupsFailed": 0}

    # t1 now matches the older group too: the older one wins the last slot.
    env.registry.update_thing(thing_name="t1", attribute_payload={"attributes": {"k": "v"}})
    env.advance()
    assert env.members("old") == ["t1"]
    assert env.members("new") == []
    assert env.index.metrics() == {"AddThingToDynamicThingGroupsFailed": 1}
    env.package("t1", agent="1")  # re-evaluated, still refused: not counted twice
    env.advance()
    assert env.members("new") == []
    assert env.index.metrics() == {"AddThingToDynamicThingGroupsFailed": 1}

    # A newer group cannot take a slot from anyone.
    env.index.create_dynamic_thing_group(thing_group_name="newest", query_string="*")
    env.advance(5.0)
    assert env.members("newest") == []
    assert env.index.metrics() == {"AddThingToDynamicThingGroupsFailed": 2}

    # A freed slot goes to the oldest waiting group.
    env.registry.remove_thing_from_thing_group(thing_group_name="s0", thing_name="t1")
    env.advance()
    assert env.members("new") == ["t1"]
    assert env.members("newest") == []
    assert len(env.registry.things["t1"].groups) == MAX_GROUPS_PER_THING

    # Deleting a dynamic group frees a slot for the next waiting one.
    env.index.delete_dynamic_thing_group(thing_group_name="old")
    env.advance()
    assert env.members("newest") == ["t1"]


def test_a_rebuild_that_frees_a_slot_admits_a_waiting_group() -> None:
    env = Env()
    env.thing("t1", k="v")
    for i in range(MAX_GROUPS_PER_THING - 2):
        env.registry.create_thing_group(thing_group_name=f"s{i}")
        env.registry.add_thing_to_thing_group(thing_group_name=f"s{i}", thing_name="t1")
    env.index.create_dynamic_thing_group(thing_group_name="a", query_string="attributes.k:v")
    env.index.create_dynamic_thing_group(thing_group_name="b", query_string="*")
    env.index.create_dynamic_thing_group(thing_group_name="c", query_string="*")
    env.advance(5.0)
    assert (env.members("a"), env.members("b"), env.members("c")) == (["t1"], ["t1"], [])
    env.index.update_dynamic_thing_group(
        thing_group_name="a", thing_group_properties={}, query_string="attributes.k:w"
    )
    env.advance(5.0)
    assert (env.members("a"), env.members("b"), env.members("c")) == ([], ["t1"], ["t1"])


def test_static_group_with_override_evicts_the_newest_dynamic_group() -> None:
    env = Env()
    env.thing("t1")
    for i in range(MAX_GROUPS_PER_THING - 2):
        env.registry.create_thing_group(thing_group_name=f"s{i}")
        env.registry.add_thing_to_thing_group(thing_group_name=f"s{i}", thing_name="t1")
    env.index.create_dynamic_thing_group(thing_group_name="d1", query_string="*")
    env.index.create_dynamic_thing_group(thing_group_name="d2", query_string="*")
    env.advance(5.0)
    env.registry.create_thing_group(thing_group_name="extra")
    env.registry.add_thing_to_thing_group(
        thing_group_name="extra", thing_name="t1", override_dynamic_groups=True
    )
    env.advance()
    assert env.members("d1") == ["t1"]
    assert env.members("d2") == []
    assert env.index.metrics() == {"AddThingToDynamicThingGroupsFailed": 1}


def test_update_delay_defers_membership() -> None:
    env = Env(IndexOptions(build_delay_s=1.0, update_delay_s=2.0))
    env.thing("t1")
    env.index.create_dynamic_thing_group(thing_group_name="g", query_string="attributes.k:v")
    env.advance(1.0)
    env.registry.update_thing(thing_name="t1", attribute_payload={"attributes": {"k": "v"}})
    env.advance(1.9)
    assert env.members("g") == []
    env.advance(0.1)
    assert env.members("g") == ["t1"]


# -- the build-status machine --------------------------------------------------------------------


def test_transition_table_is_walked() -> None:
    statuses: list[BuildStatus | None] = [None, *BuildStatus]
    for status, change in itertools.product(statuses, Change):
        assert advance(status, change) == TRANSITIONS.get((status, change))
    # Every status is reachable and every non-None status can reach ACTIVE.
    assert {TRANSITIONS[k] for k in TRANSITIONS} == set(BuildStatus)
    for status in BuildStatus:
        assert advance(status, Change.BUILT) in (BuildStatus.ACTIVE, None)
    assert advance(BuildStatus.ACTIVE, Change.BUILT) is None  # a stale timer is a no-op
    assert advance(BuildStatus.ACTIVE, Change.CREATE) is None
