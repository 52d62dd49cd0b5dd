"""The servers the HTTP benchmarks drive, as subprocesses: ``fleetsim serve`` and moto's server.

:func:`start_fleetsim` runs ``fleetsim serve --port 0 [ARGS]`` and reads the port from its first
line; :func:`start_moto` runs moto's ``ThreadedMotoServer`` on a free port. Both are stopped by
:meth:`Server.stop` (SIGTERM, then SIGKILL after 20 s).
"""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import dataclass
from typing import Any, Final

import boto3  # type: ignore[import-untyped]
from botocore.config import Config

from simulator.bench._procs import process_cpu, python_module
from simulator.transport.broker.local import free_port

__all__ = ["Server", "start_fleetsim", "start_moto"]

_MOTO: Final = """
import logging, signal, sys
from moto.server import ThreadedMotoServer
logging.getLogger("werkzeug").setLevel(logging.ERROR)  # no per-request access log
server = ThreadedMotoServer(ip_address="127.0.0.1", port=int(sys.argv[1]), verbose=False)
server.start()
print("ready", flush=True)
signal.sigwait({signal.SIGINT, signal.SIGTERM})
server.stop()
"""


@dataclass
class Server:
    name: str
    process: subprocess.Popen[str]
    url: str

    def client(self, service: str) -> Any:
        return boto3.client(
            service,
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id="test",
            aws_secret_access_key="test",
            config=Config(retries={"max_attempts": 1}),
        )

    def cpu_seconds(self) -> float:
        return process_cpu(self.process.pid)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def start_fleetsim(*args: str, name: str = "fleetsim") -> Server:
    """``fleetsim serve --port 0 ARGS``, once it listens."""
    process = subprocess.Popen(
        python_module("simulator.cli", "serve", "--port", "0", *args),
        stdout=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None
    line = process.stdout.readline()
    if not line.startswith("fleetsim serve: listening on "):
        process.kill()
        process.wait()
        raise RuntimeError(f"fleetsim serve did not start: {line!r}")
    return Server(name, process, line.rsplit(" ", 1)[1].strip())


def start_moto() -> Server:
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-c", _MOTO, str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    if process.stdout.readline().strip() != "ready":
        process.kill()
        raise RuntimeError("moto server did not start")
    return Server("moto", process, f"http://127.0.0.1:{port}")
