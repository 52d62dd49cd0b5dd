"""``fleetsim serve``: the emulator's boto3-compatible HTTP endpoint, and optionally its MQTT side.

Prints ``fleetsim serve: listening on http://HOST:PORT`` once the socket listens (so ``--port 0``
callers learn the port). With ``--mqtt URI`` it then connects the same control plane to the broker
(:class:`simulator.transport.broker.Bridge`: the Jobs and Shadow MQTT APIs, and every broadcast)
and prints a second line, ``fleetsim serve: mqtt connected to URI``, once every connection is
subscribed. It serves until SIGINT or SIGTERM and exits 0.

``--ca-dir DIR`` signs CreateKeysAndCertificate's certificates with the CA of
``fleetsim broker-config --tls --out DIR`` (so the broker accepts them), ``--endpoint-address``
sets DescribeEndpoint's answer, ``--throttle SPEC`` limits request rates
(:mod:`simulator.api.http.throttle`). A bad URI or unreadable TLS file, or a
broker that refuses the emulator's identity, is one line on stderr and exit 2; a broker that is
not up yet is retried (with warnings on stderr) while HTTP keeps serving.

Connections are bounded (:mod:`simulator.api.http.connections`): ``--max-connections``,
``--header-timeout``, ``--idle-timeout``; the open-file limit is raised to its hard limit at start
and the cap lowered (with a warning when it was given) to what that limit leaves room for. On the
first SIGINT or SIGTERM the server stops accepting, gives in-flight requests 2 s and exits; a
second signal exits at once (status 128 + the signal's number).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import logging
import os
import re
import signal
import sys
from collections.abc import Coroutine
from pathlib import Path
from typing import TYPE_CHECKING, Any, Final

from simulator.commands import argtypes
from simulator.core.errors import UsageError

if TYPE_CHECKING:
    from simulator.api.durable import JournaledPlane, StateDir
    from simulator.api.http import ServerConfig
    from simulator.services.runtime import Publisher
    from simulator.transport.broker import BridgeConfig

__all__ = ["register", "run"]

_REGION = re.compile(r"[a-z]{2}(-[a-z]+)+-[0-9]+")
_ACCOUNT = re.compile(r"[0-9]{12}")


def _port(text: str) -> int:
    try:
        port = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid port {text!r}") from None
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"port {port} is outside 0..65535")
    return port


def register(commands: Any) -> None:
    parser = commands.add_parser(
        "serve",
        help="serve the iot, iot-jobs-data and iot-data APIs over HTTP for boto3 / AWS CLI",
        description=(
            "Emulate AWS IoT (Software Package Catalog, registry, jobs, fleet indexing), the "
            "Jobs data plane and Device Shadows on one HTTP port. Point clients at it with "
            "endpoint_url; requests are routed by their SigV4 credential scope."
        ),
    )
    parser.add_argument("--host", default="127.0.0.1", help="address to listen on")
    parser.add_argument("--port", type=_port, default=0, help="port (0: pick a free one)")
    parser.add_argument("--region", default="us-east-1", help="region of ARNs and SigV4 scope")
    parser.add_argument("--account-id", default="123456789012", help="account of ARNs")
    parser.add_argument("--access-key-id", default="test", help="access key clients sign with")
    parser.add_argument("--secret-access-key", default="test", help="its secret")
    parser.add_argument(
        "--auth",
        choices=("sigv4", "none"),
        default="sigv4",
        help="verify SigV4 signatures (default) or accept any request",
    )
    parser.add_argument(
        "--ca-dir",
        type=Path,
        metavar="DIR",
        help="sign CreateKeysAndCertificate's certificates with DIR/ca.pem + DIR/ca.key (the CA "
        "`fleetsim broker-config --tls --out DIR` writes, so the broker trusts them); default: "
        "a CA generated in memory (its PEM: GET /fleetsim/ca.pem)",
    )
    parser.add_argument(
        "--endpoint-address",
        metavar="HOST",
        help="DescribeEndpoint's endpointAddress (default: the --mqtt broker's host, else --host)",
    )
    parser.add_argument(
        "--throttle",
        metavar="SPEC",
        default="none",
        help="answer ThrottlingException (HTTP 429) above a rate: N (every iot operation at "
        "N requests/s), aws (AWS's default rates), Operation=N, none (default); comma-separated",
    )
    parser.add_argument(
        "--allow-unsigned-payload",
        action="store_true",
        help="accept SigV4 requests signed with x-amz-content-sha256: UNSIGNED-PAYLOAD (AWS "
        "documents it for S3 only; refused by default)",
    )
    limits = parser.add_argument_group("connections")
    limits.add_argument(
        "--max-connections",
        type=argtypes.count,
        metavar="N",
        help="open connections at most; more are answered 503 ServiceUnavailableException and "
        "closed (default 10000, lowered to what the open-file limit allows)",
    )
    limits.add_argument(
        "--header-timeout",
        type=argtypes.positive("number of seconds"),
        default=10.0,
        metavar="S",
        help="close a connection whose request line and headers take longer (default 10)",
    )
    limits.add_argument(
        "--idle-timeout",
        type=argtypes.positive("number of seconds"),
        default=60.0,
        metavar="S",
        help="close a keep-alive connection idle this long (default 60)",
    )
    parser.add_argument(
        "--state-dir",
        type=Path,
        metavar="DIR",
        help="keep the emulator's state in DIR (created if missing) and restore it on start: "
        "every acknowledged write survives a crash (journal, fdatasync per batch of replies)",
    )
    parser.add_argument(
        "--compact-journal-mb",
        type=float,
        default=64.0,
        metavar="MB",
        help="with --state-dir: snapshot the state and start a new journal once the journal "
        "holds this many MB (default 64)",
    )
    parser.add_argument(
        "--rollout-rate",
        type=int,
        metavar="N",
        help="release up to N executions per minute per job (default: AWS's 1000; raise it to "
        "roll a large fleet out quickly in a load test)",
    )
    mqtt = parser.add_argument_group(
        "MQTT",
        "Serve the Jobs and Device Shadow MQTT APIs through a broker (e.g. one configured by "
        "`fleetsim broker-config`), with the same state as the HTTP API. Prints a second line, "
        "'fleetsim serve: mqtt connected to URI', once connected.",
    )
    mqtt.add_argument(
        "--mqtt",
        metavar="URI",
        help="broker to connect to: mqtt://HOST[:PORT] (plain) or mqtts://HOST[:PORT] (TLS)",
    )
    mqtt.add_argument("--mqtt-ca", type=Path, metavar="FILE", help="CA to verify the broker")
    mqtt.add_argument(
        "--mqtt-cert", type=Path, metavar="FILE", help="client certificate (mutual TLS)"
    )
    mqtt.add_argument("--mqtt-key", type=Path, metavar="FILE", help="its private key")
    mqtt.add_argument(
        "--mqtt-client-id",
        default="fleetsim-emulator",
        metavar="ID",
        help="client id (ID-0, ID-1... with several connections)",
    )
    mqtt.add_argument(
        "--mqtt-connections",
        type=int,
        default=1,
        metavar="K",
        help="connections sharing the request topics (1-10; see benchmarks/RESULTS.md)",
    )
    mqtt.add_argument(
        "--mqtt-username",
        metavar="U",
        help="user name: the ACL identity on a broker without TLS client certificates",
    )
    parser.set_defaults(handler=run)


def _bridge_config(args: argparse.Namespace) -> BridgeConfig | None:
    tls_options = (args.mqtt_ca, args.mqtt_cert, args.mqtt_key)
    if args.mqtt is None:
        if any(option is not None for option in tls_options) or args.mqtt_username:
            raise UsageError("--mqtt-ca/--mqtt-cert/--mqtt-key/--mqtt-username need --mqtt")
        return None
    from simulator.transport.broker import BridgeConfig  # noqa: PLC0415
    from simulator.transport.mqtt.tls import TlsConfig  # noqa: PLC0415
    from simulator.transport.mqtt.uri import parse_broker_uri  # noqa: PLC0415

    broker = parse_broker_uri(args.mqtt)
    tls = None
    if broker.tls:
        for option, path in zip(
            ("--mqtt-ca", "--mqtt-cert", "--mqtt-key"), tls_options, strict=True
        ):
            if path is not None and not path.is_file():
                raise UsageError(f"{option} {path}: no such file")
        tls = TlsConfig(ca_file=args.mqtt_ca, cert_file=args.mqtt_cert, key_file=args.mqtt_key)
        tls.context(broker.port)  # unreadable or mismatched files: one line now, not later
    elif any(option is not None for option in tls_options):
        raise UsageError("--mqtt-ca/--mqtt-cert/--mqtt-key need an mqtts:// broker URI")
    return BridgeConfig(
        broker=broker,
        tls=tls,
        client_id=args.mqtt_client_id,
        username=args.mqtt_username,
        connections=args.mqtt_connections,
    )


def run(args: argparse.Namespace) -> int:
    if not _REGION.fullmatch(args.region):
        raise UsageError(f"--region {args.region!r} is not a region name such as us-east-1")
    if not _ACCOUNT.fullmatch(args.account_id):
        raise UsageError(f"--account-id {args.account_id!r} must be 12 digits")
    if args.rollout_rate is not None and args.rollout_rate < 1:
        raise UsageError(f"--rollout-rate must be >= 1, not {args.rollout_rate}")
    if not args.access_key_id or not args.secret_access_key:
        raise UsageError("--access-key-id and --secret-access-key must not be empty")
    # Imported here so other commands do not pay for aiohttp and botocore's models at start-up.
    from simulator.api.http import ServerConfig  # noqa: PLC0415
    from simulator.api.http.connections import ConnectionLimits  # noqa: PLC0415
    from simulator.api.http.throttle import parse_throttle  # noqa: PLC0415

    throttle = parse_throttle(args.throttle)
    mqtt = _bridge_config(args)
    endpoint = args.endpoint_address
    if endpoint is not None and (not endpoint or any(c.isspace() or c == "/" for c in endpoint)):
        raise UsageError(f"--endpoint-address {endpoint!r} must be a host name or address")
    if endpoint is None:
        endpoint = mqtt.broker.host if mqtt is not None else args.host
    config = ServerConfig(
        host=args.host,
        port=args.port,
        region=args.region,
        account_id=args.account_id,
        access_key_id=args.access_key_id,
        secret_access_key=args.secret_access_key,
        auth=args.auth,
        ca=None if args.ca_dir is None else _read_ca(args.ca_dir),
        endpoint_address=endpoint,
        throttle=throttle,
        rollout_per_minute=args.rollout_rate,
        unsigned_payload=args.allow_unsigned_payload,
        limits=ConnectionLimits(
            max_connections=_connection_cap(args.max_connections),
            header_timeout=args.header_timeout,
            idle_timeout=args.idle_timeout,
        ),
    )
    state = (
        None
        if args.state_dir is None
        else _open_state(args.state_dir, config, int(args.compact_journal_mb * (1 << 20)))
    )
    logging.basicConfig(level=logging.WARNING, format="fleetsim serve: %(levelname)s %(message)s")
    try:
        _run_loop(config, mqtt, state)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0


#: Descriptors kept for what the cap refuses (each refusal holds one for an instant), the MQTT
#: bridge and the rest of the process, beyond ``connection_capacity``'s own reserve.
_SPARE_DESCRIPTORS: Final = 256
_DEFAULT_MAX_CONNECTIONS: Final = 10_000


def _connection_cap(requested: int | None) -> int:
    """``--max-connections``, lowered to what the (raised) open-file limit leaves room for.

    Past that limit ``accept`` fails with EMFILE and every new client, real or not, is locked
    out; under the cap the surplus is answered 503 instead.
    """
    from simulator.transport.mqtt.net import connection_capacity  # noqa: PLC0415

    room = max(1, connection_capacity() - _SPARE_DESCRIPTORS)
    wanted = _DEFAULT_MAX_CONNECTIONS if requested is None else requested
    if wanted <= room:
        return wanted
    if requested is not None:
        print(
            f"fleetsim serve: WARNING --max-connections {requested} is more than the open-file "
            f"limit leaves room for; serving at most {room}",
            file=sys.stderr,
            flush=True,
        )
    return room


def _read_ca(directory: Path) -> tuple[bytes, bytes]:
    """DIR/ca.pem and DIR/ca.key, checked now (one line on stderr, exit 2, when unusable)."""
    from simulator.services.registry.ca import LocalCA  # noqa: PLC0415

    paths = (directory / "ca.pem", directory / "ca.key")
    try:
        cert, key = (path.read_bytes() for path in paths)
    except OSError as exc:
        raise UsageError(
            f"--ca-dir {directory}: cannot read {exc.filename}: {exc.strerror}"
        ) from None
    try:
        LocalCA.from_pem(cert, key)
    except ValueError as exc:
        raise UsageError(f"--ca-dir {directory}: {exc}") from None
    return cert, key


def _open_state(directory: Path, config: ServerConfig, compact_bytes: int) -> StateDir:
    """``--state-dir``, locked and checked now (one line on stderr, exit 2, when unusable)."""
    from simulator.api.durable import Settings, StateDir, StateError  # noqa: PLC0415
    from simulator.services.registry.ca import LocalCA  # noqa: PLC0415

    settings = Settings(config.region, config.account_id, config.rollout_per_minute)
    ca = None if config.ca is None else LocalCA.from_pem(*config.ca)
    try:
        return StateDir.open(directory, settings, ca=ca, compact_bytes=max(1, compact_bytes))
    except StateError as exc:
        raise UsageError(str(exc)) from None


def _run_loop(config: ServerConfig, mqtt: BridgeConfig | None, state: StateDir | None) -> None:
    # uvloop (a dependency) costs ~15% less CPU per request than the stdlib loop, measured with
    # benchmarks/api.py; the stdlib loop is the fallback.
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        asyncio.run(_main(config, mqtt, state))
        return
    uvloop.run(_main(config, mqtt, state))


def _ready(url: str) -> None:
    print(f"fleetsim serve: listening on {url}", flush=True)


async def _main(config: ServerConfig, mqtt: BridgeConfig | None, state: StateDir | None) -> None:
    try:
        await _serve(config, mqtt, state)
    finally:
        if state is not None:
            await state.close()  # every record on disk (acknowledged ones already were)


async def _serve(config: ServerConfig, mqtt: BridgeConfig | None, state: StateDir | None) -> None:
    from simulator.api.http import serve  # noqa: PLC0415
    from simulator.api.http.app import build_plane  # noqa: PLC0415

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():  # the second signal: whoever sent it will not wait for a clean stop
            print("fleetsim serve: second signal, exiting now", file=sys.stderr, flush=True)
            os._exit(128 + signum)
        stop.set()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal, signum)
    if mqtt is None:
        served = None if state is None else _restore(state, config, loop, None)
        durable = None if state is None else state.writer
        await serve(config, on_ready=_ready, stop=stop, plane=served, durability=durable)
        return
    from simulator.api.mqtt.dispatch import MqttApi  # noqa: PLC0415
    from simulator.transport.broker import Bridge  # noqa: PLC0415

    # One control plane for both APIs; the bridge is its publisher, so a job created over HTTP
    # sends notify-next to the device over MQTT.
    bridge = Bridge(mqtt)
    plane: Any = (
        build_plane(config, loop, publisher=bridge)
        if state is None
        else _restore(state, config, loop, bridge)
    )
    handler: Any = MqttApi(plane)
    if state is not None:
        from simulator.api.durable.wiring import DurableMqtt  # noqa: PLC0415

        assert state.publisher is not None
        handler = DurableMqtt(handler, state.publisher)
    listening = asyncio.Event()

    def ready(url: str) -> None:
        _ready(url)
        listening.set()

    durability = None if state is None else state.writer
    http = asyncio.create_task(
        serve(config, on_ready=ready, stop=stop, plane=plane, durability=durability)
    )
    try:
        if await _first(listening.wait(), http, stop) and await _first(
            bridge.start(handler), http, stop
        ):
            print(f"fleetsim serve: mqtt connected to {mqtt.broker.uri}", flush=True)
        await http  # until stop; re-raises an HTTP bind failure
    finally:
        stop.set()
        await bridge.close()
        await asyncio.gather(http, return_exceptions=True)


def _restore(
    state: StateDir,
    config: ServerConfig,
    loop: asyncio.AbstractEventLoop,
    publisher: Publisher | None,
) -> JournaledPlane:
    from simulator.api.durable import StateError  # noqa: PLC0415
    from simulator.api.durable.wiring import restore_plane  # noqa: PLC0415

    try:
        return restore_plane(state, config, loop, publisher)
    except StateError as exc:
        raise UsageError(str(exc)) from None


async def _first(
    work: Coroutine[Any, Any, Any], http: asyncio.Task[None], stop: asyncio.Event
) -> bool:
    """Run ``work``; False if the HTTP server ended or ``stop`` was set before it finished.

    An exception of ``work`` (``UsageError`` from the bridge) or of the server propagates.
    """
    task = asyncio.ensure_future(work)
    stopping = asyncio.ensure_future(stop.wait())
    done, _ = await asyncio.wait({task, http, stopping}, return_when=asyncio.FIRST_COMPLETED)
    for pending in (task, stopping):
        if pending not in done:
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending
    if task in done:
        task.result()
        return True
    if http in done:
        http.result()
    return False
