"""How an MQTT run connects: the broker, its control plane, TLS, pacing and the shard it runs.

Validation happens here, before anything connects, and every refusal is one
:class:`~simulator.core.errors.UsageError` line (``fleetsim run`` exits 2 with it).

Credentials, for an ``mqtts://`` broker:

* ``ca_file`` verifies the broker (default: ``cert_dir/ca.pem`` when there is one, else the
  system's CAs; for AWS IoT, Amazon Root CA 1);
* ``cert_dir`` holds one certificate per device, ``cert_dir/clients/<thing>.pem`` and
  ``.key`` (the layout ``fleetsim broker-config --tls --devices N`` writes, and the naming the
  README asks of AWS certificates), and the emulator's own
  ``cert_dir/clients/fleetsim-emulator.pem``;
* or ``client_cert`` + ``client_key``: one certificate for the whole fleet (and the bridge).
"""

from __future__ import annotations

import ipaddress
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final, Literal
from urllib.parse import urlsplit

from simulator.core.errors import UsageError
from simulator.transport.broker import BridgeConfig
from simulator.transport.certs import DEFAULT_EMULATOR_IDENTITY
from simulator.transport.mqtt import (
    BrokerConfig,
    PoolOptions,
    Shard,
    TlsConfig,
    loopback_sources,
)

__all__ = [
    "AWS_CONNECT_RATE",
    "DEFAULT_CONNECT_RATE",
    "MqttOptions",
    "parse_control_plane",
    "parse_source_addresses",
]

DEFAULT_CONNECT_RATE: Final = 2000.0
#: CONNECTs per second against AWS IoT Core unless told otherwise: the account quota is 100/s
#: in smaller regions (500/s in the large ones), shared with every other client of the account.
AWS_CONNECT_RATE: Final = 100.0
#: AWS IoT accepts one CONNECT per second per client id: the first retry waits 1-2 s (the
#: pool's backoff draws between half and all of the doubling delay).
AWS_BACKOFF_BASE: Final = 2.0
AWS_KEEPALIVE: Final = (30, 1200)

Kind = Literal["embedded", "url", "aws"]


def parse_control_plane(text: str) -> str:
    """``embedded``, ``aws``, or the ``http(s)://HOST:PORT`` of a ``fleetsim serve``."""
    if text in ("embedded", "aws"):
        return text
    try:
        parts = urlsplit(text)
        parts.port  # noqa: B018 - raises on a bad port
    except ValueError:
        parts = None
    if (
        parts is None
        or parts.scheme not in ("http", "https")
        or not parts.hostname
        or parts.path not in ("", "/")
        or parts.query
        or parts.fragment
    ):
        raise UsageError(
            f"--control-plane {text!r}: expected embedded, aws, or the http://HOST:PORT of a "
            "`fleetsim serve --mqtt` on the same broker"
        )
    return text.rstrip("/")


def parse_source_addresses(text: str) -> tuple[str, ...] | None:
    """``auto`` (None: 64 loopback addresses for a 127.x broker, else the kernel's choice),
    ``none`` (never bind), ``loopback:N`` (N addresses of 127.0.0.0/8) or ``A,B,...``."""
    text = text.strip()
    if text == "auto":
        return None
    if text == "none":
        return ()
    if text.startswith("loopback:"):
        count = text.removeprefix("loopback:")
        if not count.isdigit() or not 1 <= int(count) <= 254 * 254:
            raise UsageError(f"--source-addresses {text!r}: loopback:N needs 1 <= N <= 64516")
        return loopback_sources(int(count))
    addresses = tuple(part.strip() for part in text.split(",") if part.strip())
    if not addresses:
        raise UsageError("--source-addresses: give auto, none, loopback:N or A,B,...")
    for address in addresses:
        try:
            ipaddress.ip_address(address)
        except ValueError:
            raise UsageError(f"--source-addresses: {address!r} is not an IP address") from None
    return addresses


@dataclass(frozen=True, slots=True, kw_only=True)
class MqttOptions:
    """Everything about an MQTT run that the scenario does not say.

    Attributes:
        broker: where devices (and the embedded emulator's bridge) connect.
        control_plane: ``embedded``, ``aws``, or the URL of a ``fleetsim serve --mqtt``.
        shard: the part of the fleet this process runs (external control planes only).
        ca_file: CA bundle to verify the broker.
        cert_dir: per-device certificates (see the module docstring).
        client_cert: one client certificate for the whole fleet, with ``client_key``.
        client_key: its key.
        connect_rate: CONNECTs per second; None: 2,000, or 100 against AWS.
        source_addresses: see :func:`parse_source_addresses` (None: auto).
        keepalive: MQTT keep-alive in seconds.
        clean_session: False (default) asks the broker to keep each device's session, so
            replies queued while it is away arrive when it is back.
        bridge_connections: connections of the embedded emulator's bridge (1-10).
        rollout_per_minute: the embedded emulator's release rate for jobs without a rollout
            configuration, and the ceiling of every rollout (None: AWS's 1,000/min).
        region: AWS region (``aws``; None: boto3's default).
    """

    broker: BrokerConfig
    control_plane: str = "embedded"
    shard: Shard = field(default_factory=Shard)
    ca_file: Path | None = None
    cert_dir: Path | None = None
    client_cert: Path | None = None
    client_key: Path | None = None
    connect_rate: float | None = None
    source_addresses: tuple[str, ...] | None = None
    keepalive: int = 60
    clean_session: bool = False
    bridge_connections: int = 1
    rollout_per_minute: int | None = None
    region: str | None = None

    def __post_init__(self) -> None:
        parse_control_plane(self.control_plane)
        tls_files = (self.ca_file, self.cert_dir, self.client_cert, self.client_key)
        if not self.broker.tls and any(f is not None for f in tls_files):
            raise UsageError(
                "--broker-ca/--cert-dir/--client-cert/--client-key need an mqtts:// broker"
            )
        if self.cert_dir is not None and self.client_cert is not None:
            raise UsageError(
                "give --cert-dir (a certificate per device) or --client-cert, not both"
            )
        if (self.client_cert is None) != (self.client_key is None):
            raise UsageError("--client-cert and --client-key go together")
        for option, path in (
            ("--broker-ca", self.ca_file),
            ("--client-cert", self.client_cert),
            ("--client-key", self.client_key),
        ):
            if path is not None and not path.is_file():
                raise UsageError(f"{option} {path}: no such file")
        if self.cert_dir is not None and not self.cert_dir.is_dir():
            raise UsageError(f"--cert-dir {self.cert_dir}: no such directory")
        if self.connect_rate is not None and not self.connect_rate > 0:
            raise UsageError(f"--connect-rate must be > 0, not {self.connect_rate}")
        if not 0 <= self.keepalive <= 0xFFFF:
            raise UsageError(f"--keepalive must be 0..65535 seconds, not {self.keepalive}")
        if self.kind == "embedded" and self.shard.count > 1:
            raise UsageError(
                "--shard needs an external control plane (--control-plane URL or aws): the "
                "embedded emulator serves one process's devices only"
            )
        if self.rollout_per_minute is not None:
            if self.kind != "embedded":
                raise UsageError("--rollout-rate is for the embedded control plane")
            if self.rollout_per_minute < 1:
                raise UsageError(f"--rollout-rate must be >= 1, not {self.rollout_per_minute}")
        if self.kind == "aws":
            self._check_aws()

    def _check_aws(self) -> None:
        if not self.broker.tls:
            raise UsageError(
                "--control-plane aws: AWS IoT Core needs mqtts://ENDPOINT:8883 or :443"
            )
        if self.cert_dir is None and self.client_cert is None:
            raise UsageError(
                "--control-plane aws: give the devices' certificates (--cert-dir DIR with "
                "DIR/clients/<thing>.pem and .key, or --client-cert/--client-key)"
            )
        low, high = AWS_KEEPALIVE
        if not low <= self.keepalive <= high:
            raise UsageError(f"--keepalive: AWS IoT accepts {low} to {high} seconds")

    @property
    def kind(self) -> Kind:
        if self.control_plane in ("embedded", "aws"):
            return "embedded" if self.control_plane == "embedded" else "aws"
        return "url"

    @property
    def rate(self) -> float:
        if self.connect_rate is not None:
            return self.connect_rate
        return AWS_CONNECT_RATE if self.kind == "aws" else DEFAULT_CONNECT_RATE

    @property
    def ca(self) -> Path | None:
        if self.ca_file is not None:
            return self.ca_file
        if self.cert_dir is not None and (self.cert_dir / "ca.pem").is_file():
            return self.cert_dir / "ca.pem"
        return None

    def credentials(self, name: str) -> tuple[Path, Path]:
        """The certificate and key of thing ``name`` in ``cert_dir``."""
        assert self.cert_dir is not None
        clients = self.cert_dir / "clients"
        return clients / f"{name}.pem", clients / f"{name}.key"

    def check_credentials(self, names: Sequence[str]) -> None:
        """Every device of ``names`` has its certificate and key (``cert_dir`` only)."""
        if self.cert_dir is None:
            return
        for name in names:
            for path in self.credentials(name):
                if not path.is_file():
                    raise UsageError(
                        f"--cert-dir: no {path} for {name} (write them with `fleetsim "
                        "broker-config --tls --devices N`, or name AWS certificates so)"
                    )

    def pool_options(self, names: Sequence[str]) -> PoolOptions:
        """The device pool's options; device ``i`` is thing ``names[i]``."""
        tls = None
        if self.broker.tls:
            if self.cert_dir is not None:
                tls = TlsConfig(
                    ca_file=self.ca,
                    device_credentials=lambda i: self.credentials(names[i]),
                )
            else:
                tls = TlsConfig(
                    ca_file=self.ca, cert_file=self.client_cert, key_file=self.client_key
                )
        aws = self.kind == "aws"
        return PoolOptions(
            keepalive=self.keepalive,
            clean_session=self.clean_session,
            connect_rate=self.rate,
            connect_burst=min(50, max(1, int(self.rate))),
            backoff_base=AWS_BACKOFF_BASE if aws else 0.5,
            source_addresses=self.source_addresses,
            tls=tls,
        )

    def bridge_config(self) -> BridgeConfig:
        """The embedded emulator's bridge: its own identity from ``cert_dir``, if any."""
        tls = None
        if self.broker.tls:
            cert, key = self.client_cert, self.client_key
            if self.cert_dir is not None:
                own = self.credentials(DEFAULT_EMULATOR_IDENTITY)
                cert, key = own if own[0].is_file() and own[1].is_file() else (None, None)
            tls = TlsConfig(ca_file=self.ca, cert_file=cert, key_file=key)
        return BridgeConfig(
            broker=self.broker,
            tls=tls,
            client_id=DEFAULT_EMULATOR_IDENTITY,
            connections=self.bridge_connections,
        )
