"""TagResource, UntagResource and ListTagsForResource on the resources AWS lets you tag.

AWS IoT tags thing groups (static and dynamic), thing types, jobs, job templates, policies,
packages and package versions among the resources fleetsim emulates ("Tagging your AWS IoT
resources", AWS IoT developer guide; each Create* of those takes ``tags``). Things and device
certificates cannot be tagged (no ``tags`` on CreateThing or CreateKeysAndCertificate): their
ARNs are refused with InvalidRequestException. Other taggable types AWS has (rules, billing
groups...) do not exist here, so their ARNs are ResourceNotFoundException.

Tags live with the resource: a package's and a policy's on its record; the others' in this
service, keyed by ARN and by the record they were set on, so a resource deleted and created again
starts with its new creation tags, not the old ones. At most 50 tags per resource (AWS quota);
keys starting with ``aws:`` are reserved.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Final, TypeAlias

from simulator.core.arn import Scope
from simulator.core.catalog import Catalog
from simulator.core.errors import (
    AwsError,
    InvalidRequestException,
    LimitExceededException,
    ResourceNotFoundException,
)
from simulator.services.jobs import JobsService
from simulator.services.registry.principals import SecuredRegistry
from simulator.services.registry.results import TagList
from simulator.services.registry.security import SecurityService

__all__ = ["MAX_TAGS", "TagService"]

MAX_TAGS: Final = 50
_ARN: Final = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iot:(?P<region>[a-z0-9-]*):(?P<account>[0-9]{12}):"
    r"(?P<type>[a-z]+)/(?P<rest>.+)"
)
_UNTAGGABLE: Final = frozenset({"thing", "cert", "cacert", "client", "topic", "topicfilter"})
#: Taggable in AWS, not emulated: such an ARN names nothing here.
_ABSENT: Final = frozenset(
    {
        "rule",
        "billinggroup",
        "securityprofile",
        "scheduledaudit",
        "mitigationaction",
        "rolealias",
        "authorizer",
        "domainconfiguration",
        "provisioningtemplate",
        "fleetmetric",
        "custommetric",
        "dimension",
        "otaupdate",
        "stream",
        "destination",
    }
)

#: (the record, its current tags) or None when absent; the dict is mutated in place.
Found: TypeAlias = tuple[object, dict[str, str]] | None
Lookup: TypeAlias = Callable[[str], Found]


def _tag_map(tags: list[dict[str, str]] | None) -> dict[str, str]:
    return {t["Key"]: t.get("Value", "") for t in tags or ()}


class TagService:
    """Tags of the emulated resources of one account and region."""

    def __init__(
        self,
        scope: Scope,
        registry: SecuredRegistry,
        security: SecurityService,
        jobs: JobsService,
        catalog: Catalog,
    ) -> None:
        self.scope = scope
        self._registry = registry
        self._jobs = jobs
        self._catalog = catalog
        self._security = security
        # ARN -> (record the tags were set on, tags): for resources that keep none themselves.
        self._kept: dict[str, tuple[object, dict[str, str]]] = {}
        self._lookups: dict[str, Lookup] = {
            "thinggroup": self._group,
            "thingtype": self._thing_type,
            "job": self._job,
            "jobtemplate": self._template,
            "policy": self._policy,
            "package": self._package,
        }

    # -- where each type's tags are ----------------------------------------------------------

    def _overlay(self, arn: str, record: object | None, initial: dict[str, str]) -> Found:
        if record is None:
            return None
        kept = self._kept.get(arn)
        if kept is None or kept[0] is not record:
            kept = self._kept[arn] = (record, dict(initial))
        return kept

    def _group(self, name: str) -> Found:
        arn = self.scope.arn(f"thinggroup/{name}")
        group = self._registry.groups.get(name)
        created = self._registry.creation_tags.get(arn)
        initial = created[1] if created is not None and created[0] is group else {}
        return self._overlay(arn, group, initial)

    def _thing_type(self, name: str) -> Found:
        return self._overlay(
            self.scope.arn(f"thingtype/{name}"), self._registry.thing_types.get(name), {}
        )

    def _job(self, job_id: str) -> Found:
        job = self._jobs.store.jobs.get(job_id)
        initial = _tag_map(job.tags if job is not None else None)
        return self._overlay(self.scope.arn(f"job/{job_id}"), job, initial)

    def _template(self, template_id: str) -> Found:
        template = self._jobs.store.templates.get(template_id)
        initial = _tag_map(template.tags if template is not None else None)
        return self._overlay(self.scope.arn(f"jobtemplate/{template_id}"), template, initial)

    def _policy(self, name: str) -> Found:
        policy = self._security.policies.get(name)
        return None if policy is None else (policy, policy.tags)

    def _package(self, rest: str) -> Found:
        name, _, version = rest.partition("/version/")
        try:
            package = self._catalog.get_package(name)
        except AwsError:  # an invalid package name names nothing
            return None
        if not version:
            return (package, package.tags)
        found = package.versions.get(version)
        return None if found is None else (found, found.tags)

    def _resolve(self, arn: str) -> dict[str, str]:
        match = _ARN.fullmatch(arn)
        if match is None:
            raise InvalidRequestException(f"Invalid resource ARN: {arn[:300]}")
        kind = match["type"]
        if kind in _UNTAGGABLE:
            raise InvalidRequestException(f"Resources of type {kind} cannot be tagged: {arn}")
        lookup = self._lookups.get(kind)
        if lookup is None and kind not in _ABSENT:
            raise InvalidRequestException(f"Invalid resource ARN: {arn[:300]}")
        scope = Scope(
            region=match["region"], account=match["account"], partition=match["partition"]
        )
        found = lookup(match["rest"]) if lookup is not None and scope == self.scope else None
        if found is None:
            raise ResourceNotFoundException(f"The resource {arn} does not exist")
        return found[1]

    # -- the operations ----------------------------------------------------------------------

    def tag_resource(self, *, resource_arn: str, tags: list[dict[str, str]]) -> None:
        current = self._resolve(resource_arn)
        wanted = _tag_map(tags)
        reserved = [k for k in wanted if k.lower().startswith("aws:")]
        if reserved:
            raise InvalidRequestException(
                f"Tag keys starting with aws: are reserved: {reserved[0]}"
            )
        if len(current.keys() | wanted.keys()) > MAX_TAGS:
            raise LimitExceededException(f"A resource can have at most {MAX_TAGS} tags")
        current.update(wanted)

    def untag_resource(self, *, resource_arn: str, tag_keys: list[str]) -> None:
        current = self._resolve(resource_arn)
        for key in tag_keys:
            current.pop(key, None)

    def list_tags_for_resource(
        self, *, resource_arn: str, next_token: str | None = None
    ) -> TagList:
        current = self._resolve(resource_arn)
        # At most 50 tags: one page; a nextToken is accepted and ignored.
        return TagList(tuple(sorted(current.items())))
