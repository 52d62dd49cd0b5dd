"""A real ``fleetsim serve`` subprocess and boto3 clients pointed at it.

``server`` (one per test session) runs with SigV4 verification on; ``start_server`` starts more
(``--auth none``, other credentials) for the tests that need them. Each server is stopped with
SIGTERM at the end and must exit 0 without having logged an unhandled error.
"""

from __future__ import annotations

import os
import selectors
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

ROOT = Path(__file__).resolve().parents[2]
PREFIX = "fleetsim serve: listening on "
REGION = "us-east-1"
SERVICES = ("iot", "iot-jobs-data", "iot-data")


@dataclass
class Server:
    """One running ``fleetsim serve`` process."""

    process: subprocess.Popen[str]
    url: str
    stderr_path: Path
    args: tuple[str, ...]
    _clients: dict[tuple[str, str, str], Any] = field(default_factory=dict)

    def client(self, service: str, *, key: str = "test", secret: str = "test", **kw: Any) -> Any:
        """A boto3 client (cached per credentials unless extra options are given)."""
        cache_key = (service, key, secret)
        cacheable = not kw
        if cacheable and cache_key in self._clients:
            return self._clients[cache_key]
        client = boto3.client(
            service,
            endpoint_url=self.url,
            region_name=kw.pop("region_name", REGION),
            aws_access_key_id=key,
            aws_secret_access_key=secret,
            config=kw.pop("config", Config(retries={"max_attempts": 1})),
            **kw,
        )
        if cacheable:
            self._clients[cache_key] = client
        return client

    def stderr(self) -> str:
        return self.stderr_path.read_text()

    def alive(self) -> bool:
        return self.process.poll() is None

    def stop(self) -> int:
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
        try:
            return self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
            raise


def _read_line(process: subprocess.Popen[str], timeout: float) -> str:
    assert process.stdout is not None
    with selectors.DefaultSelector() as selector:
        selector.register(process.stdout, selectors.EVENT_READ)
        if not selector.select(timeout):
            raise TimeoutError(f"fleetsim serve printed nothing within {timeout} s")
    return process.stdout.readline()


def launch(*args: str, timeout: float = 60.0) -> Server:
    """Start ``fleetsim serve --port 0 ARGS...`` and wait for its one line."""
    with tempfile.NamedTemporaryFile(
        "w", prefix="fleetsim-serve-", suffix=".log", delete=False
    ) as log:
        stderr_path = Path(log.name)
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    with stderr_path.open("w") as stderr:
        process = subprocess.Popen(
            [sys.executable, "-m", "simulator.cli", "serve", "--port", "0", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=stderr,
            text=True,
            env=env,
        )
    try:
        line = _read_line(process, timeout)
    except TimeoutError:
        process.kill()
        raise
    assert line.startswith(PREFIX), (line, stderr_path.read_text())
    return Server(process, line[len(PREFIX) :].strip(), stderr_path, args)


def finish(server: Server) -> None:
    """Stop ``server`` and check it ended cleanly."""
    code = server.stop()
    log = server.stderr()
    server.stderr_path.unlink(missing_ok=True)
    assert code == 0, log
    assert "unhandled error" not in log, log


@pytest.fixture(scope="session")
def server() -> Iterator[Server]:
    started = launch()
    yield started
    finish(started)


@pytest.fixture(scope="session")
def start_server() -> Iterator[Callable[..., Server]]:
    """Start extra servers with other options; all are stopped and checked at the end."""
    started: list[Server] = []

    def start(*args: str) -> Server:
        started.append(launch(*args))
        return started[-1]

    yield start
    for one in started:
        finish(one)


@pytest.fixture(scope="session")
def iot(server: Server) -> Any:
    return server.client("iot")


@pytest.fixture(scope="session")
def iot_jobs_data(server: Server) -> Any:
    return server.client("iot-jobs-data")


@pytest.fixture(scope="session")
def iot_data(server: Server) -> Any:
    return server.client("iot-data")


def aws_error(call: Callable[..., Any], /, **kwargs: Any) -> tuple[str, int, dict[str, Any]]:
    """Call a boto3 method that must fail: (error code, HTTP status, whole response)."""
    with pytest.raises(ClientError) as info:
        call(**kwargs)
    response: dict[str, Any] = info.value.response  # type: ignore[assignment]
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"], response


def eventually(check: Callable[[], bool], timeout: float = 15.0) -> bool:
    """Poll ``check`` every 50 ms until it holds (``True``) or ``timeout`` passes (its last
    answer): for what the server does on its own loop after a reply (index builds, rollouts)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return check()
