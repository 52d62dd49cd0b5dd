"""Operating-system limits and sockets for many client connections in one process.

* **Open files.** Every connection is a descriptor. :func:`raise_open_file_limit` lifts the
  soft ``RLIMIT_NOFILE`` to the hard limit; :func:`connection_capacity` says how many more
  connections that leaves room for. Where the hard limit cannot be raised (20,000 on the
  benchmark machine, even for root), a bigger fleet needs several processes: see
  :mod:`simulator.transport.mqtt.shards`.
* **Ephemeral ports.** One source address can hold one connection per local port to a given
  broker address and port (28,232 with Linux's default range 32768-60999). Every 127.x.y.z is
  local on Linux, so for a loopback broker the pool binds device ``i`` to
  ``sources[i % len(sources)]`` from :func:`loopback_sources` (64 addresses: ~1.8 million
  connections), with ``IP_BIND_ADDRESS_NO_PORT`` so that the port is chosen at connect time
  per destination rather than reserved at bind time.
* **Latency.** ``TCP_NODELAY`` on every socket: a device's small publish must not wait for
  Nagle's algorithm (measured at ~40 ms per round trip without it).
"""

from __future__ import annotations

import asyncio
import contextlib
import ipaddress
import resource
import socket
from pathlib import Path
from typing import Final

__all__ = [
    "client_socket",
    "connection_capacity",
    "default_sources",
    "loopback_sources",
    "raise_open_file_limit",
    "resolve",
]

DEFAULT_LOOPBACK_SOURCES: Final = 64
#: Descriptors kept free for everything else the process opens (stdio, logs, the loop, ...).
RESERVED_DESCRIPTORS: Final = 64
_IP_BIND_ADDRESS_NO_PORT: Final = getattr(socket, "IP_BIND_ADDRESS_NO_PORT", 24)


def raise_open_file_limit() -> int:
    """Raise the soft open-file limit to the hard limit; return the (new) soft limit."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = hard if hard != resource.RLIM_INFINITY else max(soft, 1 << 20)
    if soft == resource.RLIM_INFINITY or soft >= target:
        return soft
    with contextlib.suppress(ValueError, OSError):
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def _open_descriptors() -> int:
    try:
        return sum(1 for _ in Path("/proc/self/fd").iterdir())
    except OSError:  # not Linux: assume stdio and a few more
        return 16


def connection_capacity() -> int:
    """How many more connections this process can open after raising its limit."""
    return max(0, raise_open_file_limit() - _open_descriptors() - RESERVED_DESCRIPTORS)


def loopback_sources(count: int = DEFAULT_LOOPBACK_SOURCES) -> tuple[str, ...]:
    """``count`` distinct loopback addresses: 127.0.1.1, 127.0.1.2, ... (254 per /24)."""
    return tuple(f"127.0.{1 + i // 254}.{1 + i % 254}" for i in range(count))


def default_sources(broker_ip: str) -> tuple[str, ...]:
    """Source addresses to spread over by default: loopback ones for a 127.x broker."""
    address = ipaddress.ip_address(broker_ip)
    if address.version == 4 and address.is_loopback:
        return loopback_sources()
    return ()  # let the kernel choose


def client_socket(family: int, source: str | None) -> socket.socket:
    """A non-blocking TCP socket with TCP_NODELAY, bound to ``source`` (port chosen later)."""
    sock = socket.socket(family, socket.SOCK_STREAM)
    try:
        sock.setblocking(False)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if source is not None:
            if family == socket.AF_INET:
                with contextlib.suppress(OSError):  # older kernels: port reserved at bind
                    sock.setsockopt(socket.IPPROTO_IP, _IP_BIND_ADDRESS_NO_PORT, 1)
            sock.bind((source, 0))
    except BaseException:
        sock.close()
        raise
    return sock


async def resolve(
    loop: asyncio.AbstractEventLoop, host: str, port: int
) -> list[tuple[int, tuple[str, int]]]:
    """``(family, (address, port))`` of ``host``, every one of the first family DNS answers.

    An IP literal skips DNS. Raises ``OSError`` (``socket.gaierror``) when ``host`` does not
    resolve.
    """
    try:
        ip = ipaddress.ip_address(host)
    except ValueError:
        pass
    else:
        return [(socket.AF_INET6 if ip.version == 6 else socket.AF_INET, (host, port))]
    infos = await loop.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    family = infos[0][0]
    return [(f, (str(a[0]), int(a[1]))) for f, _, _, _, a in infos if f == family]
