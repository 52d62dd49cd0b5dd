"""``fleetsim run ... --broker URI``: the MQTT options of ``fleetsim run`` and their checks.

Registered on ``fleetsim run`` by :func:`add_arguments`; :func:`mqtt_options` turns them into
:class:`~simulator.engine.mqtt.MqttOptions` (None without ``--broker``), refusing bad
combinations with one :class:`~simulator.core.errors.UsageError` line (exit 2).
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

from simulator.core.errors import UsageError

if TYPE_CHECKING:
    from simulator.engine.mqtt import MqttOptions

__all__ = ["add_arguments", "mqtt_options"]

_MQTT_ONLY = (
    "broker_ca",
    "cert_dir",
    "client_cert",
    "client_key",
    "connect_rate",
    "source_addresses",
    "shard",
    "control_plane",
    "keepalive",
    "clean_session",
    "bridge_connections",
    "rollout_rate",
    "region",
)


def add_arguments(parser: Any) -> None:
    group = parser.add_argument_group(
        "MQTT",
        "Run the fleet over a real MQTT broker (real clock): each device gets its own "
        "connection (client id = thing name, QoS 1, persistent session). See README "
        "'Running over MQTT'.",
    )
    group.add_argument("--broker", metavar="URI", help="mqtt://HOST[:PORT] or mqtts://HOST[:PORT]")
    group.add_argument(
        "--control-plane",
        metavar="WHERE",
        help="embedded (default: the emulator in this process, on the broker), the URL of a "
        "`fleetsim serve --mqtt` on the same broker, or aws (AWS IoT, boto3 credentials)",
    )
    group.add_argument("--broker-ca", type=Path, metavar="FILE", help="CA to verify the broker")
    group.add_argument(
        "--cert-dir",
        type=Path,
        metavar="DIR",
        help="per-device certificates DIR/clients/<thing>.pem and .key (and DIR/ca.pem), as "
        "`fleetsim broker-config --tls --devices N` writes them",
    )
    group.add_argument("--client-cert", type=Path, metavar="FILE", help="one cert for the fleet")
    group.add_argument("--client-key", type=Path, metavar="FILE", help="its private key")
    group.add_argument(
        "--connect-rate",
        type=float,
        metavar="N",
        help="CONNECTs per second (default 2000; 100 with --control-plane aws)",
    )
    group.add_argument(
        "--source-addresses",
        metavar="LIST",
        help="auto (default: 64 loopback addresses for a 127.x broker), none, loopback:N, "
        "or A,B,... to spread connections over",
    )
    group.add_argument(
        "--shard",
        metavar="K/N",
        help="run only shard K of N (K from 0) of the fleet's index range; needs an external "
        "control plane; shard 0 creates the jobs",
    )
    group.add_argument("--keepalive", type=int, metavar="S", help="MQTT keep-alive (default 60)")
    group.add_argument(
        "--clean-session",
        action="store_true",
        default=None,
        help="clean sessions (default: persistent, so queued replies survive a reconnect)",
    )
    group.add_argument(
        "--bridge-connections",
        type=int,
        metavar="K",
        help="connections of the embedded emulator's bridge (1-10, default 1)",
    )
    group.add_argument(
        "--rollout-rate",
        type=int,
        metavar="N",
        help="embedded emulator: release up to N executions per minute per job (default: "
        "AWS's 1000; raise it to roll a large fleet out quickly on the real clock)",
    )
    group.add_argument("--region", metavar="REGION", help="AWS region (--control-plane aws)")


def mqtt_options(args: argparse.Namespace) -> MqttOptions | None:
    """The run's MQTT options, or None for an in-process run (no ``--broker``)."""
    if args.broker is None:
        given = [name for name in _MQTT_ONLY if getattr(args, name) is not None]
        if given:
            flag = "--" + given[0].replace("_", "-")
            raise UsageError(f"{flag} needs --broker URI (an MQTT run)")
        return None
    from simulator.engine.mqtt import (  # noqa: PLC0415 - in-process runs skip the transport
        MqttOptions,
        parse_control_plane,
        parse_source_addresses,
    )
    from simulator.transport.mqtt import parse_broker_uri, parse_shard  # noqa: PLC0415

    extra: dict[str, Any] = {}
    if args.keepalive is not None:
        extra["keepalive"] = args.keepalive
    if args.bridge_connections is not None:
        extra["bridge_connections"] = args.bridge_connections
        if not 1 <= args.bridge_connections <= 10:
            raise UsageError("--bridge-connections must be 1..10")
    control_plane = parse_control_plane(args.control_plane or "embedded")
    if args.region is not None and control_plane != "aws":
        raise UsageError("--region is for --control-plane aws")
    if args.bridge_connections is not None and control_plane != "embedded":
        raise UsageError("--bridge-connections is for the embedded control plane")
    return MqttOptions(
        broker=parse_broker_uri(args.broker),
        control_plane=control_plane,
        shard=parse_shard(args.shard or "0/1"),
        ca_file=args.broker_ca,
        cert_dir=args.cert_dir,
        client_cert=args.client_cert,
        client_key=args.client_key,
        connect_rate=args.connect_rate,
        source_addresses=None
        if args.source_addresses is None
        else parse_source_addresses(args.source_addresses),
        clean_session=bool(args.clean_session),
        rollout_per_minute=args.rollout_rate,
        region=args.region,
        **extra,
    )
