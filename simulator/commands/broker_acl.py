"""``fleetsim broker-config --acl-from URL``: the certificates and policies of a ``fleetsim serve``,
and the per-certificate ACL they make.

:func:`fetch` reads, with boto3: ListCertificates (ACTIVE ones), per certificate
ListPrincipalThings and DescribeCertificate (its CN, Mosquitto's user name), ListPolicies with
GetPolicy and ListTargetsForPolicy (certificates and thing groups a policy is attached to), and
ListThingsInThingGroup (recursive) for the groups. :func:`plan` is pure: per certificate and
thing the policies attached to the certificate and to the thing's groups (AWS evaluates a thing
group's policies for a connection whose client id is a thing in the group), translated by
:func:`simulator.core.policy.translate` for client id = thing name, and checked by
:func:`simulator.core.policy.reaches` for other things' topics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any, Final, Literal

from simulator.core.errors import UsageError
from simulator.core.policy import (
    Context,
    DeviceAcl,
    Neighbours,
    Policy,
    Reach,
    compile_rules,
    parse_policy,
    reaches,
    translate,
)
from simulator.transport.broker.mosquitto import UserAcl

__all__ = ["AclPlan", "Certificate", "Fleet", "fetch", "plan"]

AclMode = Literal["policy", "things"]
_GROUP: Final = ":thinggroup/"


@dataclass(frozen=True, slots=True)
class Certificate:
    arn: str
    identity: str
    things: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Fleet:
    """What the emulator holds: ACTIVE certificates attached to things, policies, attachments."""

    certificates: tuple[Certificate, ...]
    policies: dict[str, Policy] = field(default_factory=dict)
    targets: dict[str, tuple[str, ...]] = field(default_factory=dict)  # target -> policy names
    groups: dict[str, tuple[str, ...]] = field(default_factory=dict)  # thing -> group ARNs


@dataclass(frozen=True, slots=True)
class AclPlan:
    users: tuple[UserAcl, ...]
    reaches: tuple[Reach, ...] = ()
    notes: tuple[str, ...] = ()
    without_policy: int = 0
    without_connect: int = 0


def _pages(call: Any, key: str, token_in: str, token_out: str, **kw: Any) -> list[Any]:
    items: list[Any] = []
    token = None
    while True:
        page = call(**kw, **({token_in: token} if token else {}))
        items += page.get(key, [])
        token = page.get(token_out)
        if not token:
            return items


def fetch(url: str, region: str, *, policies: bool = True) -> Fleet:
    """Read the fleet's certificates (and with ``policies``, policies) from ``fleetsim serve``.

    Raises:
        UsageError: not a serve URL, a refused call, or a policy this translation cannot read.
    """
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from simulator.engine.mqtt.options import parse_control_plane  # noqa: PLC0415
    from simulator.engine.mqtt.provision import WORKERS, describe_error, thread_map  # noqa: PLC0415
    from simulator.services.registry.ca import common_name  # noqa: PLC0415

    if parse_control_plane(url) in ("aws", "embedded"):
        raise UsageError(f"--acl-from {url!r}: give the http://HOST:PORT of a `fleetsim serve`")
    session = boto3.Session(region_name=region)
    keys = {} if session.get_credentials() is not None else {"aws_access_key_id": "test"}
    if keys:
        keys["aws_secret_access_key"] = "test"
    config = Config(max_pool_connections=WORKERS * 2, retries={"mode": "standard"})
    iot = session.client("iot", endpoint_url=url.rstrip("/"), config=config, **keys)

    def certificate(cert: dict[str, Any]) -> Certificate | None:
        arn = cert["certificateArn"]
        things = _pages(
            iot.list_principal_things, "things", "nextToken", "nextToken", principal=arn,
            maxResults=250,
        )  # fmt: skip
        if not things:
            return None
        described = iot.describe_certificate(certificateId=cert["certificateId"])
        name = common_name(described["certificateDescription"]["certificatePem"])
        return None if name is None else Certificate(arn, name, tuple(sorted(things)))

    def policy(name: str) -> tuple[str, str, list[str]]:
        document = iot.get_policy(policyName=name)["policyDocument"]
        targets = _pages(
            iot.list_targets_for_policy, "targets", "marker", "nextMarker", policyName=name
        )
        return name, document, targets

    def members(group_arn: str) -> tuple[str, list[str]]:
        name = group_arn.rsplit("/", 1)[1]
        things = _pages(
            iot.list_things_in_thing_group, "things", "nextToken", "nextToken",
            thingGroupName=name, recursive=True, maxResults=250,
        )  # fmt: skip
        return group_arn, things

    try:
        certs = _pages(
            iot.list_certificates, "certificates", "marker", "nextMarker", pageSize=250,
            ascendingOrder=True,
        )  # fmt: skip
        active = [c for c in certs if c.get("status") == "ACTIVE"]
        found = tuple(c for c in thread_map(certificate, active) if c is not None)
        names = [p["policyName"] for p in _pages(
            iot.list_policies, "policies", "marker", "nextMarker", pageSize=250
        )] if policies else []  # fmt: skip
        fetched = list(thread_map(policy, names))
        group_arns = sorted({t for _, _, targets in fetched for t in targets if _GROUP in t})
        groups: dict[str, list[str]] = {}
        for group_arn, things in thread_map(members, group_arns):
            for thing in things:
                groups.setdefault(thing, []).append(group_arn)
    except (ClientError, BotoCoreError) as exc:
        raise UsageError(f"--acl-from {url}: {describe_error(exc)}") from None
    targets: dict[str, list[str]] = {}
    for name, _, attached in fetched:
        for target in attached:
            targets.setdefault(target, []).append(name)
    return Fleet(
        certificates=tuple(sorted(found, key=lambda c: c.identity)),
        # Only attached policies matter (and only they can stop the command).
        policies={name: parse_policy(name, doc) for name, doc, targets in fetched if targets},
        targets={t: tuple(sorted(n)) for t, n in targets.items()},
        groups={t: tuple(g) for t, g in groups.items()},
    )


def _context(cert: Certificate, thing: str) -> Context:
    parts = cert.arn.split(":")
    if len(parts) < 6:
        raise UsageError(f"certificate ARN {cert.arn!r} is not an AWS IoT ARN")
    # Client id = thing name: what thing policy variables need (module notes of .policy.acl).
    return Context(thing, thing, parts[3], parts[4], partition=parts[1], common_name=cert.identity)


def _merge(identity: str, acls: Iterable[DeviceAcl], comment: str) -> UserAcl:
    write: dict[str, None] = {}
    read: dict[str, None] = {}
    deny: dict[str, None] = {}
    for acl in acls:
        write |= dict.fromkeys(acl.publish)
        read |= dict.fromkeys(acl.receive)
        deny |= dict.fromkeys(acl.deny)
    return UserAcl(identity, tuple(write), tuple(read), tuple(deny), comment)


def plan(fleet: Fleet, mode: AclMode = "policy") -> AclPlan:
    """The ACL users for ``fleet`` (``things``: each certificate its things' topics)."""
    if mode == "things":
        fixed = tuple(
            UserAcl(c.identity, read=topics, write=topics, comment=f"things {' '.join(c.things)}")
            for c in fleet.certificates
            for topics in [tuple(f"$aws/things/{t}/#" for t in c.things)]
        )
        return AclPlan(fixed)
    neighbours = Neighbours(frozenset(t for c in fleet.certificates for t in c.things))
    users: list[UserAcl] = []
    found: list[Reach] = []
    notes = Counter[str]()
    without_policy = without_connect = 0
    for cert in fleet.certificates:
        acls = []
        names: dict[str, None] = {}
        for thing in cert.things:
            attached = fleet.targets.get(cert.arn, ())
            for group in fleet.groups.get(thing, ()):
                attached += fleet.targets.get(group, ())
            policies = [fleet.policies[n] for n in dict.fromkeys(attached)]
            names |= dict.fromkeys(attached)
            context = _context(cert, thing)
            acl = translate(policies, context)
            acls.append(acl)
            notes.update(str(n) for n in acl.notes)
            without_connect += bool(policies) and not acl.connect
            found += reaches(compile_rules(policies, context), context, neighbours)
        without_policy += not names
        if len(cert.things) > 1:
            notes[
                "a certificate attached to several things gets the union of their ACLs "
                "(Mosquitto cannot tell which thing a connection is for)"
            ] += 1
        comment = f"things {' '.join(cert.things)}; policies {' '.join(names) or '(none)'}"
        users.append(_merge(cert.identity, acls, comment))
    return AclPlan(tuple(users), tuple(found), tuple(notes), without_policy, without_connect)
