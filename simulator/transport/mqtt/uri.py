"""Broker addresses: ``mqtt://HOST:PORT`` (plain TCP) and ``mqtts://HOST:PORT`` (TLS).

The default ports are 1883 and 8883. AWS IoT Core listens on 8883 and, for clients that send
the ALPN protocol ``x-amzn-mqtt-ca``, on 443 (see :mod:`simulator.transport.mqtt.tls`).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final
from urllib.parse import urlsplit

from simulator.core.errors import UsageError

__all__ = ["BrokerConfig", "parse_broker_uri"]

DEFAULT_PORTS: Final = {"mqtt": 1883, "mqtts": 8883}


@dataclass(frozen=True, slots=True)
class BrokerConfig:
    """Where the broker is: host name or IP literal (IPv6 without brackets), port, TLS or not."""

    host: str
    port: int
    tls: bool = False

    @property
    def uri(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"{'mqtts' if self.tls else 'mqtt'}://{host}:{self.port}"


def parse_broker_uri(uri: str) -> BrokerConfig:
    """Parse ``mqtt://HOST[:PORT]`` or ``mqtts://HOST[:PORT]``.

    Raises:
        UsageError: anything else (another scheme, no host, a bad port, a path, a query, a
            fragment or credentials), with a message naming the problem.
    """

    def bad(why: str) -> UsageError:
        return UsageError(
            f"broker URI {uri!r}: {why} (expected mqtt://HOST:PORT or mqtts://HOST:PORT)"
        )

    if not uri.isprintable() or any(c.isspace() for c in uri):
        raise bad("contains whitespace or control characters")
    try:
        parts = urlsplit(uri)
        port = parts.port
    except ValueError:
        raise bad("malformed host or port (the port must be a number from 1 to 65535)") from None
    scheme = parts.scheme.lower()
    if scheme not in DEFAULT_PORTS:
        raise bad(f"unsupported scheme {parts.scheme!r}" if parts.scheme else "no scheme")
    if not uri[len(scheme) :].startswith("://"):
        raise bad(f"missing '//' after '{parts.scheme}:'")
    if "@" in parts.netloc:
        raise bad("credentials do not belong in the URI")
    if parts.path not in ("", "/") or "?" in uri or "#" in uri:
        raise bad("no path, query or fragment allowed")
    if not parts.hostname:
        raise bad("no host")
    if port == 0 or parts.netloc.endswith(":"):
        raise bad("the port must be a number from 1 to 65535")
    return BrokerConfig(parts.hostname, port or DEFAULT_PORTS[scheme], scheme == "mqtts")
