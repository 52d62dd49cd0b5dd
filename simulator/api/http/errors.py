"""Errors the HTTP layer itself raises, and the AWS error wire shape.

Service errors arrive as :class:`~simulator.core.errors.AwsError` and are sent as they are, with
one adjustment: ``ThrottlingException`` is 400 on the ``iot`` control plane and 429 on both data
planes, as modelled; the request throttling of ``fleetsim serve --throttle``
(:class:`~.throttle.RateExceeded`) is 429 everywhere. The transport's own errors (no route, bad
signature, body too large) are ``AwsError`` instances too, so every failure has one shape::

    HTTP/1.1 <status>
    x-amzn-ErrorType: <type>
    {"message": "...", <the error's other fields>}

The only 500 is ``InternalFailureException``, for an exception no code meant to raise.
"""

from __future__ import annotations

from typing import Final

import orjson

from simulator.core.errors import AwsError

__all__ = [
    "encode_error",
    "incomplete_signature",
    "internal_failure",
    "invalid_signature",
    "method_not_allowed",
    "missing_token",
    "not_implemented",
    "too_large",
    "unknown_operation",
    "unrecognized_client",
    "wire_status",
]

_DATA_PLANES: Final = frozenset({"iot-jobs-data", "iot-data"})

SIGNATURE_MISMATCH: Final = (
    "The request signature we calculated does not match the signature you provided. "
    "Check your AWS Secret Access Key and signing method. "
    "Consult the service documentation for details."
)


def wire_status(error: AwsError, service: str | None) -> int:
    """The HTTP status of ``error`` as ``service`` sends it."""
    if error.error_type == "ThrottlingException" and error.http_status != 429:
        return 429 if service in _DATA_PLANES else 400
    return error.http_status


def _printable(value: object) -> object:
    """``value`` with strings made encodable (undecodable request bytes kept as ``\\udcXX``)."""
    if isinstance(value, str):
        return value.encode("utf-8", "backslashreplace").decode("utf-8")
    if isinstance(value, dict):
        return {str(_printable(k)): _printable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_printable(v) for v in value]
    return str(value)


def encode_error(error: AwsError) -> bytes:
    """The JSON body of an error response; never fails, whatever the message quotes."""
    fields = error.fields()
    fields.setdefault("message", error.message)
    try:
        return orjson.dumps(fields)
    except TypeError:  # a quoted request value that is not UTF-8, or a non-JSON field value
        return orjson.dumps(_printable(fields))


def unknown_operation(method: str, path: str) -> AwsError:
    return AwsError(
        f"No operation matches {method} {path}", code="UnknownOperationException", status=404
    )


def method_not_allowed(method: str, path: str) -> AwsError:
    return AwsError(
        f"The method {method} is not allowed for {path}",
        code="MethodNotAllowedException",
        status=405,
    )


def not_implemented(operation: str) -> AwsError:
    # 4xx, not 501: a client must never see a 5xx it could retry for an operation that is
    # simply missing from this emulator build.
    return AwsError(
        f"fleetsim does not implement {operation} yet",
        code="UnknownOperationException",
        status=400,
    )


def missing_token() -> AwsError:
    return AwsError(
        "Missing Authentication Token", code="MissingAuthenticationTokenException", status=403
    )


def incomplete_signature(message: str) -> AwsError:
    return AwsError(message, code="IncompleteSignatureException", status=400)


def unrecognized_client() -> AwsError:
    return AwsError(
        "The security token included in the request is invalid.",
        code="UnrecognizedClientException",
        status=403,
    )


def invalid_signature(message: str = SIGNATURE_MISMATCH) -> AwsError:
    return AwsError(message, code="InvalidSignatureException", status=403)


def too_large(limit: int) -> AwsError:
    return AwsError(
        f"The request body exceeds the maximum size of {limit} bytes",
        code="RequestEntityTooLargeException",
        status=413,
    )


def internal_failure() -> AwsError:
    return AwsError(
        "An internal error occurred; see the fleetsim server log",
        code="InternalFailureException",
        status=500,
    )
