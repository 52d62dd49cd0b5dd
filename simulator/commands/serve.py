"""``fleetsim serve``: the emulator's boto3-compatible HTTP endpoint.

Prints exactly one line, ``fleetsim serve: listening on http://HOST:PORT``, once the socket listens
(so ``--port 0`` callers learn the port), then serves until SIGINT or SIGTERM and exits 0.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import re
import signal
from typing import TYPE_CHECKING, Any

from simulator.core.errors import UsageError

if TYPE_CHECKING:
    from simulator.api.http import ServerConfig

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
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if not _REGION.fullmatch(args.region):
        raise UsageError(f"--region {args.region!r} is not a region name such as us-east-1")
    if not _ACCOUNT.fullmatch(args.account_id):
        raise UsageError(f"--account-id {args.account_id!r} must be 12 digits")
    if not args.access_key_id or not args.secret_access_key:
        raise UsageError("--access-key-id and --secret-access-key must not be empty")
    # Imported here so other commands do not pay for aiohttp and botocore's models at start-up.
    from simulator.api.http import ServerConfig  # noqa: PLC0415

    config = ServerConfig(
        host=args.host,
        port=args.port,
        region=args.region,
        account_id=args.account_id,
        access_key_id=args.access_key_id,
        secret_access_key=args.secret_access_key,
        auth=args.auth,
    )
    logging.basicConfig(level=logging.WARNING, format="fleetsim serve: %(levelname)s %(message)s")
    try:
        _run_loop(config)
    except OSError as exc:
        raise UsageError(f"cannot listen on {args.host}:{args.port}: {exc.strerror}") from None
    return 0


def _run_loop(config: ServerConfig) -> None:
    # uvloop (a dependency) costs ~15% less CPU per request than the stdlib loop, measured with
    # benchmarks/api.py; the stdlib loop is the fallback.
    try:
        import uvloop  # noqa: PLC0415
    except ImportError:  # pragma: no cover
        asyncio.run(_main(config))
        return
    uvloop.run(_main(config))


def _ready(url: str) -> None:
    print(f"fleetsim serve: listening on {url}", flush=True)


async def _main(config: ServerConfig) -> None:
    from simulator.api.http import serve  # noqa: PLC0415

    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, stop.set)
    await serve(config, on_ready=_ready, stop=stop)
