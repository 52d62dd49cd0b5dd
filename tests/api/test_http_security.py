"""Certificates, policies, thing principals and DescribeEndpoint: boto3 against ``fleetsim serve``.

Also the certificates themselves (real X.509 signed by the emulator's CA, id = SHA-256 of the
DER, CN = key id), the CA route, and the certificate state machine walked whole, in process and
as a hypothesis state machine.
"""

from __future__ import annotations

import hashlib
import urllib.request
import uuid
from typing import Any

import orjson
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from simulator.core.errors import AwsError, InvalidRequestException
from simulator.services.controlplane import ControlPlane
from simulator.services.registry.certificates import (
    TRANSITIONS,
    CertificateStatus,
    transition,
)
from simulator.services.registry.errors import CertificateStateException
from tests.api.conftest import Server, aws_error

POLICY = orjson.dumps(
    {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "iot:Connect", "Resource": "*"}],
    }
).decode()


def _name(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def test_certificate_lifecycle(iot: Any, server: Server) -> None:
    created = iot.create_keys_and_certificate(setAsActive=True)
    cert_id, arn = created["certificateId"], created["certificateArn"]
    assert arn == f"arn:aws:iot:us-east-1:123456789012:cert/{cert_id}"

    cert = x509.load_pem_x509_certificate(created["certificatePem"].encode())
    assert cert_id == hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    spki = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    common_name = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value
    assert common_name == hashlib.sha256(spki).hexdigest()  # the key id: unique per certificate
    key = serialization.load_pem_private_key(created["keyPair"]["PrivateKey"].encode(), None)
    assert (
        key.public_key()
        .public_bytes(  # type: ignore[union-attr]
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        .decode()
        == created["keyPair"]["PublicKey"]
    )
    with urllib.request.urlopen(server.url + "/fleetsim/ca.pem") as reply:  # no signature needed
        assert reply.headers["Content-Type"] == "application/x-pem-file"
        ca = x509.load_pem_x509_certificate(reply.read())
    cert.verify_directly_issued_by(ca)

    described = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]
    assert described["status"] == "ACTIVE"
    assert described["certificatePem"] == created["certificatePem"]
    assert described["ownedBy"] == "123456789012"
    assert described["validity"]["notBefore"] < described["validity"]["notAfter"]
    listed = iot.list_certificates(pageSize=250)["certificates"]
    assert {"certificateId": cert_id, "status": "ACTIVE"}.items() <= next(
        c for c in listed if c["certificateId"] == cert_id
    ).items()

    code, status, response = aws_error(iot.delete_certificate, certificateId=cert_id)
    assert (code, status) == ("CertificateStateException", 406)
    assert response["Error"]["Message"] == (
        f"Certificate must be deactivated (not ACTIVE) before deletion. Id: {cert_id}"
    )
    iot.update_certificate(certificateId=cert_id, newStatus="INACTIVE")
    assert (
        iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["customerVersion"]
        == 2
    )
    iot.delete_certificate(certificateId=cert_id)
    code, status, _ = aws_error(iot.describe_certificate, certificateId=cert_id)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_new_certificates_are_inactive_unless_asked(iot: Any) -> None:
    cert_id = iot.create_keys_and_certificate()["certificateId"]
    status = iot.describe_certificate(certificateId=cert_id)["certificateDescription"]["status"]
    assert status == "INACTIVE"


def test_revoked_stays_revoked_and_internal_statuses_are_refused(iot: Any) -> None:
    cert_id = iot.create_keys_and_certificate(setAsActive=True)["certificateId"]
    code, status, _ = aws_error(
        iot.update_certificate, certificateId=cert_id, newStatus="PENDING_TRANSFER"
    )
    assert (code, status) == ("InvalidRequestException", 400)
    iot.update_certificate(certificateId=cert_id, newStatus="REVOKED")
    code, status, _ = aws_error(iot.update_certificate, certificateId=cert_id, newStatus="ACTIVE")
    assert (code, status) == ("CertificateStateException", 406)
    code, status, response = aws_error(
        iot.update_certificate, certificateId="g" * 64, newStatus="ACTIVE"
    )
    assert (code, status) == ("InvalidRequestException", 400)  # hex only (model pattern)
    assert "certificateId" in response["Error"]["Message"]


def test_delete_conflicts_while_attached(iot: Any) -> None:
    thing, policy = _name("dev"), _name("pol")
    iot.create_thing(thingName=thing)
    iot.create_policy(policyName=policy, policyDocument=POLICY)
    created = iot.create_keys_and_certificate(setAsActive=False)
    cert_id, arn = created["certificateId"], created["certificateArn"]
    iot.attach_thing_principal(thingName=thing, principal=arn)
    iot.attach_policy(policyName=policy, target=arn)

    code, status, response = aws_error(iot.delete_certificate, certificateId=cert_id)
    assert (code, status) == ("DeleteConflictException", 409)
    assert response["Error"]["Message"] == f"Things must be detached before deletion (arn: {arn})"
    code, status, response = aws_error(iot.delete_thing, thingName=thing)
    assert (code, status) == ("InvalidRequestException", 400)
    assert response["Error"]["Message"] == (
        f"Cannot delete. Thing {thing} is still attached to one or more principals"
    )
    code, status, response = aws_error(iot.delete_policy, policyName=policy)
    assert (code, status) == ("DeleteConflictException", 409)
    assert "attached to one or more principals" in response["Error"]["Message"]

    assert iot.list_thing_principals(thingName=thing)["principals"] == [arn]
    assert iot.list_principal_things(principal=arn)["things"] == [thing]
    iot.detach_thing_principal(thingName=thing, principal=arn)
    assert iot.list_thing_principals(thingName=thing)["principals"] == []
    code, status, _ = aws_error(iot.delete_certificate, certificateId=cert_id)
    assert (code, status) == ("DeleteConflictException", 409)  # a policy is still attached
    iot.delete_certificate(certificateId=cert_id, forceDelete=True)  # detaches the policies
    assert iot.list_targets_for_policy(policyName=policy)["targets"] == []
    iot.delete_policy(policyName=policy)
    iot.delete_thing(thingName=thing)


def test_policies(iot: Any) -> None:
    policy = _name("pol")
    created = iot.create_policy(
        policyName=policy, policyDocument=POLICY, tags=[{"Key": "team", "Value": "fleet"}]
    )
    assert created["policyArn"] == f"arn:aws:iot:us-east-1:123456789012:policy/{policy}"
    assert created["policyVersionId"] == "1"
    got = iot.get_policy(policyName=policy)
    assert got["policyDocument"] == POLICY and got["defaultVersionId"] == "1"
    assert policy in {p["policyName"] for p in iot.list_policies(pageSize=250)["policies"]}
    code, status, response = aws_error(iot.create_policy, policyName=policy, policyDocument=POLICY)
    assert (code, status) == ("ResourceAlreadyExistsException", 409)
    assert response["resourceArn"] == created["policyArn"]
    for document in ("not json", '{"Statement": []}', '{"Statement": [{"Effect": "Maybe"}]}'):
        code, status, _ = aws_error(
            iot.create_policy, policyName=_name("bad"), policyDocument=document
        )
        assert (code, status) == ("MalformedPolicyException", 400)

    cert = iot.create_keys_and_certificate()["certificateArn"]
    group = _name("grp")
    group_arn = iot.create_thing_group(thingGroupName=group)["thingGroupArn"]
    iot.attach_policy(policyName=policy, target=cert)
    iot.attach_policy(policyName=policy, target=cert)  # idempotent
    iot.attach_policy(policyName=policy, target=group_arn)
    assert sorted(iot.list_targets_for_policy(policyName=policy)["targets"]) == sorted(
        [cert, group_arn]
    )
    assert [p["policyName"] for p in iot.list_attached_policies(target=cert)["policies"]] == [
        policy
    ]
    child = _name("grp")
    child_arn = iot.create_thing_group(thingGroupName=child, parentGroupName=group)["thingGroupArn"]
    assert iot.list_attached_policies(target=child_arn)["policies"] == []
    inherited = iot.list_attached_policies(target=child_arn, recursive=True)["policies"]
    assert [p["policyName"] for p in inherited] == [policy]
    missing = "arn:aws:iot:us-east-1:123456789012:cert/" + "0" * 64
    code, status, _ = aws_error(iot.attach_policy, policyName=policy, target=missing)
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, _ = aws_error(iot.attach_policy, policyName=_name("none"), target=cert)
    assert (code, status) == ("ResourceNotFoundException", 404)
    iot.detach_policy(policyName=policy, target=cert)
    iot.detach_policy(policyName=policy, target=group_arn)
    iot.delete_policy(policyName=policy)
    code, status, _ = aws_error(iot.get_policy, policyName=policy)
    assert (code, status) == ("ResourceNotFoundException", 404)


def test_at_most_ten_policies_per_certificate(iot: Any) -> None:
    cert = iot.create_keys_and_certificate()["certificateArn"]
    names = [_name("p") for _ in range(11)]
    for name in names:
        iot.create_policy(policyName=name, policyDocument=POLICY)
    for name in names[:10]:
        iot.attach_policy(policyName=name, target=cert)
    code, status, _ = aws_error(iot.attach_policy, policyName=names[10], target=cert)
    assert (code, status) == ("LimitExceededException", 410)


def test_thing_principals(iot: Any) -> None:
    things = [_name("dev") for _ in range(3)]
    for thing in things:
        iot.create_thing(thingName=thing)
    shared = iot.create_keys_and_certificate()["certificateArn"]
    iot.attach_thing_principal(thingName=things[0], principal=shared)
    iot.attach_thing_principal(thingName=things[1], principal=shared)
    assert sorted(iot.list_principal_things(principal=shared)["things"]) == sorted(things[:2])
    page = iot.list_principal_things(principal=shared, maxResults=1)
    assert len(page["things"]) == 1 and page["nextToken"]

    exclusive = iot.create_keys_and_certificate()["certificateArn"]
    iot.attach_thing_principal(
        thingName=things[2], principal=exclusive, thingPrincipalType="EXCLUSIVE_THING"
    )
    code, status, _ = aws_error(
        iot.attach_thing_principal, thingName=things[0], principal=exclusive
    )
    assert (code, status) == ("InvalidRequestException", 400)
    code, status, _ = aws_error(
        iot.attach_thing_principal, thingName=_name("none"), principal=shared
    )
    assert (code, status) == ("ResourceNotFoundException", 404)
    code, status, _ = aws_error(
        iot.attach_thing_principal, thingName=things[0], principal="us-east-1:cognito-id"
    )
    assert (code, status) == ("InvalidRequestException", 400)
    code, status, _ = aws_error(iot.list_thing_principals, thingName=_name("none"))
    assert (code, status) == ("ResourceNotFoundException", 404)


@pytest.mark.slow
def test_describe_endpoint(iot: Any, start_server: Any) -> None:
    assert iot.describe_endpoint(endpointType="iot:Data-ATS")["endpointAddress"] == "127.0.0.1"
    code, status, _ = aws_error(iot.describe_endpoint, endpointType="iot:Nothing")
    assert (code, status) == ("InvalidRequestException", 400)
    named = start_server("--endpoint-address", "broker.example.internal")
    client = named.client("iot")
    for kind in ("iot:Data-ATS", "iot:Data", "iot:Jobs", "iot:CredentialProvider"):
        assert client.describe_endpoint(endpointType=kind)["endpointAddress"] == (
            "broker.example.internal"
        )
    mqtt = start_server("--mqtt", "mqtt://localhost:1")  # not up: retried while HTTP serves
    assert mqtt.client("iot").describe_endpoint()["endpointAddress"] == "localhost"


# -- the certificate state machine, in process ------------------------------------------------


@pytest.mark.parametrize("current", list(CertificateStatus))
@pytest.mark.parametrize("new", list(CertificateStatus))
def test_transition_table(current: CertificateStatus, new: CertificateStatus) -> None:
    settable = {CertificateStatus.ACTIVE, CertificateStatus.INACTIVE, CertificateStatus.REVOKED}
    if new not in settable:
        with pytest.raises(InvalidRequestException):
            transition(current, new)
    elif (current, new) in TRANSITIONS:
        assert transition(current, new) is TRANSITIONS[current, new] is new
    else:
        with pytest.raises(CertificateStateException):
            transition(current, new)


class SecurityMachine(RuleBasedStateMachine):
    """Random certificate/policy/thing operations against a model of what AWS allows."""

    def __init__(self) -> None:
        super().__init__()
        self.plane = ControlPlane()
        self.sec = self.plane.security
        self.status: dict[str, str] = {}  # certificate id -> status
        self.things: dict[str, set[str]] = {}  # certificate ARN -> things
        self.policies: dict[str, set[str]] = {}  # certificate ARN -> policies
        self.plane.registry.create_thing(thing_name="t0")
        self.plane.registry.create_thing(thing_name="t1")
        self.sec.create_policy(policy_name="p0", policy_document=POLICY)

    def _arn(self, cert_id: str) -> str:
        return self.plane.scope.arn(f"cert/{cert_id}")

    def _pick(self, data: st.DataObject) -> str:
        # By creation order: ids are hashes of random keys, so their sorted order is not stable.
        ids = list(self.status)
        return ids[data.draw(st.integers(0, len(ids) - 1))]

    @rule(active=st.booleans())
    def create(self, active: bool) -> None:
        if len(self.status) < 4:
            cert_id = self.sec.create_keys_and_certificate(
                set_as_active=active
            ).certificate.certificate_id
            self.status[cert_id] = "ACTIVE" if active else "INACTIVE"
            self.things[self._arn(cert_id)] = set()
            self.policies[self._arn(cert_id)] = set()

    @rule(data=st.data(), new=st.sampled_from(["ACTIVE", "INACTIVE", "REVOKED"]))
    def update(self, data: st.DataObject, new: str) -> None:
        if not self.status:
            return
        cert_id = self._pick(data)
        if self.status[cert_id] == "REVOKED" and new != "REVOKED":
            with pytest.raises(CertificateStateException):
                self.sec.update_certificate(certificate_id=cert_id, new_status=new)
        else:
            self.sec.update_certificate(certificate_id=cert_id, new_status=new)
            self.status[cert_id] = new

    @rule(data=st.data(), thing=st.sampled_from(["t0", "t1"]), attach=st.booleans())
    def principal(self, data: st.DataObject, thing: str, attach: bool) -> None:
        if not self.status:
            return
        arn = self._arn(self._pick(data))
        if attach:
            self.sec.attach_thing_principal(thing_name=thing, principal=arn)
            self.things[arn].add(thing)
        else:
            self.sec.detach_thing_principal(thing_name=thing, principal=arn)
            self.things[arn].discard(thing)

    @rule(data=st.data(), attach=st.booleans())
    def policy(self, data: st.DataObject, attach: bool) -> None:
        if not self.status:
            return
        arn = self._arn(self._pick(data))
        if attach:
            self.sec.attach_policy(policy_name="p0", target=arn)
            self.policies[arn].add("p0")
        else:
            self.sec.detach_policy(policy_name="p0", target=arn)
            self.policies[arn].discard("p0")

    @rule(data=st.data(), force=st.booleans())
    def delete(self, data: st.DataObject, force: bool) -> None:
        if not self.status:
            return
        cert_id = self._pick(data)
        arn = self._arn(cert_id)
        expected = None
        if self.status[cert_id] == "ACTIVE":
            expected = "CertificateStateException"
        elif self.things[arn] or (self.policies[arn] and not force):
            expected = "DeleteConflictException"
        try:
            self.sec.delete_certificate(certificate_id=cert_id, force_delete=force)
        except AwsError as err:
            assert err.error_type == expected
            return
        assert expected is None
        del self.status[cert_id], self.things[arn], self.policies[arn]

    @rule(thing=st.sampled_from(["t0", "t1"]))
    def delete_thing(self, thing: str) -> None:
        if any(thing in things for things in self.things.values()):
            with pytest.raises(InvalidRequestException):
                self.plane.registry.delete_thing(thing_name=thing)

    @invariant()
    def agrees(self) -> None:
        listed = self.sec.list_certificates(page_size=250).certificates
        assert {c.certificate_id: c.status.value for c in listed} == self.status
        for arn, things in self.things.items():
            assert set(self.sec.list_principal_things(principal=arn).names) == things
        targets = set(self.sec.list_targets_for_policy(policy_name="p0").names)
        assert targets == {arn for arn, names in self.policies.items() if names}


SecurityMachine.TestCase.settings = settings(
    max_examples=40,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
test_security_state_machine = SecurityMachine.TestCase
