"""The one error tree of fleetsim.

Every error that can reach a user or an AWS client is a :class:`FleetsimError`. Errors that an AWS
client sees carry the AWS error type (``code``) and the HTTP status the real service uses, so the
API layer serialises them without a lookup table and boto3 raises the same ``ClientError`` code it
would against AWS.

::

    FleetsimError                         base; never raised directly
    ├── AwsError                          has .code, .status, .message, .fields()
    │   ├── ValidationException           400  (Software Package Catalog family)
    │   ├── InvalidRequestException       400  (Jobs / registry family)
    │   ├── InvalidQueryException         400
    │   ├── IndexNotReadyException        400  (fleet index still building)
    │   ├── InvalidAggregationException   400  (field not aggregatable, or of the wrong type)
    │   ├── ServiceQuotaExceededException 402
    │   ├── ResourceNotFoundException     404
    │   ├── ConflictException             409  (carries resourceId)
    │   ├── ResourceAlreadyExistsException 409 (carries resourceId, resourceArn)
    │   ├── VersionConflictException      409
    │   ├── InvalidStateTransitionException 409
    │   │   └── JobExecutionStateException 409 data-plane refusal carrying executionState
    │   │       └── VersionMismatchException 409 expectedVersion mismatch (MQTT VersionMismatch)
    │   ├── LimitExceededException        410
    │   ├── RequestEntityTooLargeException 413 (shadow state over the size limit)
    │   ├── UnsupportedDocumentEncodingException 415 (shadow payload that is not UTF-8)
    │   └── DocumentError                 400  job-document substitution errors; the wire type is
    │                                          configurable because AWS documents
    │                                          InvalidJobDocumentException but does not model it
    └── UsageError                        bad command-line or file input (CLI prints one line)

Callers catch :class:`AwsError` at the API boundary and :class:`FleetsimError` at the CLI boundary.
Anything else escaping a parser is a bug, and the property tests treat it as one.
"""

from __future__ import annotations

from typing import ClassVar

__all__ = [
    "AwsError",
    "ConflictException",
    "DocumentError",
    "FleetsimError",
    "IndexNotReadyException",
    "InvalidAggregationException",
    "InvalidQueryException",
    "InvalidRequestException",
    "InvalidStateTransitionException",
    "JobExecutionStateException",
    "LimitExceededException",
    "RequestEntityTooLargeException",
    "ResourceAlreadyExistsException",
    "ResourceNotFoundException",
    "ServiceQuotaExceededException",
    "UnsupportedDocumentEncodingException",
    "UsageError",
    "ValidationException",
    "VersionConflictException",
    "VersionMismatchException",
]


class FleetsimError(Exception):
    """Base of every error fleetsim raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class UsageError(FleetsimError):
    """Bad input from the command line or a user file; the CLI prints it as one line."""


class AwsError(FleetsimError):
    """An error with the AWS wire shape: error type, HTTP status and message.

    Subclasses fix ``code`` and ``status``; an instance may override ``code`` (used where AWS's
    documented type name is not in the service model, see :class:`DocumentError`) and ``status``
    (ThrottlingException is 400 on the control plane and 429 on the data planes).
    """

    code: ClassVar[str] = "InternalFailureException"
    status: ClassVar[int] = 500

    def __init__(self, message: str, *, code: str | None = None, status: int | None = None) -> None:
        super().__init__(message)
        self.error_type = code or type(self).code
        self.http_status = status or type(self).status

    def fields(self) -> dict[str, object]:
        """The JSON body members AWS sends with this error (always includes ``message``)."""
        return {"message": self.message}

    def __repr__(self) -> str:
        return f"{self.error_type}({self.http_status}, {self.message!r})"


class ValidationException(AwsError):
    code = "ValidationException"
    status = 400


class InvalidRequestException(AwsError):
    code = "InvalidRequestException"
    status = 400


class InvalidQueryException(AwsError):
    code = "InvalidQueryException"
    status = 400


class ServiceQuotaExceededException(AwsError):
    code = "ServiceQuotaExceededException"
    status = 402


class ResourceNotFoundException(AwsError):
    code = "ResourceNotFoundException"
    status = 404


class ConflictException(AwsError):
    code = "ConflictException"
    status = 409

    def __init__(self, message: str, *, resource_id: str | None = None) -> None:
        super().__init__(message)
        self.resource_id = resource_id

    def fields(self) -> dict[str, object]:
        out = super().fields()
        if self.resource_id is not None:
            out["resourceId"] = self.resource_id
        return out


class ResourceAlreadyExistsException(AwsError):
    code = "ResourceAlreadyExistsException"
    status = 409

    def __init__(self, message: str, *, resource_id: str, resource_arn: str | None = None) -> None:
        super().__init__(message)
        self.resource_id = resource_id
        self.resource_arn = resource_arn

    def fields(self) -> dict[str, object]:
        out = super().fields()
        out["resourceId"] = self.resource_id
        if self.resource_arn is not None:
            out["resourceArn"] = self.resource_arn
        return out


class VersionConflictException(AwsError):
    code = "VersionConflictException"
    status = 409


class InvalidStateTransitionException(AwsError):
    code = "InvalidStateTransitionException"
    status = 409


class LimitExceededException(AwsError):
    code = "LimitExceededException"
    status = 410


class DocumentError(AwsError):
    """A job document or its ``destinationPackageVersions`` cannot be substituted.

    AWS's troubleshooting guide names these ``InvalidJobDocumentException`` (or
    ``InvalidRequestException``), but CreateJob's service model only knows
    ``InvalidRequestException``; the wire type defaults to the modelled one and is chosen by
    :class:`simulator.core.substitution.SubstitutionOptions`.
    """

    code = "InvalidRequestException"
    status = 400


class RequestEntityTooLargeException(AwsError):
    code = "RequestEntityTooLargeException"
    status = 413


class UnsupportedDocumentEncodingException(AwsError):
    code = "UnsupportedDocumentEncodingException"
    status = 415


class JobExecutionStateException(InvalidStateTransitionException):
    """A job-execution update refused because of the execution's state.

    Carries the execution's current ``executionState`` (``status``, ``statusDetails``,
    ``versionNumber``): the HTTP body includes it ("the body of the error message also contains
    the executionState field" [B]) and so does the MQTT ``/rejected`` message, whose ``code`` is
    :attr:`mqtt_code`.
    """

    mqtt_code: ClassVar[str] = "InvalidStateTransition"

    def __init__(self, message: str, *, execution_state: dict[str, object]) -> None:
        super().__init__(message)
        self.execution_state = dict(execution_state)

    def fields(self) -> dict[str, object]:
        out = super().fields()
        out["executionState"] = self.execution_state
        return out


class VersionMismatchException(JobExecutionStateException):
    """``expectedVersion`` does not match the execution's ``versionNumber`` (data plane).

    MQTT reports ``VersionMismatch``; ``iot-jobs-data`` models no such error, so over HTTP it is
    an InvalidStateTransitionException 409 (inf).
    """

    mqtt_code = "VersionMismatch"


class IndexNotReadyException(AwsError):
    code = "IndexNotReadyException"
    status = 400


class InvalidAggregationException(AwsError):
    code = "InvalidAggregationException"
    status = 400
