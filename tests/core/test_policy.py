"""IoT policies: the evaluator, the pattern operations, and the ACL translation's soundness.

The properties state the translation's promise against the evaluator: on random policies and
topics, a Mosquitto with the translated lines (simulated here by an independent matcher with
Mosquitto's rules: deny lines first, wildcards never match a ``$`` topic) never allows what the
policy refuses. The broker itself is exercised in ``tests/broker/test_acl_policy.py``.
"""

from __future__ import annotations

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from simulator.commands.provision import device_policy
from simulator.core.policy import (
    Context,
    DeviceAcl,
    Neighbours,
    PolicyDocumentError,
    compile_rules,
    evaluate,
    parse_policy,
    reaches,
    translate,
)
from simulator.core.policy.patterns import (
    derive,
    filter_intersection,
    intersects,
    literal,
    matches,
)
from tests.hypothesis_profiles import examples

REGION, ACCOUNT = "us-east-1", "123456789012"
ARN = f"arn:aws:iot:{REGION}:{ACCOUNT}"
ME = "${iot:Connection.Thing.ThingName}"


def _ctx(thing: str = "a") -> Context:
    return Context(thing, thing, REGION, ACCOUNT)


def _policy(*statements: dict[str, object], name: str = "p") -> str:
    return orjson.dumps({"Version": "2012-10-17", "Statement": list(statements)}).decode()


def _allow(action: str | list[str], resource: str | list[str]) -> dict[str, object]:
    return {"Effect": "Allow", "Action": action, "Resource": resource}


def _deny(action: str | list[str], resource: str | list[str]) -> dict[str, object]:
    return {"Effect": "Deny", "Action": action, "Resource": resource}


CONNECT = _allow("iot:Connect", f"{ARN}:client/${{iot:ClientId}}")


def _acl(*statements: dict[str, object], thing: str = "a") -> DeviceAcl:
    return translate([parse_policy("p", _policy(*statements))], _ctx(thing))


# -- an independent model of Mosquitto 2.0's file ACL check -------------------------------------


def _mqtt_match(mqtt_filter: str, topic: str) -> bool:
    if topic.startswith("$") and not mqtt_filter.startswith("$"):
        return False
    f, t = mqtt_filter.split("/"), topic.split("/")
    for i, level in enumerate(f):
        if level == "#":
            return True
        if i >= len(t) or (level != "+" and level != t[i]):
            return False
    return len(f) == len(t)


def _mosquitto(acl: DeviceAcl, topic: str, access: str) -> bool:
    if any(_mqtt_match(f, topic) for f in acl.deny):
        return False
    lines = acl.publish if access == "write" else acl.receive
    return any(_mqtt_match(f, topic) for f in lines)


# -- examples ------------------------------------------------------------------------------------


def test_the_provisioned_least_privilege_policy_is_exact() -> None:
    acl = translate([parse_policy("dev", device_policy(REGION, ACCOUNT))], _ctx("car-1"))
    assert acl.connect and acl.notes == () and acl.deny == ()
    assert acl.publish == acl.receive == ("$aws/things/car-1/+/#",)
    assert acl.subscribe == ("$aws/things/car-1/#",)
    for topic in ("$aws/things/car-1/jobs/get", "$aws/things/car-1/shadow/name/x/update"):
        assert _mosquitto(acl, topic, "write") and _mosquitto(acl, topic, "read")
    for topic in ("$aws/things/car-2/jobs/get", "$aws/things/car-1", "car-1/x"):
        assert not _mosquitto(acl, topic, "write") and not _mosquitto(acl, topic, "read")


def test_explicit_deny_wins_and_is_written_as_deny_lines() -> None:
    acl = _acl(
        CONNECT,
        _allow(["iot:Publish", "iot:Receive"], f"{ARN}:topic/$aws/things/{ME}/*"),
        _allow("iot:Subscribe", f"{ARN}:topicfilter/$aws/things/{ME}/*"),
        _deny("iot:Publish", f"{ARN}:topic/$aws/things/{ME}/shadow/delete"),
    )
    assert acl.deny == ("$aws/things/a/shadow/delete",)
    assert not _mosquitto(acl, "$aws/things/a/shadow/delete", "write")
    assert _mosquitto(acl, "$aws/things/a/shadow/update", "write")
    assert any("also refuse iot:Receive" in n.text for n in acl.notes)


def test_a_deny_that_cannot_be_written_leaves_the_allow_out() -> None:
    acl = _acl(
        CONNECT,
        _allow("iot:Publish", f"{ARN}:topic/$aws/things/{ME}/*"),
        _deny("iot:Publish", f"{ARN}:topic/$aws/things/{ME}/shadow/del*"),
    )
    assert acl.publish == () and acl.deny == ()
    assert any("cannot be written exactly" in n.text for n in acl.notes)


def test_wildcards_inside_a_level_grant_nothing_and_are_noted() -> None:
    acl = _acl(CONNECT, _allow("iot:Publish", f"{ARN}:topic/$aws/things/dev-*/shadow/update"))
    assert acl.publish == ()
    assert any("inside a topic level" in n.text for n in acl.notes)


def test_mqtt_wildcards_are_literal_in_a_policy() -> None:
    acl = _acl(
        CONNECT,
        _allow("iot:Publish", f"{ARN}:topic/$aws/things/+/shadow/update"),
        _allow("iot:Receive", f"{ARN}:topic/$aws/things/a/#"),
        _allow("iot:Subscribe", f"{ARN}:topicfilter/$aws/things/a/#"),
    )
    assert acl.publish == () and acl.receive == ()  # no topic name contains + or #
    assert acl.subscribe == ("$aws/things/a/#",)  # a filter may: exactly that one


def test_no_connect_as_the_thing_means_no_topics() -> None:
    acl = _acl(
        _allow("iot:Connect", f"{ARN}:client/someone-else"),
        _allow("iot:*", f"{ARN}:topic/*"),
    )
    assert not acl.connect and acl.publish == acl.receive == ()


def test_variables_conditions_and_escapes() -> None:
    attr = "${iot:Connection.Thing.Attributes[site]}"
    acl = _acl(
        CONNECT,
        _allow("iot:Publish", [f"{ARN}:topic/x/{attr}", f"{ARN}:topic/lit/${{*}}"]),
        _deny("iot:Publish", f"{ARN}:topic/y/{attr}"),
        {**_allow("iot:Publish", f"{ARN}:topic/c"), "Condition": {"StringEquals": {"k": "v"}}},
        {
            **_allow("iot:Publish", f"{ARN}:topic/d"),
            "Condition": {"Bool": {"iot:Connection.Thing.IsAttached": "true"}},
        },
    )
    assert acl.publish == ("d", "lit/*")
    rules = compile_rules([parse_policy("p", _policy(_deny("iot:Publish", f"{ARN}:topic/{attr}")))],
                          _ctx())  # fmt: skip
    assert rules[0].pattern is not None and matches(rules[0].pattern, f"{ARN}:topic/anything")


@pytest.mark.parametrize(
    ("document", "fragment"),
    [
        ("{", "not valid JSON"),
        ("[]", "JSON object"),
        ('{"Statement": []}', "non-empty Statement"),
        ('{"Statement": [{"Effect": "Maybe", "Action": "a", "Resource": "r"}]}', "Effect"),
        ('{"Statement": [{"Effect": "Allow", "Action": [], "Resource": "r"}]}', "Action"),
        ('{"Statement": [{"Effect": "Allow", "Action": "a", "Resource": 3}]}', "Resource"),
        ('{"Statement": [{"Effect": "Allow", "NotAction": "a", "Resource": "r"}]}', "NotAction"),
    ],
)
def test_malformed_documents_are_clear_errors(document: str, fragment: str) -> None:
    with pytest.raises(PolicyDocumentError, match=fragment) as caught:
        parse_policy("bad", document)
    assert "policy bad" in caught.value.message


def test_a_broad_policy_reaches_other_things_and_a_least_privilege_one_does_not() -> None:
    things = Neighbours(frozenset({"a", "b", "c"}))
    broad = parse_policy("broad", _policy(CONNECT, _allow("iot:*", f"{ARN}:topic/$aws/things/*")))
    found = reaches(compile_rules([broad], _ctx()), _ctx(), things)
    assert [(r.verb, r.other) for r in found] == [("publish to", "b"), ("receive from", "b")]
    assert found[0].topic == "$aws/things/b/shadow/update"
    least = parse_policy("dev", device_policy(REGION, ACCOUNT))
    assert reaches(compile_rules([least], _ctx()), _ctx(), things) == ()
    fenced = parse_policy(
        "fenced",
        _policy(
            CONNECT,
            _allow("iot:Publish", f"{ARN}:topic/$aws/things/*"),
            _deny("iot:Publish", f"{ARN}:topic/$aws/things/b/*"),
        ),
    )
    assert [r.other for r in reaches(compile_rules([fenced], _ctx()), _ctx(), things)] == ["c"]
    unconnected = parse_policy("u", _policy(_allow("iot:*", f"{ARN}:topic/*")))
    assert reaches(compile_rules([unconnected], _ctx()), _ctx(), things) == ()


# -- properties ----------------------------------------------------------------------------------

_LEVELS = st.sampled_from(["$aws", "things", "a", "b", "shadow", "x", ""])
_TOPICS = st.lists(_LEVELS, min_size=1, max_size=5).map("/".join)
_RES_LEVELS = st.sampled_from(
    ["$aws", "things", "a", "b", "shadow", "*", "**", "?", "a*", "+", "#", "${*}", ME]
)
_PATHS = st.lists(_RES_LEVELS, min_size=1, max_size=5).map("/".join)
_KINDS = st.sampled_from(
    [f"{ARN}:topic/", f"{ARN}:topicfilter/", "arn:aws:iot:*:*:topic", f"{ARN}:*", ""]
)
_ACTIONS = st.sampled_from(["iot:Publish", "iot:Receive", "iot:Subscribe", "iot:*", "iot:P*"])


@st.composite
def _statements(draw: st.DrawFn) -> dict[str, object]:
    effect = draw(st.sampled_from(["Allow", "Allow", "Deny"]))
    actions = draw(st.lists(_ACTIONS, min_size=1, max_size=2))
    resources = draw(st.lists(st.tuples(_KINDS, _PATHS).map("".join), min_size=1, max_size=2))
    return {"Effect": effect, "Action": actions, "Resource": resources}


@settings(max_examples=examples(300), deadline=None)
@given(st.lists(_statements(), min_size=1, max_size=4), st.lists(_TOPICS, max_size=8))
def test_the_acl_never_allows_what_the_policy_refuses(
    statements: list[dict[str, object]], topics: list[str]
) -> None:
    policy = parse_policy("p", _policy(CONNECT, *statements))
    rules = compile_rules([policy], _ctx())
    acl = translate([policy], _ctx())
    for mqtt_filter in acl.subscribe:
        assert evaluate(rules, "iot:Subscribe", f"{ARN}:topicfilter/{mqtt_filter}")
    for topic in [*topics, *acl.publish, *acl.receive]:
        if "+" in topic or "#" in topic:
            continue
        if _mosquitto(acl, topic, "write"):
            assert evaluate(rules, "iot:Publish", f"{ARN}:topic/{topic}"), (topic, acl)
        if _mosquitto(acl, topic, "read"):
            assert evaluate(rules, "iot:Receive", f"{ARN}:topic/{topic}"), (topic, acl)
            assert any(_mqtt_match(f, topic) for f in acl.subscribe), (topic, acl)


_PAT = st.lists(st.sampled_from(["a", "b", "/", "*", "?"]), max_size=6).map(
    lambda xs: tuple(0 if x == "*" else 1 if x == "?" else x for x in xs)
)
_STR = st.text(alphabet="ab/", max_size=6)


@settings(max_examples=examples(300), deadline=None)
@given(_PAT, _PAT, _STR, _STR)
def test_derive_and_intersects_agree_with_matching(
    first: tuple[str | int, ...], second: tuple[str | int, ...], prefix: str, rest: str
) -> None:
    whole = prefix + rest
    assert matches(first, whole) == any(matches(r, rest) for r in derive(first, prefix))
    if matches(first, whole) and matches(second, whole):
        assert intersects(first, second)
    assert intersects(first, literal(whole)) == matches(first, whole)


_FILTERS = st.lists(st.sampled_from(["a", "b", "+", "$x"]), min_size=1, max_size=3).flatmap(
    lambda xs: st.sampled_from(["/".join(xs), "/".join([*xs, "#"]), "#"])
)


@settings(max_examples=examples(200), deadline=None)
@given(_FILTERS, _FILTERS, st.lists(st.sampled_from(["a", "b", "$x"]), min_size=1, max_size=4))
def test_filter_intersection_is_exact(first: str, second: str, levels: list[str]) -> None:
    topic = "/".join(levels)
    both = _mqtt_match(first, topic) and _mqtt_match(second, topic)
    common = filter_intersection(first, second)
    assert both == (common is not None and _mqtt_match(common, topic))
