"""Wire shapes of the thing registry (``iot``): things, thing types, thing groups, membership.

Timestamps are float epoch seconds. Optional members the registry does not hold are left out,
as AWS leaves unset members out.
"""

from __future__ import annotations

from typing import Any

from simulator.services.registry.model import Group, Thing, ThingType
from simulator.services.registry.results import (
    GroupDescription,
    GroupPage,
    GroupVersion,
    NamePage,
    ThingPage,
)

__all__ = [
    "create_thing",
    "create_thing_group",
    "create_thing_type",
    "describe_thing",
    "describe_thing_group",
    "describe_thing_type",
    "group_version",
    "list_thing_groups",
    "list_things",
    "list_things_in_thing_group",
]


def _paged(out: dict[str, Any], token: str | None, key: str = "nextToken") -> dict[str, Any]:
    if token:
        out[key] = token
    return out


# -- things ----------------------------------------------------------------------------------


def create_thing(thing: Thing) -> dict[str, Any]:
    """CreateThing."""
    return {"thingName": thing.name, "thingArn": thing.arn, "thingId": thing.thing_id}


def describe_thing(thing: Thing) -> dict[str, Any]:
    """DescribeThing."""
    out: dict[str, Any] = {
        "defaultClientId": thing.name,
        "thingName": thing.name,
        "thingId": thing.thing_id,
        "thingArn": thing.arn,
        "attributes": dict(thing.attributes),
        "version": thing.version,
    }
    if thing.thing_type:
        out["thingTypeName"] = thing.thing_type
    return out


def _thing_summary(thing: Thing) -> dict[str, Any]:
    out: dict[str, Any] = {
        "thingName": thing.name,
        "thingArn": thing.arn,
        "attributes": dict(thing.attributes),
        "version": thing.version,
    }
    if thing.thing_type:
        out["thingTypeName"] = thing.thing_type
    return out


def list_things(result: ThingPage) -> dict[str, Any]:
    """ListThings."""
    return _paged({"things": [_thing_summary(t) for t in result.things]}, result.next_token)


# -- thing types -----------------------------------------------------------------------------


def create_thing_type(thing_type: ThingType) -> dict[str, Any]:
    """CreateThingType."""
    return {
        "thingTypeName": thing_type.name,
        "thingTypeArn": thing_type.arn,
        "thingTypeId": thing_type.type_id,
    }


def describe_thing_type(thing_type: ThingType) -> dict[str, Any]:
    """DescribeThingType."""
    props = thing_type.properties
    properties: dict[str, Any] = {}
    if props.description is not None:
        properties["thingTypeDescription"] = props.description
    if props.searchable_attributes is not None:
        properties["searchableAttributes"] = list(props.searchable_attributes)
    if props.propagating_attributes is not None:
        properties["mqtt5Configuration"] = {
            "propagatingAttributes": [
                {
                    k: v
                    for k, v in (
                        ("userPropertyKey", a.user_property_key),
                        ("thingAttribute", a.thing_attribute),
                        ("connectionAttribute", a.connection_attribute),
                    )
                    if v is not None
                }
                for a in props.propagating_attributes
            ]
        }
    return {
        "thingTypeName": thing_type.name,
        "thingTypeId": thing_type.type_id,
        "thingTypeArn": thing_type.arn,
        "thingTypeProperties": properties,
        "thingTypeMetadata": {
            "deprecated": thing_type.deprecated,
            "creationDate": thing_type.created,
        },
    }


# -- thing groups ----------------------------------------------------------------------------


def create_thing_group(group: Group) -> dict[str, Any]:
    """CreateThingGroup (and, with the query members, CreateDynamicThingGroup's core)."""
    return {
        "thingGroupName": group.name,
        "thingGroupArn": group.arn,
        "thingGroupId": group.group_id,
    }


def describe_thing_group(result: GroupDescription) -> dict[str, Any]:
    """DescribeThingGroup: static and dynamic groups alike, the latter with their query."""
    group = result.group
    props: dict[str, Any] = {"attributePayload": {"attributes": dict(group.attributes)}}
    if group.description is not None:
        props["thingGroupDescription"] = group.description
    metadata: dict[str, Any] = {"creationDate": group.created}
    if group.parent is not None:
        metadata["parentGroupName"] = group.parent
        metadata["rootToParentThingGroups"] = [
            {"groupName": g.name, "groupArn": g.arn} for g in result.ancestors
        ]
    out: dict[str, Any] = {
        "thingGroupName": group.name,
        "thingGroupId": group.group_id,
        "thingGroupArn": group.arn,
        "version": group.version,
        "thingGroupProperties": props,
        "thingGroupMetadata": metadata,
    }
    if group.dynamic:
        out |= {
            "indexName": group.index_name,
            "queryString": group.query,
            "queryVersion": group.query_version,
            "status": group.status,
        }
    return out


def group_version(result: GroupVersion) -> dict[str, Any]:
    """UpdateThingGroup."""
    return {"version": result.version}


def list_thing_groups(result: GroupPage) -> dict[str, Any]:
    """ListThingGroups, ListThingGroupsForThing."""
    groups = [{"groupName": g.name, "groupArn": g.arn} for g in result.groups]
    return _paged({"thingGroups": groups}, result.next_token)


def list_things_in_thing_group(result: NamePage) -> dict[str, Any]:
    """ListThingsInThingGroup."""
    return _paged({"things": list(result.names)}, result.next_token)
