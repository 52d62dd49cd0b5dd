"""AWS IoT policies and their attachment to targets (certificates, thing groups).

CreatePolicy/GetPolicy/DeletePolicy/ListPolicies, AttachPolicy/DetachPolicy,
ListAttachedPolicies/ListTargetsForPolicy. One policy version per policy (version ``1``):
CreatePolicyVersion and friends are not emulated. Documents are checked for the structure of an
IoT policy (``Statement`` of ``Effect``/``Action``/``Resource``) and for AWS's size quota of
2,048 characters excluding white space (AWS IoT Core quotas; the error type for an oversized
document is not documented: MalformedPolicyException here, inf). Policies are *stored*, not
evaluated here: ``fleetsim broker-config --acl-from`` translates them into the broker's ACL
(:mod:`simulator.core.policy`), and the broker (Mosquitto) decides what a device may do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Final

import orjson

from simulator.core.arn import Scope
from simulator.core.errors import (
    InvalidRequestException,
    LimitExceededException,
    ResourceAlreadyExistsException,
    ResourceNotFoundException,
)
from simulator.core.paging import page
from simulator.services.registry.errors import DeleteConflictException, MalformedPolicyException
from simulator.services.registry.model import Group
from simulator.services.registry.results import NamePage, PolicyPage
from simulator.services.runtime import Runtime

__all__ = ["MAX_POLICIES_PER_TARGET", "PolicyOps", "PolicyRecord", "check_policy_document"]

#: AWS IoT Core quota: policies attached to one certificate or Cognito identity.
MAX_POLICIES_PER_TARGET: Final = 10
_MAX_DOCUMENT_CHARS: Final = 2048
_EFFECTS: Final = frozenset({"Allow", "Deny"})


@dataclass(slots=True)
class PolicyRecord:
    name: str
    arn: str
    document: str
    created: float
    modified: float
    generation: int
    tags: dict[str, str] = field(default_factory=dict)


def _strings(value: object) -> bool:
    if isinstance(value, str):
        return bool(value)
    return isinstance(value, list) and bool(value) and all(isinstance(v, str) for v in value)


def check_policy_document(document: str) -> None:
    """Raise MalformedPolicyException unless ``document`` is an IoT policy document."""
    if sum(1 for ch in document if not ch.isspace()) > _MAX_DOCUMENT_CHARS:
        raise MalformedPolicyException(
            f"Policy document exceeds {_MAX_DOCUMENT_CHARS} characters excluding white space"
        )
    try:
        parsed = orjson.loads(document)
    except orjson.JSONDecodeError:
        raise MalformedPolicyException("Policy document is not valid JSON") from None
    statements = parsed.get("Statement") if isinstance(parsed, dict) else None
    if isinstance(statements, dict):
        statements = [statements]
    if not isinstance(statements, list) or not statements:
        raise MalformedPolicyException("Policy document must contain a Statement")
    for statement in statements:
        if not isinstance(statement, dict) or statement.get("Effect") not in _EFFECTS:
            raise MalformedPolicyException("Each statement needs an Effect of Allow or Deny")
        if not _strings(statement.get("Action")):
            raise MalformedPolicyException("Each statement needs an Action")
        if not _strings(statement.get("Resource")):
            raise MalformedPolicyException("Each statement needs a Resource")


class PolicyOps:
    """Policy operations of :class:`~simulator.services.registry.security.SecurityService`."""

    runtime: Runtime
    scope: Scope
    policies: dict[str, PolicyRecord]
    policy_targets: dict[str, dict[str, None]]  # policy name -> target ARNs
    target_policies: dict[str, dict[str, None]]  # target ARN -> policy names
    _target_exists: Callable[[str], bool]
    _group_of: Callable[[str], Group | None]
    _generations: int

    def policy(self, name: str) -> PolicyRecord:
        record = self.policies.get(name)
        if record is None:
            raise ResourceNotFoundException(f"Policy {name} cannot be found")
        return record

    def create_policy(
        self,
        *,
        policy_name: str,
        policy_document: str,
        tags: list[dict[str, str]] | None = None,
    ) -> PolicyRecord:
        existing = self.policies.get(policy_name)
        if existing is not None:
            raise ResourceAlreadyExistsException(
                f"Policy cannot be created - name already exists (name={policy_name})",
                resource_id=policy_name,
                resource_arn=existing.arn,
            )
        check_policy_document(policy_document)
        now = self.runtime.clock()
        self._generations += 1
        record = PolicyRecord(
            name=policy_name,
            arn=self.scope.arn(f"policy/{policy_name}"),
            document=policy_document,
            created=now,
            modified=now,
            generation=self._generations,
            tags={t["Key"]: t.get("Value", "") for t in tags or ()},
        )
        self.policies[policy_name] = record
        return record

    def get_policy(self, *, policy_name: str) -> PolicyRecord:
        return self.policy(policy_name)

    def delete_policy(self, *, policy_name: str) -> None:
        self.policy(policy_name)
        if self.policy_targets.get(policy_name):
            raise DeleteConflictException(
                "The policy cannot be deleted as the policy is attached to one or more "
                f"principals (name={policy_name})"
            )
        del self.policies[policy_name]
        self.policy_targets.pop(policy_name, None)

    def list_policies(
        self,
        *,
        marker: str | None = None,
        page_size: int | None = None,
        ascending_order: bool | None = None,
    ) -> PolicyPage:
        ordered = list(self.policies.values())
        if ascending_order is False:
            ordered.reverse()
        items, token = page(ordered, page_size, marker, limit=250)
        return PolicyPage(tuple(items), token or None)

    def attach_policy(self, *, policy_name: str, target: str) -> None:
        self.policy(policy_name)
        if not self._target_exists(target):
            raise ResourceNotFoundException(f"The target {target} does not exist")
        attached = self.target_policies.setdefault(target, {})
        if policy_name in attached:
            return
        if len(attached) >= MAX_POLICIES_PER_TARGET:
            raise LimitExceededException(
                f"A target can have at most {MAX_POLICIES_PER_TARGET} policies attached"
            )
        attached[policy_name] = None
        self.policy_targets.setdefault(policy_name, {})[target] = None

    def detach_policy(self, *, policy_name: str, target: str) -> None:
        if policy_name not in self.policies:
            # DetachPolicy models no ResourceNotFoundException.
            raise InvalidRequestException(f"Policy {policy_name} cannot be found")
        self.target_policies.get(target, {}).pop(policy_name, None)
        self.policy_targets.get(policy_name, {}).pop(target, None)

    def _detach_all_policies(self, target: str) -> None:
        for name in self.target_policies.pop(target, {}):
            self.policy_targets.get(name, {}).pop(target, None)

    def list_attached_policies(
        self,
        *,
        target: str,
        recursive: bool | None = None,
        marker: str | None = None,
        page_size: int | None = None,
    ) -> PolicyPage:
        if not self._target_exists(target):
            raise ResourceNotFoundException(f"The target {target} does not exist")
        names: dict[str, None] = dict(self.target_policies.get(target, {}))
        group = self._group_of(target) if recursive else None
        while group is not None and group.parent is not None:  # policies of parent groups
            parent_arn = self.scope.arn(f"thinggroup/{group.parent}")
            names |= self.target_policies.get(parent_arn, {})
            group = self._group_of(parent_arn)
        items, token = page(list(names), page_size, marker, limit=250)
        return PolicyPage(tuple(self.policies[n] for n in items), token or None)

    def list_targets_for_policy(
        self, *, policy_name: str, marker: str | None = None, page_size: int | None = None
    ) -> NamePage:
        self.policy(policy_name)
        items, token = page(
            list(self.policy_targets.get(policy_name, {})), page_size, marker, limit=250
        )
        return NamePage(tuple(items), token or None)
