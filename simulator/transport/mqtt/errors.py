"""Errors of the MQTT transport, a branch of fleetsim's one error tree.

::

    FleetsimError                     simulator.core.errors
    ├── UsageError                    bad broker URI, shard spec, option (also raised here)
    └── MqttError                     base of the transport's own errors
        ├── ProtocolError             the peer sent bytes that are not MQTT 3.1.1 ("peer
        │                             misbehaved"); the only error the codec's decoder raises
        └── ConnectionRefused         the broker answered CONNACK with a non-zero return code

Misuse of the API (encoding a packet with an out-of-range field) raises ``ValueError``: that is
a bug in the caller, not something the peer did.
"""

from __future__ import annotations

from typing import ClassVar

from simulator.core.errors import FleetsimError

__all__ = ["ConnectionRefused", "MqttError", "ProtocolError"]


class MqttError(FleetsimError):
    """Base of the MQTT transport's errors."""


class ProtocolError(MqttError):
    """Malformed or unexpected bytes from the peer; the connection cannot continue."""


class ConnectionRefused(MqttError):
    """CONNACK with a non-zero return code (MQTT 3.1.1 section 3.2.2.3)."""

    REASONS: ClassVar[dict[int, str]] = {
        1: "unacceptable protocol version",
        2: "identifier rejected",
        3: "server unavailable",
        4: "bad user name or password",
        5: "not authorized",
    }

    def __init__(self, return_code: int) -> None:
        reason = self.REASONS.get(return_code, "reserved return code")
        super().__init__(f"CONNACK return code {return_code}: {reason}")
        self.return_code = return_code
