"""Device certificates: CreateKeysAndCertificate, Describe/Update/Delete/ListCertificates.

Certificate statuses form one state machine, whose whole transition table is
:data:`TRANSITIONS` (UpdateCertificate's ``newStatus`` from each status); operations check it,
then mutate. Deleting is refused for an ACTIVE certificate (CertificateStateException) and for
one still attached to a thing, or to a policy unless ``forceDelete`` (DeleteConflictException),
as AWS does (AWS IoT API reference, DeleteCertificate; messages as AWS sends them, quoted in
public issue trackers, e.g. rebuy-de/aws-nuke#374).
"""

from __future__ import annotations

import enum
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Final

from simulator.core.arn import Scope
from simulator.core.errors import InvalidRequestException, ResourceNotFoundException
from simulator.core.paging import page
from simulator.services.registry.ca import CertificateIssuer, IssuedCertificate
from simulator.services.registry.errors import CertificateStateException, DeleteConflictException
from simulator.services.registry.results import (
    CertificateDescription,
    CertificatePage,
    NewCertificate,
)
from simulator.services.runtime import Runtime

__all__ = [
    "TRANSITIONS",
    "CertificateOps",
    "CertificateRecord",
    "CertificateStatus",
    "parse_certificate_arn",
    "transition",
]

_CERT_ARN: Final = re.compile(
    r"arn:(?P<partition>aws[a-z-]*):iot:(?P<region>[a-z0-9-]+):(?P<account>[0-9]{12}):"
    r"cert/(?P<id>[a-fA-F0-9]{64})"
)


class CertificateStatus(enum.Enum):
    ACTIVE = "ACTIVE"
    INACTIVE = "INACTIVE"
    REVOKED = "REVOKED"
    PENDING_TRANSFER = "PENDING_TRANSFER"
    REGISTER_INACTIVE = "REGISTER_INACTIVE"
    PENDING_ACTIVATION = "PENDING_ACTIVATION"


_S = CertificateStatus
#: UpdateCertificate: (current status, newStatus) -> the status it leaves. Pairs not listed are
#: refused: a newStatus outside ACTIVE/INACTIVE/REVOKED with InvalidRequestException (AWS: the
#: PENDING_* statuses are "used internally", REGISTER_INACTIVE "is deprecated"), and leaving
#: REVOKED, or a certificate in a transfer or registration status, with
#: CertificateStateException (inf: AWS documents no way back from REVOKED).
TRANSITIONS: Final[dict[tuple[CertificateStatus, CertificateStatus], CertificateStatus]] = {
    (_S.ACTIVE, _S.ACTIVE): _S.ACTIVE,
    (_S.ACTIVE, _S.INACTIVE): _S.INACTIVE,
    (_S.ACTIVE, _S.REVOKED): _S.REVOKED,
    (_S.INACTIVE, _S.ACTIVE): _S.ACTIVE,
    (_S.INACTIVE, _S.INACTIVE): _S.INACTIVE,
    (_S.INACTIVE, _S.REVOKED): _S.REVOKED,
    (_S.REVOKED, _S.REVOKED): _S.REVOKED,
}
_SETTABLE: Final = frozenset({_S.ACTIVE, _S.INACTIVE, _S.REVOKED})


def transition(current: CertificateStatus, new: CertificateStatus) -> CertificateStatus:
    """The status after UpdateCertificate(newStatus=``new``), or the AWS error."""
    if new not in _SETTABLE:
        raise InvalidRequestException(
            f"Certificate status {new.value} cannot be set with UpdateCertificate"
        )
    after = TRANSITIONS.get((current, new))
    if after is None:
        raise CertificateStateException(
            f"Cannot change the status of a certificate in status {current.value} to {new.value}"
        )
    return after


@dataclass(slots=True)
class CertificateRecord:
    certificate_id: str
    arn: str
    pem: str
    status: CertificateStatus
    created: float
    modified: float
    not_before: float
    not_after: float
    version: int = 1
    generation: int = 1


def parse_certificate_arn(text: str) -> tuple[Scope, str] | None:
    """(scope, certificate id) of ``arn:aws:iot:R:A:cert/ID``, or None for anything else."""
    match = _CERT_ARN.fullmatch(text)
    if match is None:
        return None
    scope = Scope(region=match["region"], account=match["account"], partition=match["partition"])
    return scope, match["id"].lower()


class CertificateOps:
    """Certificate operations of :class:`~simulator.services.registry.security.SecurityService`."""

    runtime: Runtime
    scope: Scope
    issuer: CertificateIssuer
    certificates: dict[str, CertificateRecord]
    principal_things: dict[str, dict[str, None]]
    target_policies: dict[str, dict[str, None]]
    _detach_all_policies: Callable[[str], None]

    def certificate(self, certificate_id: str) -> CertificateRecord:
        cert = self.certificates.get(certificate_id.lower().removeprefix("0x"))
        if cert is None:
            raise ResourceNotFoundException(
                f"The certificate given in the request does not exist (id: {certificate_id})"
            )
        return cert

    def certificate_by_arn(self, arn: str) -> CertificateRecord | None:
        """The certificate an ARN of this account and region names, if any."""
        parsed = parse_certificate_arn(arn)
        if parsed is None or parsed[0] != self.scope:
            return None
        return self.certificates.get(parsed[1])

    def create_keys_and_certificate(self, *, set_as_active: bool | None = None) -> NewCertificate:
        now = self.runtime.clock()
        issued: IssuedCertificate = self.issuer.issue(now)
        status = _S.ACTIVE if set_as_active else _S.INACTIVE
        record = CertificateRecord(
            certificate_id=issued.certificate_id,
            arn=self.scope.arn(f"cert/{issued.certificate_id}"),
            pem=issued.certificate_pem,
            status=status,
            created=now,
            modified=now,
            not_before=issued.not_before,
            not_after=issued.not_after,
        )
        self.certificates[record.certificate_id] = record
        return NewCertificate(record, issued.public_key_pem, issued.private_key_pem)

    def describe_certificate(self, *, certificate_id: str) -> CertificateDescription:
        return CertificateDescription(self.certificate(certificate_id), self.scope.account)

    def update_certificate(self, *, certificate_id: str, new_status: str) -> None:
        cert = self.certificate(certificate_id)
        try:
            wanted = CertificateStatus(new_status)
        except ValueError:
            raise InvalidRequestException(f"Invalid certificate status: {new_status}") from None
        after = transition(cert.status, wanted)
        if after is not cert.status:
            cert.status = after
            cert.modified = self.runtime.clock()
            cert.version += 1
            cert.generation += 1

    def delete_certificate(self, *, certificate_id: str, force_delete: bool | None = None) -> None:
        cert = self.certificate(certificate_id)
        if cert.status is _S.ACTIVE:
            raise CertificateStateException(
                "Certificate must be deactivated (not ACTIVE) before deletion. "
                f"Id: {cert.certificate_id}"
            )
        if self.principal_things.get(cert.arn):
            raise DeleteConflictException(
                f"Things must be detached before deletion (arn: {cert.arn})"
            )
        if self.target_policies.get(cert.arn):
            if not force_delete:
                raise DeleteConflictException(
                    f"Certificate policies must be detached before deletion (arn: {cert.arn})"
                )
            self._detach_all_policies(cert.arn)
        del self.certificates[cert.certificate_id]
        self.principal_things.pop(cert.arn, None)

    def list_certificates(
        self,
        *,
        page_size: int | None = None,
        marker: str | None = None,
        ascending_order: bool | None = None,
    ) -> CertificatePage:
        # Insertion order is creation order; AWS lists newest first unless isAscendingOrder.
        ordered = list(self.certificates.values())
        if not ascending_order:
            ordered.reverse()
        items, token = page(ordered, page_size, marker, limit=250)
        return CertificatePage(tuple(items), token or None)
