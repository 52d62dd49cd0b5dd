"""AWS errors of the certificate and policy operations, in the tree of :mod:`simulator.core.errors`.

::

    AwsError
    ├── InvalidRequestException           400  (core)
    ├── MalformedPolicyException          400  a policy document that is not a policy
    ├── CertificateStateException         406  a certificate's status forbids the operation
    ├── DeleteConflictException           409  a certificate or policy still attached
    └── LimitExceededException            410  (core)

Types and statuses are botocore's ``iot`` model's; the messages quote AWS where known (see each
raise).
"""

from __future__ import annotations

from simulator.core.errors import AwsError

__all__ = ["CertificateStateException", "DeleteConflictException", "MalformedPolicyException"]


class MalformedPolicyException(AwsError):
    code = "MalformedPolicyException"
    status = 400


class CertificateStateException(AwsError):
    code = "CertificateStateException"
    status = 406


class DeleteConflictException(AwsError):
    code = "DeleteConflictException"
    status = 409
