"""``fleetsim provision`` / ``fleetsim deprovision``: a fleet's things, certificates and policy.

``provision`` creates, in AWS IoT or a ``fleetsim serve``: a thing group, one least-privilege
IoT policy (:func:`device_policy`), and per device a thing in that group, a certificate
(CreateKeysAndCertificate, ACTIVE) written as ``DIR/clients/<thing>.pem`` and ``.key`` (0600),
the policy attached to the certificate and the certificate attached to the thing. The group and
policy it creates are tagged ``fleetsim:provision=<run id>`` (AWS tags neither things nor
certificates). ``DIR/ca.pem`` is the emulator's CA (``GET /fleetsim/ca.pem``); against AWS it is
Amazon Root CA 1, which the user downloads.

Everything created is recorded as it happens (:class:`~.provisioning.Manifest`), so
``deprovision`` removes exactly that, also after Ctrl-C. Things, a group or a policy that
existed already are used, recorded as not created, and left in place (only what provision
attached to them is detached).
"""

from __future__ import annotations

import argparse
import os
import re
import urllib.request
import uuid
from pathlib import Path
from typing import Any, Final

import orjson

from simulator.commands.provisioning import (
    JOURNAL,
    MANIFEST,
    Api,
    Manifest,
    aws_errors,
    each,
    interrupts,
    load_manifest,
)
from simulator.core.errors import UsageError

__all__ = ["device_policy", "register"]

TAG_KEY: Final = "fleetsim:provision"
DEFAULT_POLICY: Final = "fleetsim-device-policy"
AMAZON_ROOT_CA: Final = "https://www.amazontrust.com/repository/AmazonRootCA1.pem"
_THING: Final = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
_POLICY: Final = re.compile(r"[\w+=,.@-]{1,128}")
_NOT_FOUND: Final = {"ResourceNotFoundException"}
_MAX_DEVICES: Final = 1_000_000


def device_policy(region: str, account: str) -> str:
    """The least-privilege device policy: connect as its own thing, use only its own topics."""
    arn = f"arn:aws:iot:{region}:{account}"
    me = "${iot:Connection.Thing.ThingName}"
    statements = [
        {"Effect": "Allow", "Action": "iot:Connect", "Resource": f"{arn}:client/{me}"},
        {
            "Effect": "Allow",
            "Action": ["iot:Publish", "iot:Receive"],
            "Resource": f"{arn}:topic/$aws/things/{me}/*",
        },
        {
            "Effect": "Allow",
            "Action": "iot:Subscribe",
            "Resource": f"{arn}:topicfilter/$aws/things/{me}/*",
        },
    ]
    document = {"Version": "2012-10-17", "Statement": statements}
    return orjson.dumps(document, option=orjson.OPT_INDENT_2).decode()


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "provision",
        help="create a fleet's things, group, certificates and device policy (AWS or serve)",
        description=(
            "Create a thing group, one least-privilege device policy and, per device, a thing "
            "in the group and an ACTIVE certificate (DIR/clients/<thing>.pem and .key) "
            "attached to the thing and to the policy, in AWS IoT (--target aws) or a "
            "`fleetsim serve` (--target http://HOST:PORT). DIR/fleetsim-provision.json records "
            "what was created, also when interrupted; `fleetsim deprovision` removes it. "
            "DIR/ca.pem: the emulator's CA; against AWS, download Amazon Root CA 1 there "
            f"({AMAZON_ROOT_CA})."
        ),
    )
    _common(parser)
    names = parser.add_mutually_exclusive_group(required=True)
    names.add_argument("--scenario", type=Path, metavar="FILE", help="names: fleet.name_format")
    names.add_argument("--prefix", metavar="P", help="names: P + 6-digit index (P000000...)")
    parser.add_argument("--devices", type=int, metavar="N", help="how many (default: scenario's)")
    parser.add_argument("--first-index", type=int, metavar="I", help="first device index")
    parser.add_argument("--group", metavar="NAME", help="thing group (default: fleet.group)")
    parser.add_argument(
        "--policy-name", default=DEFAULT_POLICY, metavar="NAME", help=f"default {DEFAULT_POLICY}"
    )
    parser.set_defaults(handler=provision)
    undo = commands.add_parser(
        "deprovision",
        help="remove exactly what `fleetsim provision` recorded in DIR/fleetsim-provision.json",
        description=(
            "Detach, deactivate and delete the certificates, delete the things, group and "
            "policy that `fleetsim provision` created (as DIR/fleetsim-provision.json lists "
            "them, also after an interrupted provision), and the files it wrote."
        ),
    )
    _common(undo)
    undo.set_defaults(handler=deprovision)


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--target", required=True, metavar="aws|URL", help="aws, or http://HOST:PORT of serve"
    )
    parser.add_argument(
        "--cert-dir",
        required=True,
        type=Path,
        metavar="DIR",
        help="device credentials (DIR/clients/) and the manifest",
    )
    parser.add_argument("--region", help="AWS region (default: the scenario's, boto3's)")
    parser.add_argument(
        "--rate",
        metavar="SPEC",
        help="pace calls as `fleetsim serve --throttle` SPEC (default: aws against AWS, "
        "none against a URL)",
    )
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _target(text: str) -> str:
    from simulator.engine.mqtt.options import parse_control_plane  # noqa: PLC0415

    try:
        target = parse_control_plane(text)
    except UsageError:
        target = "embedded"
    if target == "embedded":
        raise UsageError(f"--target {text!r}: give aws or the http://HOST:PORT of fleetsim serve")
    return target


def _api(args: argparse.Namespace, target: str, region: str | None) -> Api:
    rate = args.rate or ("aws" if target == "aws" else "none")
    return Api(target, region, rate, interrupts())


def _plan(args: argparse.Namespace) -> tuple[list[str], str, str | None]:
    """(thing names, group, region) from the scenario or the prefix."""
    first = args.first_index
    if first is not None and first < 0:
        raise UsageError("--first-index must not be negative")
    if args.scenario is not None:
        from simulator.engine.scenario import load_scenario  # noqa: PLC0415

        scenario = load_scenario(args.scenario)
        count = args.devices if args.devices is not None else scenario.fleet.devices
        start = first if first is not None else scenario.fleet.first_index
        name_of = scenario.thing_name
        group, region = scenario.fleet.group, args.region or scenario.catalog.region
    else:
        count, start, group, region = args.devices, first or 0, f"{args.prefix}fleet", args.region

        def name_of(index: int) -> str:
            return f"{args.prefix}{index:06d}"

        if count is None:
            raise UsageError("--prefix needs --devices N")
    if not 1 <= count <= _MAX_DEVICES:
        raise UsageError(f"--devices must be between 1 and {_MAX_DEVICES:,}")
    names = [name_of(start + k) for k in range(count)]
    group = args.group or group
    for name in (names[0], names[-1], group):
        if not _THING.fullmatch(name):
            raise UsageError(f"{name!r} is not a thing or group name ([a-zA-Z0-9:_-], 1-128)")
    if not _POLICY.fullmatch(args.policy_name):
        raise UsageError(f"--policy-name {args.policy_name!r}: [a-zA-Z0-9_+=,.@-], 1-128")
    return names, group, region


def _write(path: Path, data: str, mode: int) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "w") as out:
        out.write(data)


def _ca(api: Api, target: str, directory: Path, manifest: Manifest) -> str:
    """Put the CA devices verify the broker with into DIR/ca.pem; a line saying what was done."""
    from simulator.api.http.dispatch import CA_PATH  # noqa: PLC0415

    path = directory / "ca.pem"
    if target == "aws":
        endpoint = api("DescribeEndpoint", endpointType="iot:Data-ATS")["endpointAddress"]
        where = f"devices connect to mqtts://{endpoint}:8883"
        if path.exists():
            return f"{where}, verified with {path}"
        return (
            f"{where}, verified with Amazon Root CA 1: download {AMAZON_ROOT_CA} "
            f"to {path} (fleetsim does not download it)"
        )
    try:
        with urllib.request.urlopen(target + CA_PATH, timeout=30) as reply:
            pem = reply.read().decode()
    except OSError as exc:
        raise UsageError(f"cannot read the emulator's CA at {target}{CA_PATH}: {exc}") from None
    if path.exists() and path.read_text() != pem:
        path = directory / "emulator-ca.pem"
    if not path.exists() or path.read_text() != pem:
        _write(path, pem, 0o644)
        manifest.record("file", path=str(path))
    return f"the emulator's CA (it signs the device certificates) is {path}"


def _prepare(args: argparse.Namespace) -> tuple[list[str], str, str | None, str, Path]:
    """Check everything before any call: (names, group, region, target, clients dir)."""
    from simulator.api.http.throttle import parse_throttle  # noqa: PLC0415

    names, group, region = _plan(args)
    target = _target(args.target)
    if args.rate is not None:
        parse_throttle(args.rate)  # a bad SPEC is refused before anything is written
    directory: Path = args.cert_dir
    clients = directory / "clients"
    if (directory / MANIFEST).exists() or (directory / JOURNAL).exists():
        raise UsageError(
            f"{directory / MANIFEST} exists: run `fleetsim deprovision --target {args.target} "
            f"--cert-dir {directory}` first, or use another --cert-dir"
        )
    try:
        clients.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {clients}: {exc.strerror}") from None
    taken = [n for n in names if (clients / f"{n}.pem").exists() or (clients / f"{n}.key").exists()]
    if taken:
        raise UsageError(f"{clients / taken[0]}.pem/.key exists: use another --cert-dir")
    return names, group, region, target, clients


def _group_and_policy(
    api: Api, manifest: Manifest, group: str, policy_name: str, tags: list[dict[str, str]]
) -> None:
    """The thing group and the device policy: found, or created and tagged."""
    found = api.tolerant(_NOT_FOUND, "DescribeThingGroup", thingGroupName=group)
    created = found is None
    if found is None:
        found = api("CreateThingGroup", thingGroupName=group, tags=tags)
    group_arn = found["thingGroupArn"]
    manifest.record("group", name=group, arn=group_arn, created=created)
    account = api.account or group_arn.split(":")[4]
    policy = api.tolerant(_NOT_FOUND, "GetPolicy", policyName=policy_name)
    if policy is None:
        document = device_policy(api.region, account)
        policy = api("CreatePolicy", policyName=policy_name, policyDocument=document, tags=tags)
        manifest.record("policy", name=policy_name, arn=policy["policyArn"], created=True)
    else:
        manifest.record("policy", name=policy_name, arn=policy["policyArn"], created=False)


def provision(args: argparse.Namespace) -> int:
    names, group, region, target, clients = _prepare(args)
    directory: Path = args.cert_dir
    api = _api(args, target, region)
    run_id = str(uuid.uuid4())
    header = {"fleetsim": "provision", "version": 1, "run": run_id, "target": target}
    manifest = Manifest(directory, header | {"region": api.region, "devices": len(names)})
    done: list[str] = []

    def device(name: str) -> None:
        exists = api.tolerant(_NOT_FOUND, "DescribeThing", thingName=name)
        arn = exists["thingArn"] if exists else api("CreateThing", thingName=name)["thingArn"]
        manifest.record("thing", name=name, arn=arn, created=exists is None)
        api("AddThingToThingGroup", thingGroupName=group, thingName=name)
        manifest.record("member", thing=name, group=group)
        cert = api("CreateKeysAndCertificate", setAsActive=True)
        cert_arn = cert["certificateArn"]
        manifest.record("certificate", id=cert["certificateId"], arn=cert_arn, thing=name)
        for suffix, data, mode in (
            ("pem", cert["certificatePem"], 0o644),
            ("key", cert["keyPair"]["PrivateKey"], 0o600),
        ):
            path = clients / f"{name}.{suffix}"
            _write(path, data, mode)
            manifest.record("file", path=str(path))
        api("AttachPolicy", policyName=args.policy_name, target=cert_arn)
        manifest.record("policy-attachment", policy=args.policy_name, target=cert_arn)
        api("AttachThingPrincipal", thingName=name, principal=cert_arn)
        manifest.record("thing-principal", thing=name, principal=cert_arn)
        done.append(name)

    try:
        with aws_errors(f"--target {args.target}"):
            note = _ca(api, target, directory, manifest)
            tags = [{"Key": TAG_KEY, "Value": run_id}]
            _group_and_policy(api, manifest, group, args.policy_name, tags)
        failures = each(device, names, "provisioning", args.quiet)
    finally:
        kept = manifest.finish(complete=len(done) == len(names))
    for line in failures[:20]:
        print(f"fleetsim provision: {line}")
    print(
        f"provisioned {len(done)} of {len(names)} devices in group {group}, policy "
        f"{args.policy_name}; {note}"
    )
    if kept:
        print(f"manifest: {directory / MANIFEST}")
    if kept and len(done) < len(names):
        print(
            f"to remove what was created: fleetsim deprovision --target {args.target} "
            f"--cert-dir {directory}"
        )
    return 130 if api.stop.is_set() else (1 if failures else 0)


def _settle(api: Api, codes: set[str], operation: str, **kwargs: Any) -> Any:
    """AWS detaches asynchronously: retry a delete refused for a detachment in flight."""
    from simulator.engine.mqtt.provision import error_code  # noqa: PLC0415

    for attempt in range(5):
        try:
            return api.tolerant(_NOT_FOUND, operation, **kwargs)
        except Exception as exc:
            if error_code(exc) not in codes or attempt == 4 or api.stop.wait(2.0**attempt):
                raise
    return None


def deprovision(args: argparse.Namespace) -> int:
    directory: Path = args.cert_dir
    manifest = load_manifest(directory)
    target = _target(args.target)
    if manifest.get("target") != target:
        raise UsageError(
            f"{directory / MANIFEST} lists resources of --target {manifest.get('target')}, "
            f"not {target}"
        )
    api = _api(args, target, manifest.get("region") or args.region)
    ours = {
        kind: {e["name"] for e in manifest[kind] if e.get("created")}
        for kind in ("things", "groups", "policies")
    }
    policies = {e["name"] for e in manifest["policies"]}
    things_of: dict[str, set[str]] = {}
    for entry in manifest["thing_principals"]:
        things_of.setdefault(entry["principal"], set()).add(entry["thing"])
    certs = {c["id"]: c for c in manifest["certificates"]}

    def certificate(cert_id: str) -> None:
        arn = certs[cert_id]["arn"]
        for thing in sorted(things_of.get(arn, set()) | {certs[cert_id]["thing"]}):
            api.tolerant(_NOT_FOUND, "DetachThingPrincipal", thingName=thing, principal=arn)
        for policy in sorted(policies):
            bad = _NOT_FOUND | {"InvalidRequestException"}  # a policy gone already
            api.tolerant(bad, "DetachPolicy", policyName=policy, target=arn)
        api.tolerant(_NOT_FOUND, "UpdateCertificate", certificateId=cert_id, newStatus="INACTIVE")
        _settle(api, {"DeleteConflictException"}, "DeleteCertificate", certificateId=cert_id)

    def membership(entry: tuple[str, str]) -> None:
        thing, group = entry
        api.tolerant(_NOT_FOUND, "RemoveThingFromThingGroup", thingGroupName=group, thingName=thing)

    memberships = sorted(
        {
            (m["thing"], m["group"])
            for m in manifest["memberships"]
            if m["thing"] not in ours["things"] and m["group"] not in ours["groups"]
        }
    )
    failures = each(certificate, sorted(certs), "certificates", args.quiet)
    failures += each(membership, memberships, "memberships", args.quiet)
    failures += each(
        lambda name: _settle(api, {"InvalidRequestException"}, "DeleteThing", thingName=name),
        sorted(ours["things"]),
        "things",
        args.quiet,
    )
    failures += each(
        lambda name: api("DeleteThingGroup", thingGroupName=name),
        sorted(ours["groups"]),
        "groups",
        args.quiet,
    )
    failures += each(
        lambda name: _settle(api, {"DeleteConflictException"}, "DeletePolicy", policyName=name),
        sorted(ours["policies"]),
        "policies",
        args.quiet,
    )
    if api.stop.is_set() or failures:
        for line in failures[:20]:
            print(f"fleetsim deprovision: {line}")
        print(f"deprovision incomplete; {directory / MANIFEST} is kept: run it again")
        return 130 if api.stop.is_set() else 1
    for entry in manifest["files"]:
        Path(entry["path"]).unlink(missing_ok=True)
    for name in (MANIFEST, JOURNAL):
        (directory / name).unlink(missing_ok=True)
    print(
        f"deprovisioned {len(certs)} certificates, {len(ours['things'])} things, "
        f"{len(ours['groups'])} groups, {len(ours['policies'])} policies; removed "
        f"{len(manifest['files'])} files and the manifest"
    )
    return 0
