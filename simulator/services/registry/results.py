"""What the registry, security and tag operations return: typed results, never wire dicts.

:mod:`simulator.api.wire.registry` and :mod:`simulator.api.wire.security` turn each into its AWS
shape. Operations on one resource return its record (:class:`~.model.Thing`,
:class:`~.model.Group`, :class:`~.model.ThingType`, :class:`~.policies.PolicyRecord`): a view of
the live registry, to encode before the next call into the service and never to change (as the
Jobs results, see :mod:`simulator.services.jobs.results`). Operations with no output members
return ``None``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from simulator.services.registry.model import Group, Thing

if TYPE_CHECKING:  # the records' modules build these results
    from simulator.services.registry.certificates import CertificateRecord
    from simulator.services.registry.policies import PolicyRecord

__all__ = [
    "CertificateDescription",
    "CertificatePage",
    "Endpoint",
    "GroupDescription",
    "GroupPage",
    "GroupVersion",
    "NamePage",
    "NewCertificate",
    "PolicyPage",
    "TagList",
    "ThingPage",
]


@dataclass(frozen=True, slots=True)
class ThingPage:
    """ListThings."""

    things: tuple[Thing, ...]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class GroupDescription:
    """DescribeThingGroup: the group and its ancestors, root first."""

    group: Group
    ancestors: tuple[Group, ...]


@dataclass(frozen=True, slots=True)
class GroupVersion:
    """UpdateThingGroup (and UpdateDynamicThingGroup): the group's new version."""

    version: int


@dataclass(frozen=True, slots=True)
class GroupPage:
    """ListThingGroups, ListThingGroupsForThing."""

    groups: tuple[Group, ...]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class NamePage:
    """A page of names or ARNs: ListThingsInThingGroup, ListThingPrincipals,
    ListPrincipalThings, ListTargetsForPolicy (whose token is a ``nextMarker``)."""

    names: tuple[str, ...]
    next_token: str | None


@dataclass(frozen=True, slots=True)
class NewCertificate:
    """CreateKeysAndCertificate: the record and the key pair, which only this answer holds."""

    certificate: CertificateRecord
    public_key_pem: str
    private_key_pem: str


@dataclass(frozen=True, slots=True)
class CertificateDescription:
    """DescribeCertificate."""

    certificate: CertificateRecord
    owned_by: str


@dataclass(frozen=True, slots=True)
class CertificatePage:
    """ListCertificates."""

    certificates: tuple[CertificateRecord, ...]
    next_marker: str | None


@dataclass(frozen=True, slots=True)
class PolicyPage:
    """ListPolicies, ListAttachedPolicies."""

    policies: tuple[PolicyRecord, ...]
    next_marker: str | None


@dataclass(frozen=True, slots=True)
class Endpoint:
    """DescribeEndpoint."""

    address: str


@dataclass(frozen=True, slots=True)
class TagList:
    """ListTagsForResource: (key, value) pairs sorted by key."""

    tags: tuple[tuple[str, str], ...]
