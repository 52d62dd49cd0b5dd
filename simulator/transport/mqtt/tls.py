"""TLS and mutual TLS for the fleet: one ``ssl.SSLContext`` per fleet, or one per device.

For AWS IoT Core (reference: "Device communication protocols" in the AWS IoT developer guide):
endpoint ``<prefix>-ats.iot.<region>.amazonaws.com``, the Amazon root CA as ``ca_file``, each
thing's certificate and key for mutual TLS, and port 8883, or port 443 with the ALPN protocol
``x-amzn-mqtt-ca`` (sent automatically on port 443 unless ``alpn`` says otherwise). SNI is the
endpoint name (``server_hostname`` overrides it).

Per-device certificates cost a context per connection (OpenSSL keeps the certificate in the
context, and Python cannot set it on a single connection): build contexts lazily at connect
time, which is what :class:`~simulator.transport.mqtt.pool.ConnectionPool` does, and expect
TLS connections to cost far more memory than plain ones. A certificate attached to many things
(AWS allows it) keeps the fleet on one shared context.
"""

from __future__ import annotations

import ssl
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from simulator.core.errors import UsageError

__all__ = ["AWS_IOT_ALPN", "TlsConfig"]

AWS_IOT_ALPN: Final = "x-amzn-mqtt-ca"


@dataclass(frozen=True, slots=True, kw_only=True)
class TlsConfig:
    """How to secure connections to an ``mqtts://`` broker.

    Attributes:
        ca_file: PEM bundle to verify the broker with; None uses the system's CAs.
        cert_file: client certificate shared by the whole fleet (mutual TLS), with ``key_file``.
        key_file: its private key.
        device_credentials: per-device mutual TLS: device index -> (certificate, key) paths.
        alpn: ALPN protocols; None means ``("x-amzn-mqtt-ca",)`` on port 443 and none elsewhere.
        server_hostname: name for SNI and certificate checks; None means the broker host.
        check_hostname: verify that the broker's certificate names ``server_hostname``.
    """

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    device_credentials: Callable[[int], tuple[Path, Path]] | None = None
    alpn: tuple[str, ...] | None = None
    server_hostname: str | None = None
    check_hostname: bool = True

    def __post_init__(self) -> None:
        if (self.cert_file is None) != (self.key_file is None):
            raise UsageError("TLS: give both a client certificate and its key, or neither")
        if self.cert_file is not None and self.device_credentials is not None:
            raise UsageError("TLS: a fleet-wide certificate or per-device ones, not both")

    def alpn_for(self, port: int) -> tuple[str, ...]:
        if self.alpn is not None:
            return self.alpn
        return (AWS_IOT_ALPN,) if port == 443 else ()

    def context(self, port: int, credentials: tuple[Path, Path] | None = None) -> ssl.SSLContext:
        """A client context verifying the broker, with the fleet's or the given client cert.

        Raises:
            UsageError: a CA, certificate or key file cannot be read or does not match.
        """
        try:
            ctx = ssl.create_default_context(
                cafile=str(self.ca_file) if self.ca_file is not None else None
            )
            ctx.minimum_version = ssl.TLSVersion.TLSv1_2
            ctx.check_hostname = self.check_hostname
            cert = credentials or (
                (self.cert_file, self.key_file) if self.cert_file and self.key_file else None
            )
            if cert is not None:
                ctx.load_cert_chain(str(cert[0]), str(cert[1]))
        except (OSError, ssl.SSLError) as exc:
            raise UsageError(f"TLS: cannot load CA or client certificate: {exc}") from None
        alpn = self.alpn_for(port)
        if alpn:
            ctx.set_alpn_protocols(list(alpn))
        return ctx
