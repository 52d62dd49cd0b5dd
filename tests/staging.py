"""The staging-shaped set-up shared by tests: a broker with mutual TLS whose CA also signs the
emulator's CreateKeysAndCertificate certificates (``broker-config --tls`` then
``serve --ca-dir``), and the ACL reload once devices exist (``broker-config --acl-from``)."""

from __future__ import annotations

import contextlib
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.api.conftest import Server, finish
from tests.broker.conftest import ConfiguredBroker, broker_config, launch_serve, read_line
from tests.mqtt_broker import free_port


@dataclass
class Staging:
    broker: ConfiguredBroker
    server: Server
    port: int
    pki: Path

    def reload_acl(self) -> str:
        """``broker-config --acl-from`` the emulator, then SIGHUP: Mosquitto reads it again."""
        acl = broker_config(
            "--out", str(self.pki), "--tls", "--port", str(self.port),
            "--acl-from", self.server.url,
        )  # fmt: skip
        assert acl.returncode == 0, acl.stderr
        assert self.broker.process is not None
        self.broker.process.send_signal(signal.SIGHUP)
        time.sleep(0.5)  # Mosquitto logs nothing at this log level when it has reloaded
        return acl.stdout


@contextlib.contextmanager
def staging(directory: Path, *serve_args: str) -> Iterator[Staging]:
    """Mosquitto (mutual TLS, per-certificate ACL) and ``fleetsim serve --mqtt SERVE_ARGS`` on
    it."""
    port, pki = free_port(), directory / "pki"
    written = broker_config("--out", str(pki), "--tls", "--port", str(port))
    assert written.returncode == 0, written.stderr
    emulator_tls = [
        "--mqtt", f"mqtts://127.0.0.1:{port}", "--mqtt-ca", str(pki / "ca.pem"),
        "--mqtt-cert", str(pki / "clients" / "fleetsim-emulator.pem"),
        "--mqtt-key", str(pki / "clients" / "fleetsim-emulator.key"),
    ]  # fmt: skip
    # The broker listens first: a port picked free could otherwise be taken by one of the many
    # client connections made meanwhile.
    with ConfiguredBroker(pki / "mosquitto.conf", port) as broker:
        server = launch_serve("--ca-dir", str(pki), *emulator_tls, *serve_args)
        try:
            line = read_line(server.process, 30)
            assert line.startswith("fleetsim serve: mqtt connected"), (line, server.stderr())
            yield Staging(broker, server, port, pki)
        finally:
            finish(server)
