"""Reading the cloud's answers: which request an answer is for, and what a refusal says.

AWS IoT Jobs echoes a request's ``clientToken`` in its answer; a device that re-sends a request
after a timeout must not act on the answer to the earlier one. Malformed payloads are the peer's
fault: they read as "no token", never as an exception.
"""

from __future__ import annotations

from typing import Any

import orjson

from simulator.core.jobs import ExecutionStatus

__all__ = ["already", "answers", "echoes_other", "loads"]


def loads(payload: bytes) -> Any:
    """The JSON value of ``payload``, ``None`` if it is not JSON."""
    try:
        return orjson.loads(payload)
    except orjson.JSONDecodeError:
        return None


def echoes_other(body: Any, token: str | None) -> bool:
    """True when ``body`` echoes a clientToken that is not ``token``: the answer to another
    request."""
    if not isinstance(body, dict):
        return False
    echoed = body.get("clientToken")
    return isinstance(echoed, str) and echoed != token


def answers(payload: bytes, token: str | None) -> bool:
    """True unless ``payload`` echoes another request's clientToken (a late IN_PROGRESS answer)."""
    try:
        echoed = orjson.loads(payload).get("clientToken")
    except (orjson.JSONDecodeError, AttributeError):
        return True
    return not isinstance(echoed, str) or echoed == token


def already(payload: bytes, outcome: ExecutionStatus) -> bool:
    """True when a rejected terminal update says the execution already has ``outcome``: an
    earlier attempt of the same update was applied and only its answer was lost."""
    try:
        state = orjson.loads(payload).get("executionState")
    except (orjson.JSONDecodeError, AttributeError):
        return False
    return isinstance(state, dict) and state.get("status") == outcome._value_
