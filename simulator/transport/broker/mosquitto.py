"""Mosquitto configuration for a run: listener, limits, TLS identities and a per-thing ACL.

:func:`write_broker_config` writes into one directory::

    mosquitto.conf      listener, persistence off, limits, TLS, acl_file
    acl                 devices: only $aws/things/<own name>/...; the emulator: all of $aws/#;
                        (``device_users``) each certificate identity: only its things' topics;
                        (``user_acls``) each certificate identity: what its IoT policies allow
    ca.pem, server.*    with TLS: project CA and broker certificate (certs.py)
    clients/*.pem|key   with TLS: the emulator's and (``devices``) each thing's certificate

With TLS, identities are certificates: ``require_certificate true`` and
``use_identity_as_username true`` make the certificate's CN the MQTT user name, which the ACL's
``%u`` matches (``pattern readwrite $aws/things/%u/#``), and ``allow_anonymous false`` refuses
everyone else. Certificates the emulator issued (CreateKeysAndCertificate: CN = key id, not the
thing name) get explicit ``user <CN>`` blocks instead (``device_users``, from
``fleetsim broker-config --acl-from``): ``topic readwrite $aws/things/<thing>/#`` per thing the
certificate is attached to. ``user_acls`` are explicit lines per identity instead
(``topic deny``/``readwrite``/``write``/``read``, from :mod:`simulator.core.policy`): what the
IoT policies attached to the certificate allow.

Without TLS nothing proves who a client is: anonymous clients are let in, the ACL still matches
user names, so each device connects with its thing name as user name (and the emulator with
``--mqtt-username``); an anonymous client matches no ACL line and may use no ``$aws`` topic at
all. That is for local runs on a trusted machine only.
"""

from __future__ import annotations

import os
import pwd
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Final

from simulator.core.errors import UsageError
from simulator.transport.certs import (
    DEFAULT_EMULATOR_IDENTITY,
    Credentials,
    ProjectCA,
    check_identity,
)

__all__ = ["DEVICE_PATTERN", "BrokerFiles", "BrokerLayout", "UserAcl", "write_broker_config"]

#: The ACL line that confines a device to its own thing's topics.
DEVICE_PATTERN: Final = "$aws/things/%u/#"


@dataclass(frozen=True, slots=True)
class UserAcl:
    """One certificate identity's ACL lines: MQTT filters it may write, read, or neither.

    ``deny`` lines refuse read and write and come first (Mosquitto checks them first anyway);
    ``comment`` (one line) says where the lines come from.
    """

    identity: str
    write: tuple[str, ...] = ()
    read: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    comment: str = ""


def _check_filter(topic: str) -> None:
    """Refuse what Mosquitto's ``mosquitto_sub_topic_check`` or its line parser would."""
    levels = topic.split("/")
    bad = (
        not topic
        or not topic.isprintable()
        or any(c.isspace() for c in topic)
        or any(("+" in lv and lv != "+") or ("#" in lv and lv != "#") for lv in levels)
        or "#" in levels[:-1]
    )
    if bad:
        raise UsageError(f"ACL topic {topic!r} is not a valid MQTT topic filter")


@dataclass(frozen=True, slots=True, kw_only=True)
class BrokerLayout:
    """What to write.

    Attributes:
        out: directory for every file (created).
        host: address the listener binds.
        port: listener port; ``None`` means 8883 with TLS and 1883 without.
        tls: TLS with client certificates (mutual TLS), or plain TCP.
        things_patterns: ACL ``pattern`` topics for devices (``%u`` = user name = thing).
        emulator_identity: the emulator's user name / certificate CN; may use ``$aws/#``.
        devices: how many device certificates to issue (TLS only).
        name_format: thing names, ``str.format`` with ``index`` (0-based).
        server_hosts: names and addresses in the broker certificate.
        max_queued_messages: per-client queue while a client is slow or offline.
        broker_user: the account Mosquitto runs as (its ``user`` option); ``None`` means
            ``root`` when writing as root (Mosquitto would otherwise drop to ``mosquitto``,
            which cannot read the 0600 key written here) and nothing otherwise.
        device_users: (certificate identity, its thing names) pairs; each identity may use
            only ``$aws/things/<thing>/#`` of its things (TLS only).
        user_acls: explicit lines per certificate identity (TLS only), after ``device_users``.
    """

    out: Path
    host: str = "127.0.0.1"
    port: int | None = None
    tls: bool = False
    things_patterns: tuple[str, ...] = (DEVICE_PATTERN,)
    emulator_identity: str = DEFAULT_EMULATOR_IDENTITY
    devices: int = 0
    name_format: str = "device-{index:06d}"
    server_hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
    max_queued_messages: int = 100_000
    broker_user: str | None = None
    device_users: tuple[tuple[str, tuple[str, ...]], ...] = ()
    user_acls: tuple[UserAcl, ...] = ()

    @property
    def listen_port(self) -> int:
        return self.port if self.port is not None else (8883 if self.tls else 1883)

    def thing_name(self, index: int) -> str:
        try:
            name = self.name_format.format(index=index)
        except (KeyError, IndexError, ValueError, AttributeError) as exc:
            raise UsageError(f"--name-format {self.name_format!r}: {exc}") from None
        return check_identity(name)


@dataclass(frozen=True, slots=True)
class BrokerFiles:
    """What was written."""

    config: Path
    acl: Path
    ca: Path | None = None
    server: Credentials | None = None
    emulator: Credentials | None = None
    devices: dict[str, Credentials] = field(default_factory=dict)

    @property
    def command(self) -> str:
        return f"mosquitto -c {self.config}"


def _check_user(identity: str) -> None:
    if not identity.isprintable() or any(c.isspace() for c in identity) or not identity:
        raise UsageError(f"certificate identity {identity!r} cannot be an ACL user name")


def _check(layout: BrokerLayout) -> None:
    check_identity(layout.emulator_identity)
    if layout.port is not None and not 1 <= layout.port <= 65535:
        raise UsageError(f"--port {layout.port} is outside 1..65535")
    if layout.max_queued_messages < 0:
        raise UsageError(f"--max-queued-messages {layout.max_queued_messages} is negative")
    if layout.devices < 0:
        raise UsageError(f"--devices {layout.devices} must not be negative")
    if layout.devices and not layout.tls:
        raise UsageError("--devices issues device certificates: it needs --tls")
    if (layout.device_users or layout.user_acls) and not layout.tls:
        raise UsageError(
            "--acl-from names devices by certificate: it needs --tls (without TLS nothing "
            "proves a client's certificate)"
        )
    for identity, things in layout.device_users:
        _check_user(identity)
        for thing in things:
            check_identity(thing)
    for user in layout.user_acls:
        _check_user(user.identity)
        for topic in (*user.write, *user.read, *user.deny):
            _check_filter(topic)
        if "\n" in user.comment or "\r" in user.comment:
            raise UsageError(f"ACL comment {user.comment!r} must be one line")
    for pattern in layout.things_patterns:
        if not pattern or any(c.isspace() for c in pattern) or not pattern.isprintable():
            raise UsageError(f"--things-pattern {pattern!r} must be one topic without spaces")
        if "%u" not in pattern and "%c" not in pattern:
            raise UsageError(
                f"--things-pattern {pattern!r} names no client (%u user name or %c client id): "
                "it would open those topics to every device"
            )
    for host in (layout.host, *layout.server_hosts):
        if not host or any(c.isspace() for c in host):
            raise UsageError(f"host {host!r} is empty or contains spaces")
    if layout.broker_user is not None:
        try:
            pwd.getpwnam(layout.broker_user)
        except KeyError:
            raise UsageError(f"--broker-user {layout.broker_user!r}: no such account") from None
    if layout.devices:
        names = {layout.thing_name(0), layout.thing_name(layout.devices - 1)}
        if layout.devices > 1 and len(names) < 2:
            raise UsageError(f"--name-format {layout.name_format!r} does not use {{index}}")


def _acl(layout: BrokerLayout) -> str:
    lines = [
        "# Written by `fleetsim broker-config`. Mosquitto reads it at start (and on SIGHUP).",
        "# Devices: each may use only its own thing's topics; %u is the MQTT user name, which",
        "# is the certificate CN (= thing name) with use_identity_as_username.",
        *(f"pattern readwrite {pattern}" for pattern in layout.things_patterns),
        "",
        "# The emulator answers every thing's Jobs and Shadow requests.",
        f"user {layout.emulator_identity}",
        "topic readwrite $aws/#",
    ]
    if layout.device_users:
        lines += [
            "",
            "# Certificates the emulator issued (CN = key id), each attached to its things",
            "# (`fleetsim broker-config --acl-from`): only those things' topics.",
        ]
        for identity, things in layout.device_users:
            lines.append(f"user {identity}")
            lines += [f"topic readwrite $aws/things/{thing}/#" for thing in things]
    if layout.user_acls:
        lines += [
            "",
            "# Certificates the emulator issued: what the IoT policies attached to each allow",
            "# (`fleetsim broker-config --acl-from`; subscriptions are not checked by Mosquitto,",
            "# read lines gate delivery). A topic no line of the user matches falls through to",
            "# the patterns above, with %u = the CN (a key hash, not a thing name).",
        ]
        for user in layout.user_acls:
            lines += [f"# {user.comment}"] if user.comment else []
            lines.append(f"user {user.identity}")
            both = set(user.write) & set(user.read)
            lines += [f"topic deny {topic}" for topic in user.deny]
            lines += [f"topic readwrite {topic}" for topic in user.write if topic in both]
            lines += [f"topic write {topic}" for topic in user.write if topic not in both]
            lines += [f"topic read {topic}" for topic in user.read if topic not in both]
    return "\n".join(lines) + "\n"


def _config(layout: BrokerLayout, acl: Path, files: BrokerFiles, broker_user: str | None) -> str:
    lines = [
        "# Written by `fleetsim broker-config` for one run. Start it with:",
        f"#   mosquitto -c {files.config}",
        "per_listener_settings false",
        f"listener {layout.listen_port} {layout.host}",
        "persistence false",
        "max_connections -1",
        f"max_queued_messages {layout.max_queued_messages}",
        "# QoS 1 messages in flight to one client: unlimited, so the emulator's connection",
        "# is not held to 20 unacknowledged requests (Mosquitto's default).",
        "max_inflight_messages 0",
        "set_tcp_nodelay true",
        "log_dest stderr",
        "log_type error",
        "log_type warning",
    ]
    if broker_user is not None:
        lines.append(f"user {broker_user}")
    if layout.tls:
        assert files.ca is not None and files.server is not None
        lines += [
            f"cafile {files.ca}",
            f"certfile {files.server.cert}",
            f"keyfile {files.server.key}",
            "tls_version tlsv1.2",
            "# Mutual TLS: the certificate CN is the user name the ACL matches.",
            "require_certificate true",
            "use_identity_as_username true",
            "allow_anonymous false",
        ]
    else:
        lines += [
            "# No TLS: nothing proves a client's identity. The ACL matches user names, so",
            "# devices connect with user name = thing name and the emulator with",
            f"# --mqtt-username {layout.emulator_identity}; anonymous clients get no $aws topic.",
            "allow_anonymous true",
        ]
    lines.append(f"acl_file {acl}")
    return "\n".join(lines) + "\n"


def write_broker_config(layout: BrokerLayout) -> BrokerFiles:
    """Write the configuration, ACL and (with TLS) certificates; return their paths.

    Idempotent: an existing CA and certificates still valid for their names are kept.

    Raises:
        UsageError: a bad option, or a file that cannot be written.
    """
    _check(layout)
    out = layout.out.resolve()
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise UsageError(f"cannot create {layout.out}: {exc.strerror}") from None
    files = BrokerFiles(config=out / "mosquitto.conf", acl=out / "acl")
    if layout.tls:
        ca = ProjectCA.load_or_create(out)
        devices = {
            name: ca.issue_client(name)
            for name in (layout.thing_name(i) for i in range(layout.devices))
        }
        files = BrokerFiles(
            config=files.config,
            acl=files.acl,
            ca=ca.cert_path,
            server=ca.issue_server(layout.server_hosts),
            emulator=ca.issue_client(layout.emulator_identity),
            devices=devices,
        )
    broker_user = layout.broker_user
    if broker_user is None and os.geteuid() == 0:
        broker_user = "root"
    try:
        files.acl.write_text(_acl(layout))
        files.config.write_text(_config(layout, files.acl, files, broker_user))
        if broker_user is not None and broker_user != "root" and os.geteuid() == 0:
            # The broker drops to this account before it reads its key and ACL.
            for path in (
                files.acl,
                files.config,
                *((files.server.key,) if files.server is not None else ()),
            ):
                shutil.chown(path, user=broker_user)
    except OSError as exc:
        raise UsageError(f"cannot write the broker configuration: {exc.strerror}") from None
    return files
