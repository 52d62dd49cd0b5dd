"""``fleetsim serve`` as a command: its one line, clean exits on signals, one-line usage errors.

The table of bad flags runs in this process (:mod:`tests.fleetsim_cli`); the ``slow`` tests run
the server process: signals, one of the bad flags, a port in use.
"""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from collections.abc import Callable

import pytest

from simulator.commands import serve as serve_command
from tests.api.conftest import ROOT, Server, launch
from tests.fleetsim_cli import fleetsim


def _serve(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "simulator.cli", "serve", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


@pytest.mark.slow  # end to end: the server process and its signals
@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_prints_one_line_and_exits_zero_on_signal(signum: signal.Signals) -> None:
    server = launch("--host", "127.0.0.1")
    assert server.url.startswith("http://127.0.0.1:")
    assert int(server.url.rsplit(":", 1)[1]) > 0  # --port 0 reports the real port
    server.process.send_signal(signum)
    out, _ = server.process.communicate(timeout=30)
    assert server.process.returncode == 0, server.stderr()
    assert out == ""  # nothing after the one line
    server.stderr_path.unlink()


def test_region_and_account_shape_arns(start_server: Callable[..., Server]) -> None:
    other = start_server("--region", "eu-west-1", "--account-id", "210987654321")
    iot = other.client("iot", region_name="eu-west-1")
    arn = iot.create_thing(thingName="regional")["thingArn"]
    assert arn == "arn:aws:iot:eu-west-1:210987654321:thing/regional"


@pytest.mark.parametrize(
    "args",
    [
        ["--port", "70000"],
        ["--port", "http"],
        ["--auth", "basic"],
        ["--region", "Mars"],
        ["--account-id", "12"],
        ["--no-such-flag"],
    ],
)
def test_bad_flags_are_one_line_exit_2(monkeypatch: pytest.MonkeyPatch, args: list[str]) -> None:
    def started(*args: object) -> None:
        raise AssertionError("fleetsim serve got past checking its flags")

    monkeypatch.setattr(serve_command, "_run_loop", started)
    proc = fleetsim("serve", *args)
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.slow  # end to end: the console process
def test_bad_flags_exit_2_from_the_console_process() -> None:
    proc = _serve("--region", "Mars")
    assert proc.returncode == 2, proc
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1, proc.stderr


@pytest.mark.slow  # end to end: the console process
def test_port_in_use_is_one_line_exit_2() -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        proc = _serve("--port", str(port))
    assert proc.returncode == 2, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert "cannot listen" in lines[0]
