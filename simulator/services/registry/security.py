"""The security side of the registry: certificates, policies, thing principals, the endpoint.

:class:`SecurityService` serves the ``iot`` operations a provisioning tool needs (see
:mod:`.certificates`, :mod:`.policies`, :mod:`.principals`) and DescribeEndpoint, whose address
is the broker's (``fleetsim serve --mqtt`` host or ``--endpoint-address``) for every endpoint
type: the emulator has one broker, where AWS has one host name per type.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from simulator.core.arn import Scope
from simulator.core.errors import InvalidRequestException
from simulator.services.registry.ca import CertificateIssuer, LazyCA
from simulator.services.registry.certificates import CertificateOps, CertificateRecord
from simulator.services.registry.model import Group, RegistryEvent
from simulator.services.registry.policies import PolicyOps, PolicyRecord
from simulator.services.registry.principals import PrincipalOps, PrincipalType, SecuredRegistry
from simulator.services.registry.results import Endpoint
from simulator.services.runtime import Runtime

__all__ = ["ENDPOINT_TYPES", "SecurityOptions", "SecurityService"]

#: DescribeEndpoint's ``endpointType`` values (AWS IoT API reference); none means ``iot:Data``.
ENDPOINT_TYPES: Final = frozenset(
    {"iot:Data", "iot:Data-ATS", "iot:CredentialProvider", "iot:Jobs"}
)


@dataclass(frozen=True, slots=True)
class SecurityOptions:
    """``endpoint_address``: what DescribeEndpoint answers (the broker devices connect to)."""

    endpoint_address: str = "localhost"


class SecurityService(CertificateOps, PolicyOps, PrincipalOps):
    """Certificates, policies and thing principals of one account and region."""

    def __init__(
        self,
        runtime: Runtime,
        scope: Scope,
        registry: SecuredRegistry,
        *,
        issuer: CertificateIssuer | None = None,
        options: SecurityOptions | None = None,
    ) -> None:
        self.runtime = runtime
        self.scope = scope
        self.registry = registry
        self.issuer = issuer if issuer is not None else LazyCA(runtime.clock)
        self.options = options or SecurityOptions()
        self.certificates: dict[str, CertificateRecord] = {}
        self.policies: dict[str, PolicyRecord] = {}
        self.policy_targets: dict[str, dict[str, None]] = {}
        self.target_policies: dict[str, dict[str, None]] = {}
        self.thing_principals: dict[str, dict[str, PrincipalType]] = {}
        self.principal_things: dict[str, dict[str, None]] = {}
        self._generations = 0
        registry.deletion_guards.append(self.refuse_deletion)
        registry.group_deleted.append(self._detach_all_policies)
        registry.subscribe(self._registry_changed)

    def _registry_changed(self, event: RegistryEvent) -> None:
        if event.kind == "thing-deleted":
            self.forget_thing(event.thing)

    def ca_certificate_pem(self) -> str:
        """The PEM of the CA that signs CreateKeysAndCertificate's certificates."""
        return self.issuer.ca_certificate_pem()

    def _group_of(self, arn: str) -> Group | None:
        prefix = self.scope.arn("thinggroup/")
        if not arn.startswith(prefix):
            return None
        return self.registry.groups.get(arn[len(prefix) :])

    def _target_exists(self, target: str) -> bool:
        return self.certificate_by_arn(target) is not None or self._group_of(target) is not None

    def describe_endpoint(self, *, endpoint_type: str | None = None) -> Endpoint:
        if endpoint_type is not None and endpoint_type not in ENDPOINT_TYPES:
            raise InvalidRequestException(f"Endpoint type {endpoint_type} is not valid.")
        return Endpoint(self.options.endpoint_address)
