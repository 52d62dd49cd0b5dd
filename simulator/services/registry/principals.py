"""Things and their principals (certificates): Attach/DetachThingPrincipal, the List* of both ways.

Also :class:`SecuredRegistry`, the thing registry as the security service needs it: DeleteThing
refuses a thing that still has principals (InvalidRequestException "Cannot delete. Thing X is
still attached to one or more principals", the AWS message, e.g. aws/aws-connected-device-
framework#76), a deleted thing group loses its policy attachments, and the ``tags`` of
CreateThingGroup are kept for ListTagsForResource.

Only certificate ARNs of this account are principals here (no Cognito identities).
``thingPrincipalType=EXCLUSIVE_THING`` makes the thing the certificate's only thing.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Final, Literal

from simulator.core.errors import InvalidRequestException, ResourceNotFoundException
from simulator.core.paging import page
from simulator.services.registry.certificates import CertificateRecord, parse_certificate_arn
from simulator.services.registry.model import Group, Thing
from simulator.services.registry.results import NamePage
from simulator.services.registry.things import Registry

__all__ = ["PrincipalOps", "SecuredRegistry"]

PrincipalType = Literal["EXCLUSIVE_THING", "NON_EXCLUSIVE_THING"]
_EXCLUSIVE: Final = "EXCLUSIVE_THING"


class SecuredRegistry(Registry):
    """:class:`Registry` with the hooks the security and tag services need (see module doc)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        #: Each raises to veto DeleteThing of a thing (by name).
        self.deletion_guards: list[Callable[[str], None]] = []
        #: Called with the ARN of each deleted thing group.
        self.group_deleted: list[Callable[[str], None]] = []
        #: CreateThingGroup's tags, with the group record they were given to.
        self.creation_tags: dict[str, tuple[Group, dict[str, str]]] = {}

    def delete_thing(self, *, thing_name: str, expected_version: int | None = None) -> None:
        if thing_name in self.things:
            for guard in self.deletion_guards:
                guard(thing_name)
        super().delete_thing(thing_name=thing_name, expected_version=expected_version)

    def create_thing_group(
        self,
        *,
        thing_group_name: str,
        parent_group_name: str | None = None,
        thing_group_properties: dict[str, Any] | None = None,
        tags: list[dict[str, str]] | None = None,
    ) -> Group:
        known = self.groups.get(thing_group_name)
        group = super().create_thing_group(
            thing_group_name=thing_group_name,
            parent_group_name=parent_group_name,
            thing_group_properties=thing_group_properties,
            tags=tags,
        )
        if tags and group is not known:
            self.creation_tags[group.arn] = (group, {t["Key"]: t.get("Value", "") for t in tags})
        return group

    def remove_group(self, group: Group, expected_version: int | None) -> None:
        super().remove_group(group, expected_version)
        for callback in self.group_deleted:
            callback(group.arn)


class PrincipalOps:
    """Thing-principal operations of :class:`~.security.SecurityService`."""

    registry: Registry
    thing_principals: dict[str, dict[str, PrincipalType]]  # thing -> principal ARN -> type
    principal_things: dict[str, dict[str, None]]  # principal ARN -> things
    certificate_by_arn: Callable[[str], CertificateRecord | None]

    def _principal(self, principal: str) -> CertificateRecord:
        cert = self.certificate_by_arn(principal)
        if cert is not None:
            return cert
        if parse_certificate_arn(principal) is None:
            raise InvalidRequestException(
                f"Principal {principal[:200]} is not supported: give a certificate ARN"
            )
        raise ResourceNotFoundException(f"The principal {principal} does not exist")

    def _thing(self, name: str) -> Thing:
        return self.registry.thing(name)

    def refuse_deletion(self, thing_name: str) -> None:
        """A deletion guard of :class:`SecuredRegistry`."""
        if self.thing_principals.get(thing_name):
            raise InvalidRequestException(
                f"Cannot delete. Thing {thing_name} is still attached to one or more principals"
            )

    def attach_thing_principal(
        self,
        *,
        thing_name: str,
        principal: str,
        thing_principal_type: PrincipalType | None = None,
    ) -> None:
        self._thing(thing_name)
        cert = self._principal(principal)
        kind: PrincipalType = thing_principal_type or "NON_EXCLUSIVE_THING"
        things = self.principal_things.get(cert.arn, {})
        others = [t for t in things if t != thing_name]
        if others and (
            kind == _EXCLUSIVE
            or any(self.thing_principals[t][cert.arn] == _EXCLUSIVE for t in others)
        ):
            raise InvalidRequestException(
                f"Principal {cert.arn} is attached exclusively, or cannot be: it is attached "
                f"to {others[0]}"
            )
        self.thing_principals.setdefault(thing_name, {})[cert.arn] = kind
        self.principal_things.setdefault(cert.arn, {})[thing_name] = None

    def detach_thing_principal(self, *, thing_name: str, principal: str) -> None:
        self._thing(thing_name)
        self.thing_principals.get(thing_name, {}).pop(principal, None)
        self.principal_things.get(principal, {}).pop(thing_name, None)

    def list_thing_principals(
        self, *, thing_name: str, next_token: str | None = None, max_results: int | None = None
    ) -> NamePage:
        self._thing(thing_name)
        principals = list(self.thing_principals.get(thing_name, {}))
        items, token = page(principals, max_results, next_token, limit=250)
        return NamePage(tuple(items), token or None)

    def list_principal_things(
        self, *, principal: str, next_token: str | None = None, max_results: int | None = None
    ) -> NamePage:
        cert = self._principal(principal)
        items, token = page(
            list(self.principal_things.get(cert.arn, {})), max_results, next_token, limit=250
        )
        return NamePage(tuple(items), token or None)

    def forget_thing(self, thing_name: str) -> None:
        """Drop a deleted thing's attachments (none remain after the guard; kept for safety)."""
        for principal in self.thing_principals.pop(thing_name, {}):
            self.principal_things.get(principal, {}).pop(thing_name, None)
