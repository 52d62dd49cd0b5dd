"""``fleetsim broker-config``: write a Mosquitto configuration for a run of the emulator.

With ``--acl-from URL`` the ACL also names the certificates a ``fleetsim serve`` issued
(CreateKeysAndCertificate, e.g. by ``fleetsim provision``): for every ACTIVE certificate
attached to a thing, ``user <its CN>`` may use ``$aws/things/<thing>/#``, read through the
emulator's API (ListCertificates, ListPrincipalThings, DescribeCertificate) with boto3.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path
from typing import Any

from simulator.core.errors import UsageError
from simulator.transport.broker import DEVICE_PATTERN, BrokerLayout, write_broker_config
from simulator.transport.certs import DEFAULT_EMULATOR_IDENTITY

__all__ = ["register", "run"]

_PERCENT_PATTERN = DEVICE_PATTERN.replace("%", "%%")  # argparse %-formats help strings

_DESCRIPTION = """\
Write a Mosquitto configuration for `fleetsim serve --mqtt` and a fleet into DIR:

  mosquitto.conf   listener, persistence off, max_connections -1, max_queued_messages,
                   max_inflight_messages 0, the ACL file and (with --tls) mutual TLS
  acl              devices: `pattern readwrite $aws/things/%u/#` (a device may use only its
                   own thing's topics); the emulator: `user NAME` + `topic readwrite $aws/#`
  with --tls:      ca.pem/ca.key (project CA, reused if present), server.pem/server.key
                   (SAN localhost, 127.0.0.1), clients/NAME.pem/.key for the emulator and,
                   with --devices N, for each thing (CN = thing name). Keys are 0600.

With --tls the broker requires a client certificate and uses its CN as the user name
(use_identity_as_username), so identities are proven; allow_anonymous is false. Without
--tls anonymous clients are allowed and the ACL relies on the user name a client claims:
devices connect with user name = thing name, the emulator with --mqtt-username NAME.

With --acl-from http://HOST:PORT (and --tls), the ACL also gets, for every ACTIVE certificate
that `fleetsim serve` issued and that is attached to a thing, `user <certificate CN>` +
`topic readwrite $aws/things/<thing>/#`. Re-run it after provisioning; a running Mosquitto
reads the new ACL on SIGHUP (kill -HUP <pid>).

Then start the broker with `mosquitto -c DIR/mosquitto.conf` and the emulator with
  fleetsim serve --mqtt mqtts://127.0.0.1:8883 --mqtt-ca DIR/ca.pem \\
      --mqtt-cert DIR/clients/fleetsim-emulator.pem --mqtt-key DIR/clients/fleetsim-emulator.key
(the command prints the exact lines). Never commit the generated keys and certificates.
"""


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "broker-config",
        help="write a Mosquitto configuration (listener, TLS, per-thing ACL) for a run",
        description=_DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--out", required=True, type=Path, metavar="DIR", help="output directory")
    parser.add_argument("--host", default="127.0.0.1", help="address the listener binds")
    parser.add_argument(
        "--port", type=int, help="listener port (default 8883 with --tls, else 1883)"
    )
    parser.add_argument("--tls", action="store_true", help="mutual TLS with generated certificates")
    parser.add_argument(
        "--server-name",
        action="append",
        default=[],
        metavar="HOST",
        help="another DNS name or IP address for the broker certificate (besides localhost and "
        "127.0.0.1; repeatable)",
    )
    parser.add_argument(
        "--things-pattern",
        action="append",
        metavar="TOPIC",
        help=f"ACL pattern a device may use, with %%u = its name (default {_PERCENT_PATTERN}; "
        "repeatable)",
    )
    parser.add_argument(
        "--emulator-identity",
        default=DEFAULT_EMULATOR_IDENTITY,
        metavar="NAME",
        help="the emulator's user name / certificate CN, allowed on all of $aws/#",
    )
    parser.add_argument(
        "--devices", type=int, default=0, metavar="N", help="issue N device certificates (--tls)"
    )
    parser.add_argument(
        "--name-format",
        default="device-{index:06d}",
        metavar="FMT",
        help="thing names for --devices, with {index} from 0 (default device-{index:06d})",
    )
    parser.add_argument(
        "--max-queued-messages",
        type=int,
        default=100_000,
        metavar="N",
        help="messages Mosquitto queues per slow or offline client",
    )
    parser.add_argument(
        "--broker-user",
        metavar="ACCOUNT",
        help="account Mosquitto runs as (default: root when run as root, so it can read the "
        "0600 key; given as root, the key and ACL are handed to ACCOUNT)",
    )
    parser.add_argument(
        "--acl-from",
        metavar="URL",
        help="also allow each ACTIVE certificate of this `fleetsim serve` (http://HOST:PORT) "
        "the topics of the things it is attached to (--tls)",
    )
    parser.add_argument(
        "--region",
        default="us-east-1",
        help="the emulator's --region (its SigV4 scope), with --acl-from",
    )
    parser.set_defaults(handler=run)


def _device_users(url: str, region: str) -> tuple[tuple[str, tuple[str, ...]], ...]:
    """(certificate CN, things) of every ACTIVE certificate attached to a thing, by CN."""
    import boto3  # type: ignore[import-untyped]  # noqa: PLC0415
    from botocore.config import Config  # noqa: PLC0415
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415

    from simulator.engine.mqtt.options import parse_control_plane  # noqa: PLC0415
    from simulator.engine.mqtt.provision import (  # noqa: PLC0415
        WORKERS,
        describe_error,
        some,
        thread_map,
    )
    from simulator.services.registry.ca import common_name  # noqa: PLC0415

    if parse_control_plane(url) in ("aws", "embedded"):
        raise UsageError(f"--acl-from {url!r}: give the http://HOST:PORT of a `fleetsim serve`")
    session = boto3.Session(region_name=region)
    keys = {} if session.get_credentials() is not None else {"aws_access_key_id": "test"}
    if keys:
        keys["aws_secret_access_key"] = "test"
    config = Config(max_pool_connections=WORKERS * 2, retries={"mode": "standard"})
    iot = session.client("iot", endpoint_url=url.rstrip("/"), config=config, **keys)

    def pages(call: Any, key: str, token_in: str, token_out: str, **kw: Any) -> list[Any]:
        items: list[Any] = []
        token = None
        while True:
            page = call(**kw, **some(**{token_in: token}))
            items += page.get(key, [])
            token = page.get(token_out)
            if not token:
                return items

    def one(cert: dict[str, Any]) -> tuple[str, tuple[str, ...]] | None:
        things = pages(
            iot.list_principal_things,
            "things",
            "nextToken",
            "nextToken",
            principal=cert["certificateArn"],
            maxResults=250,
        )
        if not things:
            return None
        described = iot.describe_certificate(certificateId=cert["certificateId"])
        name = common_name(described["certificateDescription"]["certificatePem"])
        return None if name is None else (name, tuple(sorted(things)))

    try:
        certs = pages(
            iot.list_certificates,
            "certificates",
            "marker",
            "nextMarker",
            pageSize=250,
            ascendingOrder=True,
        )
        active = [c for c in certs if c.get("status") == "ACTIVE"]
        found = [entry for entry in thread_map(one, active) if entry is not None]
    except (ClientError, BotoCoreError) as exc:
        raise UsageError(f"--acl-from {url}: {describe_error(exc)}") from None
    return tuple(sorted(found))


def run(args: argparse.Namespace) -> int:
    layout = BrokerLayout(
        out=args.out,
        host=args.host,
        port=args.port,
        tls=args.tls,
        things_patterns=tuple(args.things_pattern or (DEVICE_PATTERN,)),
        emulator_identity=args.emulator_identity,
        devices=args.devices,
        name_format=args.name_format,
        max_queued_messages=args.max_queued_messages,
        broker_user=args.broker_user,
        server_hosts=("localhost", "127.0.0.1", *args.server_name),
    )
    if args.acl_from is not None:
        if not args.tls:
            raise UsageError("--acl-from names devices by certificate: it needs --tls")
        users = _device_users(args.acl_from, args.region)
        layout = dataclasses.replace(layout, device_users=users)
    files = write_broker_config(layout)
    print(f"wrote {files.config}")
    print(f"wrote {files.acl}")
    if args.acl_from is not None:
        print(f"{len(layout.device_users)} certificates of {args.acl_from} in the ACL")
    uri = f"{'mqtts' if layout.tls else 'mqtt'}://{layout.host}:{layout.listen_port}"
    if files.ca is not None and files.server is not None and files.emulator is not None:
        print(f"wrote {files.ca} (project CA)")
        print(f"wrote {files.server.cert} and {files.server.key} (broker)")
        print(f"wrote {files.emulator.cert} and {files.emulator.key} (emulator)")
        if files.devices:
            print(
                f"wrote {len(files.devices)} device certificates in {files.ca.parent / 'clients'}"
            )
        serve = (
            f"fleetsim serve --mqtt {uri} --mqtt-ca {files.ca} "
            f"--mqtt-cert {files.emulator.cert} --mqtt-key {files.emulator.key}"
        )
    else:
        serve = f"fleetsim serve --mqtt {uri} --mqtt-username {layout.emulator_identity}"
    print(f"start the broker:   {files.command}")
    print(f"start the emulator: {serve}")
    return 0
