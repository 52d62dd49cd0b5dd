"""Wire shapes of certificates, policies, thing principals, DescribeEndpoint and tags (``iot``).

Timestamps are float epoch seconds. Paged results carry ``nextToken``, or ``nextMarker`` where
AWS's model names it so (certificates and policies).
"""

from __future__ import annotations

from typing import Any

from simulator.services.registry.certificates import CertificateRecord
from simulator.services.registry.policies import PolicyRecord
from simulator.services.registry.results import (
    CertificateDescription,
    CertificatePage,
    Endpoint,
    NamePage,
    NewCertificate,
    PolicyPage,
    TagList,
)

__all__ = [
    "create_keys_and_certificate",
    "create_policy",
    "describe_certificate",
    "describe_endpoint",
    "get_policy",
    "list_certificates",
    "list_policies",
    "list_principal_things",
    "list_tags_for_resource",
    "list_targets_for_policy",
    "list_thing_principals",
]

#: fleetsim has one policy version per policy.
_POLICY_VERSION = "1"


def _paged(out: dict[str, Any], token: str | None, key: str) -> dict[str, Any]:
    if token:
        out[key] = token
    return out


# -- certificates ----------------------------------------------------------------------------


def create_keys_and_certificate(result: NewCertificate) -> dict[str, Any]:
    """CreateKeysAndCertificate."""
    cert = result.certificate
    return {
        "certificateArn": cert.arn,
        "certificateId": cert.certificate_id,
        "certificatePem": cert.pem,
        "keyPair": {"PublicKey": result.public_key_pem, "PrivateKey": result.private_key_pem},
    }


def describe_certificate(result: CertificateDescription) -> dict[str, Any]:
    """DescribeCertificate."""
    cert = result.certificate
    return {
        "certificateDescription": {
            "certificateArn": cert.arn,
            "certificateId": cert.certificate_id,
            "status": cert.status.value,
            "certificatePem": cert.pem,
            "ownedBy": result.owned_by,
            "creationDate": cert.created,
            "lastModifiedDate": cert.modified,
            "customerVersion": cert.version,
            "generationId": f"{cert.certificate_id[:24]}-{cert.generation}",
            "validity": {"notBefore": cert.not_before, "notAfter": cert.not_after},
            "certificateMode": "DEFAULT",
        }
    }


def _certificate_summary(cert: CertificateRecord) -> dict[str, Any]:
    return {
        "certificateArn": cert.arn,
        "certificateId": cert.certificate_id,
        "status": cert.status.value,
        "certificateMode": "DEFAULT",
        "creationDate": cert.created,
    }


def list_certificates(result: CertificatePage) -> dict[str, Any]:
    """ListCertificates."""
    certificates = [_certificate_summary(c) for c in result.certificates]
    return _paged({"certificates": certificates}, result.next_marker, "nextMarker")


# -- policies --------------------------------------------------------------------------------


def create_policy(policy: PolicyRecord) -> dict[str, Any]:
    """CreatePolicy."""
    return {
        "policyName": policy.name,
        "policyArn": policy.arn,
        "policyDocument": policy.document,
        "policyVersionId": _POLICY_VERSION,
    }


def get_policy(policy: PolicyRecord) -> dict[str, Any]:
    """GetPolicy."""
    return {
        "policyName": policy.name,
        "policyArn": policy.arn,
        "policyDocument": policy.document,
        "defaultVersionId": _POLICY_VERSION,
        "creationDate": policy.created,
        "lastModifiedDate": policy.modified,
        "generationId": f"{policy.generation:064x}",
    }


def list_policies(result: PolicyPage) -> dict[str, Any]:
    """ListPolicies, ListAttachedPolicies."""
    policies = [{"policyName": p.name, "policyArn": p.arn} for p in result.policies]
    return _paged({"policies": policies}, result.next_marker, "nextMarker")


def list_targets_for_policy(result: NamePage) -> dict[str, Any]:
    """ListTargetsForPolicy."""
    return _paged({"targets": list(result.names)}, result.next_token, "nextMarker")


# -- thing principals, endpoint, tags --------------------------------------------------------


def list_thing_principals(result: NamePage) -> dict[str, Any]:
    """ListThingPrincipals."""
    return _paged({"principals": list(result.names)}, result.next_token, "nextToken")


def list_principal_things(result: NamePage) -> dict[str, Any]:
    """ListPrincipalThings."""
    return _paged({"things": list(result.names)}, result.next_token, "nextToken")


def describe_endpoint(result: Endpoint) -> dict[str, Any]:
    """DescribeEndpoint."""
    return {"endpointAddress": result.address}


def list_tags_for_resource(result: TagList) -> dict[str, Any]:
    """ListTagsForResource."""
    return {"tags": [{"Key": k, "Value": v} for k, v in result.tags]}
