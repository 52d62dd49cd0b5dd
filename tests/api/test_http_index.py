"""Fleet indexing and dynamic thing groups over HTTP (builds run on the server loop)."""

from __future__ import annotations

import uuid
from typing import Any

from tests.api.conftest import aws_error, eventually


def _index_active(iot: Any) -> bool:
    try:
        return bool(iot.describe_index(indexName="AWS_Things")["indexStatus"] == "ACTIVE")
    except iot.exceptions.ResourceNotFoundException:
        return False


def test_search_and_dynamic_groups(iot: Any) -> None:
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY"})
    config = iot.get_indexing_configuration()["thingIndexingConfiguration"]
    assert config["thingIndexingMode"] == "REGISTRY"
    assert eventually(lambda: _index_active(iot))

    site = f"site{uuid.uuid4().hex[:8]}"
    thing = f"dev-{uuid.uuid4().hex[:8]}"
    iot.create_thing(thingName=thing, attributePayload={"attributes": {"site": site}})
    found = iot.search_index(queryString=f"attributes.site:{site}")["things"]
    assert [t["thingName"] for t in found] == [thing]

    group = f"dyn-{uuid.uuid4().hex[:8]}"
    created = iot.create_dynamic_thing_group(
        thingGroupName=group, queryString=f"attributes.site:{site}"
    )
    assert created["queryString"] == f"attributes.site:{site}"
    assert eventually(
        lambda: iot.list_things_in_thing_group(thingGroupName=group)["things"] == [thing]
    )
    assert iot.describe_thing_group(thingGroupName=group)["queryString"] == (
        f"attributes.site:{site}"
    )
    # Dynamic groups are deleted with their own operation only.
    code, status, _ = aws_error(iot.delete_thing_group, thingGroupName=group)
    assert (code, status) == ("InvalidRequestException", 400)
    iot.delete_dynamic_thing_group(thingGroupName=group)
    code, status, _ = aws_error(iot.describe_thing_group, thingGroupName=group)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_bad_query_and_unknown_index(iot: Any) -> None:
    iot.update_indexing_configuration(thingIndexingConfiguration={"thingIndexingMode": "REGISTRY"})
    assert eventually(lambda: _index_active(iot))
    code, status, _ = aws_error(iot.search_index, queryString="attributes.site:(")
    assert (code, status) == ("InvalidQueryException", 400)
    code, status, _ = aws_error(iot.describe_index, indexName="NoSuchIndex")
    assert (code, status) == ("ResourceNotFoundException", 404)
