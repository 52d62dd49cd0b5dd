"""The thing registry over HTTP: boto3 against a real ``fleetsim serve``."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.api.conftest import aws_error


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_thing_lifecycle(iot: Any) -> None:
    thing = _name("dev")
    created = iot.create_thing(thingName=thing, attributePayload={"attributes": {"fw": "1.0"}})
    assert created["thingArn"] == f"arn:aws:iot:us-east-1:123456789012:thing/{thing}"
    assert created["thingId"]

    described = iot.describe_thing(thingName=thing)
    assert described["attributes"] == {"fw": "1.0"}
    assert described["version"] == 1

    iot.update_thing(
        thingName=thing, attributePayload={"attributes": {"fw": "2.0"}}, expectedVersion=1
    )
    assert iot.describe_thing(thingName=thing)["attributes"] == {"fw": "2.0"}

    code, status, _ = aws_error(
        iot.update_thing, thingName=thing, attributePayload={"attributes": {}}, expectedVersion=1
    )
    assert (code, status) == ("VersionConflictException", 409)

    found = iot.list_things(attributeName="fw", attributeValue="2.0")["things"]
    assert thing in {t["thingName"] for t in found}

    iot.delete_thing(thingName=thing)
    code, status, _ = aws_error(iot.describe_thing, thingName=thing)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_create_thing_twice_with_other_attributes(iot: Any) -> None:
    thing = _name("dev")
    first = iot.create_thing(thingName=thing)
    assert iot.create_thing(thingName=thing)["thingId"] == first["thingId"]  # idempotent
    code, status, response = aws_error(
        iot.create_thing, thingName=thing, attributePayload={"attributes": {"a": "b"}}
    )
    assert (code, status) == ("ResourceAlreadyExistsException", 409)
    assert response["resourceId"] == first["thingId"]
    assert response["resourceArn"] == first["thingArn"]


@pytest.mark.parametrize(
    ("kwargs", "fragment"),
    [
        ({"thingName": "has space"}, "at 'thingName'"),
        ({"thingName": "t" * 129}, "have length less than or equal to 128"),
        (
            {"thingName": "ok", "attributePayload": {"attributes": {"k": "bad value!"}}},
            "at 'attributePayload.attributes.k.value'",
        ),
    ],
)
def test_create_thing_validation(iot: Any, kwargs: dict[str, Any], fragment: str) -> None:
    code, status, response = aws_error(iot.create_thing, **kwargs)
    assert (code, status) == ("InvalidRequestException", 400)
    assert fragment in response["Error"]["Message"]


def test_list_things_enforces_max_results(iot: Any) -> None:
    code, status, _ = aws_error(iot.list_things, maxResults=251)
    assert (code, status) == ("InvalidRequestException", 400)


def test_thing_types(iot: Any) -> None:
    kind = _name("type")
    created = iot.create_thing_type(
        thingTypeName=kind, thingTypeProperties={"thingTypeDescription": "sensors"}
    )
    assert created["thingTypeArn"].endswith(f":thingtype/{kind}")
    described = iot.describe_thing_type(thingTypeName=kind)
    assert described["thingTypeProperties"] == {"thingTypeDescription": "sensors"}
    assert described["thingTypeMetadata"]["deprecated"] is False
    thing = _name("dev")
    iot.create_thing(thingName=thing, thingTypeName=kind)
    assert iot.describe_thing(thingName=thing)["thingTypeName"] == kind
    code, status, _ = aws_error(iot.describe_thing_type, thingTypeName=_name("none"))
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_groups_and_membership(iot: Any) -> None:
    parent, child, thing = _name("parent"), _name("child"), _name("dev")
    iot.create_thing_group(thingGroupName=parent)
    iot.create_thing_group(
        thingGroupName=child,
        parentGroupName=parent,
        thingGroupProperties={"thingGroupDescription": "the child"},
    )
    iot.create_thing(thingName=thing)

    described = iot.describe_thing_group(thingGroupName=child)
    assert described["thingGroupMetadata"]["parentGroupName"] == parent
    assert described["thingGroupProperties"]["thingGroupDescription"] == "the child"

    updated = iot.update_thing_group(
        thingGroupName=child,
        thingGroupProperties={"attributePayload": {"attributes": {"site": "lab"}}},
        expectedVersion=described["version"],
    )
    assert updated["version"] == described["version"] + 1

    iot.add_thing_to_thing_group(thingGroupName=child, thingName=thing)
    assert iot.list_things_in_thing_group(thingGroupName=child)["things"] == [thing]
    assert iot.list_things_in_thing_group(thingGroupName=parent, recursive=True)["things"] == [
        thing
    ]
    groups = iot.list_thing_groups_for_thing(thingName=thing)["thingGroups"]
    assert [g["groupName"] for g in groups] == [child]
    children = iot.list_thing_groups(parentGroup=parent)["thingGroups"]
    assert [g["groupName"] for g in children] == [child]

    # A parent with children cannot be deleted.
    code, status, _ = aws_error(iot.delete_thing_group, thingGroupName=parent)
    assert (code, status) == ("InvalidRequestException", 400)

    iot.remove_thing_from_thing_group(thingGroupName=child, thingName=thing)
    assert iot.list_things_in_thing_group(thingGroupName=child)["things"] == []
    iot.delete_thing_group(thingGroupName=child)
    iot.delete_thing_group(thingGroupName=parent)
    code, status, _ = aws_error(iot.describe_thing_group, thingGroupName=parent)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_add_to_missing_group(iot: Any) -> None:
    thing = _name("dev")
    iot.create_thing(thingName=thing)
    code, status, _ = aws_error(
        iot.add_thing_to_thing_group, thingGroupName=_name("nogroup"), thingName=thing
    )
    assert (code, status) == ("ResourceNotFoundException", 404)
