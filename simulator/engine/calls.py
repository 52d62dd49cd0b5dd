"""Control-plane calls as a load tester makes them: each one timed, throttling retried.

:class:`TimedClient` wraps a boto3 client (``iot`` or ``iot-data``, created with retries off):
every call of an operation, every attempt of it, is reported to ``on_call`` with the
operation's name, its time and its error; a throttled attempt (``ThrottlingException``,
``TooManyRequestsException``, HTTP 429) is a failure that is retried after a jittered, doubling
pause, at most ``attempts`` times in all. Errors a caller expects (``ResourceAlreadyExists`` on
idempotent set-up, ``ResourceNotFound`` on a look-up) count as answers, not failures.

:class:`BotoShadows` is the :class:`~simulator.engine.writers.ShadowApi` of a
:class:`~simulator.engine.writers.ManualWriter` over such a client, so the scenario's writers run
against a remote control plane exactly as they do in process.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from typing import Any, Final

import orjson

from simulator.core.errors import AwsError, ConflictException
from simulator.engine.mqtt.provision import ALREADY, NOT_FOUND, error_code, some
from simulator.services.shadow_results import ShadowDocument

__all__ = ["THROTTLING", "BotoShadows", "CallFailed", "OnCall", "TimedClient"]

THROTTLING: Final = frozenset(
    {"ThrottlingException", "TooManyRequestsException", "Throttling", "RequestLimitExceeded"}
)
EXPECTED: Final = ALREADY | {NOT_FOUND}

#: ``on_call(operation, milliseconds, response bytes, error or None)``.
OnCall = Callable[[str, float, int, BaseException | None], None]


class CallFailed(Exception):
    """The error a failed call is reported with: the AWS error code and HTTP status only, so
    that failures group by kind (not by resource) in a load tester's table."""


def _status(exc: BaseException) -> int:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return int(response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    return 0


def _length(result: Any) -> int:
    if isinstance(result, dict):
        headers = result.get("ResponseMetadata", {}).get("HTTPHeaders", {})
        return int(headers.get("content-length", 0) or 0)
    return 0


class TimedClient:
    """A boto3 client whose operations report to ``on_call`` and retry throttling.

    Args:
        client: the boto3 client (configured without retries of its own).
        on_call: told of every attempt.
        sleep: how to wait before a retry (``gevent.sleep`` under Locust).
        attempts: tries per call when throttled.
        base_s: first retry pause (drawn between half and all of it, doubling).
        cap_s: longest retry pause.
        rng: jitter source.
    """

    def __init__(
        self,
        client: Any,
        on_call: OnCall,
        *,
        sleep: Callable[[float], None] = time.sleep,
        attempts: int = 10,
        base_s: float = 0.25,
        cap_s: float = 8.0,
        rng: random.Random | None = None,
    ) -> None:
        self._client = client
        self._on_call = on_call
        self._sleep = sleep
        self._attempts = attempts
        self._base_s = base_s
        self._cap_s = cap_s
        self._rng = rng or random.Random(0)
        self.meta = client.meta
        self.exceptions = client.exceptions
        self.throttled = 0

    def __getattr__(self, name: str) -> Any:
        method = getattr(self._client, name)
        operation = self._client.meta.method_to_api_mapping.get(name)
        if operation is None:
            return method  # not an API operation (get_paginator, can_paginate...)

        def call(**kwargs: Any) -> Any:
            return self._call(operation, method, kwargs)

        return call

    def _call(self, operation: str, method: Callable[..., Any], kwargs: dict[str, Any]) -> Any:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        attempt = 1
        while True:
            began = time.perf_counter()
            try:
                result = method(**kwargs)
            except ClientError as exc:
                elapsed = (time.perf_counter() - began) * 1000.0
                code = error_code(exc)
                if code in EXPECTED:
                    self._on_call(operation, elapsed, 0, None)
                    raise
                self._on_call(operation, elapsed, 0, CallFailed(f"{code} (HTTP {_status(exc)})"))
                if code in THROTTLING or _status(exc) == 429:
                    self.throttled += 1
                    if attempt < self._attempts:
                        pause = min(self._cap_s, self._base_s * 2 ** (attempt - 1))
                        self._sleep(self._rng.uniform(pause / 2, pause))
                        attempt += 1
                        continue
                raise
            except Exception as exc:  # connection refused, timeouts: the call failed
                elapsed = (time.perf_counter() - began) * 1000.0
                self._on_call(operation, elapsed, 0, CallFailed(type(exc).__name__))
                raise
            self._on_call(operation, (time.perf_counter() - began) * 1000.0, _length(result), None)
            return result


class BotoShadows:
    """GetThingShadow / UpdateThingShadow over an ``iot-data`` client, with the emulator's
    errors (a version conflict is :class:`~simulator.core.errors.ConflictException`)."""

    def __init__(self, data: Any) -> None:
        self._data = data

    def get_thing_shadow(
        self, *, thing_name: str, shadow_name: str | None = None
    ) -> ShadowDocument:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            found = self._data.get_thing_shadow(
                thingName=thing_name, **some(shadowName=shadow_name)
            )
        except ClientError as exc:
            raise AwsError(error_code(exc) or "error") from None
        return ShadowDocument(orjson.loads(found["payload"].read()))

    def update_thing_shadow(
        self, *, thing_name: str, shadow_name: str | None = None, payload: bytes
    ) -> Any:
        from botocore.exceptions import ClientError  # noqa: PLC0415

        try:
            return self._data.update_thing_shadow(
                thingName=thing_name, payload=payload, **some(shadowName=shadow_name)
            )
        except ClientError as exc:
            if error_code(exc) == "ConflictException" or _status(exc) == 409:
                raise ConflictException("version conflict") from None
            raise AwsError(error_code(exc) or "error") from None
