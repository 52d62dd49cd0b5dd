"""TagResource, UntagResource, ListTagsForResource: boto3 against a real ``fleetsim serve``.

Taggable: thing groups, thing types, jobs, job templates, policies, packages and versions.
Not taggable (as in AWS): things and certificates.
"""

from __future__ import annotations

import uuid
from typing import Any

import orjson
import pytest

from tests.api.conftest import aws_error

PREFIX = "arn:aws:iot:us-east-1:123456789012"
POLICY = orjson.dumps(
    {"Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}]}
).decode()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def _tags(iot: Any, arn: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in iot.list_tags_for_resource(resourceArn=arn)["tags"]}


def test_thing_group_tags_follow_the_group(iot: Any) -> None:
    group = _name("grp")
    arn = iot.create_thing_group(thingGroupName=group, tags=[{"Key": "env", "Value": "staging"}])[
        "thingGroupArn"
    ]
    assert _tags(iot, arn) == {"env": "staging"}
    iot.tag_resource(resourceArn=arn, tags=[{"Key": "owner", "Value": "ops"}])
    iot.tag_resource(resourceArn=arn, tags=[{"Key": "env", "Value": "prod"}])
    assert _tags(iot, arn) == {"env": "prod", "owner": "ops"}
    iot.untag_resource(resourceArn=arn, tagKeys=["env", "absent"])
    assert _tags(iot, arn) == {"owner": "ops"}
    iot.delete_thing_group(thingGroupName=group)
    code, status, _ = aws_error(iot.list_tags_for_resource, resourceArn=arn)
    assert (code, status) == ("ResourceNotFoundException", 404)
    iot.create_thing_group(thingGroupName=group)  # a new group: none of the old tags
    assert _tags(iot, arn) == {}


def test_policy_job_template_type_and_package_tags(iot: Any) -> None:
    policy = _name("pol")
    policy_arn = iot.create_policy(
        policyName=policy, policyDocument=POLICY, tags=[{"Key": "a", "Value": "1"}]
    )["policyArn"]
    thing = _name("dev")
    thing_arn = iot.create_thing(thingName=thing)["thingArn"]
    job = _name("job")
    job_arn = iot.create_job(
        jobId=job, targets=[thing_arn], document="{}", tags=[{"Key": "b", "Value": "2"}]
    )["jobArn"]
    template = _name("tpl")
    template_arn = iot.create_job_template(
        jobTemplateId=template, description="d", document="{}", tags=[{"Key": "c", "Value": "3"}]
    )["jobTemplateArn"]
    thing_type = _name("type")
    type_arn = iot.create_thing_type(thingTypeName=thing_type)["thingTypeArn"]
    package = _name("pkg")
    package_arn = iot.create_package(packageName=package, tags={"d": "4"})["packageArn"]
    version_arn = iot.create_package_version(packageName=package, versionName="1.0")[
        "packageVersionArn"
    ]
    expected = {
        policy_arn: {"a": "1"},
        job_arn: {"b": "2"},
        template_arn: {"c": "3"},
        type_arn: {},
        package_arn: {"d": "4"},
        version_arn: {},
    }
    for arn, tags in expected.items():
        assert _tags(iot, arn) == tags, arn
        iot.tag_resource(resourceArn=arn, tags=[{"Key": "x", "Value": "y"}])
        assert _tags(iot, arn) == tags | {"x": "y"}, arn
        iot.untag_resource(resourceArn=arn, tagKeys=["x"])
        assert _tags(iot, arn) == tags, arn


def test_things_and_certificates_cannot_be_tagged(iot: Any) -> None:
    thing_arn = iot.create_thing(thingName=_name("dev"))["thingArn"]
    cert_arn = iot.create_keys_and_certificate()["certificateArn"]
    for arn in (thing_arn, cert_arn):
        code, status, response = aws_error(
            iot.tag_resource, resourceArn=arn, tags=[{"Key": "k", "Value": "v"}]
        )
        assert (code, status) == ("InvalidRequestException", 400)
        assert "cannot be tagged" in response["Error"]["Message"]
        code, status, _ = aws_error(iot.list_tags_for_resource, resourceArn=arn)
        assert (code, status) == ("InvalidRequestException", 400)


@pytest.mark.parametrize(
    ("arn", "expected"),
    [
        (f"{PREFIX}:thinggroup/never-created", ("ResourceNotFoundException", 404)),
        ("arn:aws:iot:eu-west-1:123456789012:policy/p", ("ResourceNotFoundException", 404)),
        (f"{PREFIX}:rule/not-emulated", ("ResourceNotFoundException", 404)),
        ("not-an-arn", ("InvalidRequestException", 400)),
        (f"{PREFIX}:spaceship/x", ("InvalidRequestException", 400)),
    ],
)
def test_unknown_resources(iot: Any, arn: str, expected: tuple[str, int]) -> None:
    code, status, _ = aws_error(iot.tag_resource, resourceArn=arn, tags=[{"Key": "k", "Value": ""}])
    assert (code, status) == expected


def test_tag_limits(iot: Any) -> None:
    arn = iot.create_thing_group(thingGroupName=_name("grp"))["thingGroupArn"]
    code, status, _ = aws_error(
        iot.tag_resource, resourceArn=arn, tags=[{"Key": "aws:owner", "Value": "me"}]
    )
    assert (code, status) == ("InvalidRequestException", 400)
    iot.tag_resource(resourceArn=arn, tags=[{"Key": f"k{i}", "Value": "v"} for i in range(50)])
    code, status, _ = aws_error(
        iot.tag_resource, resourceArn=arn, tags=[{"Key": "one-more", "Value": "v"}]
    )
    assert (code, status) == ("LimitExceededException", 410)
    iot.tag_resource(resourceArn=arn, tags=[{"Key": "k0", "Value": "changed"}])  # replaces
    assert _tags(iot, arn)["k0"] == "changed"
