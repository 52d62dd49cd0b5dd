"""``fleetsim broker-config``: write a Mosquitto configuration for a run of the emulator.

With ``--acl-from URL`` the ACL also names the certificates a ``fleetsim serve`` issued
(CreateKeysAndCertificate, e.g. by ``fleetsim provision``): for every ACTIVE certificate
attached to a thing, ``user <its CN>`` may use what the IoT policies attached to it allow
(:mod:`.broker_acl` reads them, :mod:`simulator.core.policy` translates them), or with
``--acl-mode things`` its things' ``$aws/things/<thing>/#``.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from simulator.core.errors import UsageError
from simulator.transport.broker import DEVICE_PATTERN, BrokerLayout, write_broker_config
from simulator.transport.certs import DEFAULT_EMULATOR_IDENTITY

if TYPE_CHECKING:
    from simulator.commands.broker_acl import AclPlan
    from simulator.core.policy import Reach

__all__ = ["register", "run"]

_MAX_NOTES: Final = 20

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
that `fleetsim serve` issued and that is attached to a thing, `user <certificate CN>` and the
topics the IoT policies attached to the certificate (and to its things' groups) allow, with
${iot:Connection.Thing.ThingName} and ${iot:ClientId} = the thing name (--acl-mode policy, the
default): write = iot:Publish, read = iot:Receive through a filter iot:Subscribe allows, deny
lines for Deny statements. Never more than the policy allows: what Mosquitto's ACL cannot say
(`*` inside a level, a Deny it cannot write) is left out and noted on stderr. Mosquitto does
not check subscriptions (a refused one is granted but delivers nothing) nor client ids
(iot:Connect: a device the policy does not let connect as its thing gets no topics). A policy
that lets a device use another thing's topics is reported on stderr (--strict: exit 1).
--acl-mode things: `topic readwrite $aws/things/<thing>/#` per thing, whatever the policies.
Re-run it after provisioning; a running Mosquitto reads the new ACL on SIGHUP (kill -HUP PID).

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
        "what its IoT policies allow, for the things it is attached to (--tls)",
    )
    parser.add_argument(
        "--acl-mode",
        choices=("policy", "things"),
        default="policy",
        help="with --acl-from: what each certificate may use: what the IoT policies attached to "
        "it (and its things' groups) allow (policy, default), or its things' $aws/things/T/# "
        "whatever the policies say (things)",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="with --acl-from: exit 1 when a policy lets a device use another thing's topics "
        "(the files are written all the same)",
    )
    parser.add_argument(
        "--region",
        default="us-east-1",
        help="the emulator's --region (its SigV4 scope), with --acl-from",
    )
    parser.set_defaults(handler=run)


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
    acl_plan = None
    if args.acl_from is not None:
        if not args.tls:
            raise UsageError("--acl-from names devices by certificate: it needs --tls")
        from simulator.commands.broker_acl import fetch, plan  # noqa: PLC0415

        mode = args.acl_mode
        fleet = fetch(args.acl_from, args.region, policies=mode == "policy")
        if mode == "things":
            users = tuple((c.identity, c.things) for c in fleet.certificates)
            layout = dataclasses.replace(layout, device_users=users)
        else:
            acl_plan = plan(fleet, mode)
            layout = dataclasses.replace(layout, user_acls=acl_plan.users)
            if any("%c" in pattern for pattern in layout.things_patterns):
                print(
                    "fleetsim broker-config: warning: a --things-pattern with %c applies to "
                    "every certificate, whatever its policies (Mosquitto does not check client "
                    "ids)",
                    file=sys.stderr,
                )
    files = write_broker_config(layout)
    print(f"wrote {files.config}")
    print(f"wrote {files.acl}")
    if args.acl_from is not None:
        count = len(layout.device_users) + len(layout.user_acls)
        how = "their things' topics" if args.acl_mode == "things" else "their IoT policies"
        print(f"{count} certificates of {args.acl_from} in the ACL ({how})")
    if acl_plan is not None:
        _report(acl_plan)
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
    return 1 if args.strict and acl_plan is not None and acl_plan.reaches else 0


def _report(acl_plan: AclPlan) -> None:
    """Warnings on stderr: policies reaching other things' topics, then approximations."""
    say = functools.partial(print, file=sys.stderr)
    by_policy: dict[str, list[Reach]] = {}
    for found in acl_plan.reaches:
        by_policy.setdefault(found.policy, []).append(found)
    for policy, reached in sorted(by_policy.items()):
        devices = len({f.thing for f in reached})
        say(
            f"fleetsim broker-config: warning: policy {policy} lets {devices} device(s) use "
            f"another thing's topics, e.g. {reached[0]}"
        )
    if acl_plan.without_policy:
        say(
            f"fleetsim broker-config: warning: {acl_plan.without_policy} certificate(s) have no "
            "IoT policy: no topics (AWS would refuse them too)"
        )
    if acl_plan.without_connect:
        say(
            f"fleetsim broker-config: warning: {acl_plan.without_connect} device(s) may not "
            "connect with client id = thing name (iot:Connect): no topics"
        )
    for note in acl_plan.notes[:_MAX_NOTES]:
        say(f"fleetsim broker-config: note: {note}")
    if len(acl_plan.notes) > _MAX_NOTES:
        say(f"fleetsim broker-config: note: ... and {len(acl_plan.notes) - _MAX_NOTES} more")
