"""A real Mosquitto for tests and benchmarks: start, SIGKILL, restart on the same port, stop.

Shared test utility (also used by ``benchmarks/mqtt.py``)::

    with Mosquitto(tmp_path) as broker:           # plain TCP on a free 127.0.0.1 port
        ... broker.host, broker.port, broker.uri ...
        broker.kill()                              # SIGKILL: no DISCONNECT, sessions lost
        broker.restart()                           # same port, same config

    tls = TlsFiles.generate(tmp_path / "pki")      # CA + server cert (cryptography, EC P-256)
    cert, key = tls.issue_client("device-000001")  # client cert with CN = thing name
    Mosquitto(tmp_path, tls=tls, require_certificate=True,
              acl="pattern readwrite $aws/things/%u/#")

The broker runs with ``persistence false`` (sessions live in memory until the process dies),
``max_connections -1``, a generous ``max_queued_messages``, ``set_tcp_nodelay true``, and the
open-file soft limit raised to the hard limit (20,000 here: one broker process holds at most
~19,990 clients; run several for more). When ``mosquitto`` is missing the constructor fails
with the command that installs it: the tests must not skip.
"""

from __future__ import annotations

import contextlib
import datetime
import ipaddress
import os
import resource
import shutil
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

__all__ = ["Mosquitto", "TlsFiles", "free_port", "mosquitto_binary"]

INSTALL_HINT = (
    "mosquitto is not installed: install it with `apt-get install -y mosquitto` "
    "(tests/run.sh does this on a fresh machine)"
)


def mosquitto_binary() -> str:
    """Path of the mosquitto executable, or ``RuntimeError`` saying how to install it."""
    found = shutil.which("mosquitto") or shutil.which("mosquitto", path="/usr/sbin:/usr/local/sbin")
    if found is None:
        raise RuntimeError(INSTALL_HINT)
    return found


def free_port(host: str = "127.0.0.1") -> int:
    with socket.socket() as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


# -- TLS material ---------------------------------------------------------------------------


def _key() -> ec.EllipticCurvePrivateKey:
    return ec.generate_private_key(ec.SECP256R1())


def _write_key(key: ec.EllipticCurvePrivateKey, path: Path) -> None:
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """A throwaway CA and a server certificate for ``localhost``/127.0.0.1, as PEM files."""

    directory: Path
    ca_file: Path
    server_cert: Path
    server_key: Path

    @classmethod
    def generate(cls, directory: Path) -> TlsFiles:
        directory.mkdir(parents=True, exist_ok=True)
        ca_key = _key()
        ca = (
            cls._builder(_name("fleetsim test CA"), _name("fleetsim test CA"), ca_key)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(ca_key, hashes.SHA256())
        )
        files = cls(
            directory, directory / "ca.pem", directory / "server.pem", directory / "server.key"
        )
        files.ca_file.write_bytes(ca.public_bytes(serialization.Encoding.PEM))
        (directory / "ca.key").write_bytes(
            ca_key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )
        key = _key()
        san = x509.SubjectAlternativeName(
            [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        )
        cert = (
            cls._builder(_name("localhost"), ca.subject, key)
            .add_extension(san, critical=False)
            .sign(ca_key, hashes.SHA256())
        )
        files.server_cert.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, files.server_key)
        return files

    @staticmethod
    def _builder(
        subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
    ) -> x509.CertificateBuilder:
        now = datetime.datetime.now(datetime.UTC)
        return (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=2))
        )

    def issue_client(self, common_name: str) -> tuple[Path, Path]:
        """A client certificate (CN = ``common_name``) signed by the CA: (cert, key) paths."""
        ca_key = serialization.load_pem_private_key((self.directory / "ca.key").read_bytes(), None)
        assert isinstance(ca_key, ec.EllipticCurvePrivateKey)
        ca = x509.load_pem_x509_certificate(self.ca_file.read_bytes())
        key = _key()
        cert = self._builder(_name(common_name), ca.subject, key).sign(ca_key, hashes.SHA256())
        cert_path = self.directory / f"{common_name}.pem"
        key_path = self.directory / f"{common_name}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        _write_key(key, key_path)
        return cert_path, key_path


# -- the broker -----------------------------------------------------------------------------


class _PortTaken(RuntimeError):
    """The port picked for the broker was bound by someone else first."""


class Mosquitto:
    """One mosquitto process on 127.0.0.1 with a generated configuration."""

    def __init__(
        self,
        workdir: Path,
        *,
        port: int | None = None,
        tls: TlsFiles | None = None,
        require_certificate: bool = False,
        acl: str | None = None,
        max_queued_messages: int = 100_000,
        start_timeout: float = 10.0,
    ) -> None:
        self.binary = mosquitto_binary()
        self.workdir = workdir
        self.host = "127.0.0.1"
        # A port picked here may be taken by another process (e.g. a parallel test worker)
        # before mosquitto binds it: start() then moves to another free port.
        self._picked_port = port is None
        self.port = port or free_port(self.host)
        self.tls = tls
        self.start_timeout = start_timeout
        workdir.mkdir(parents=True, exist_ok=True)
        self.config_path = workdir / f"mosquitto-{self.port}.conf"
        self.log_path = workdir / f"mosquitto-{self.port}.log"
        lines = [
            f"listener {self.port} {self.host}",
            "max_connections -1",
            "persistence false",
            f"max_queued_messages {max_queued_messages}",
            "max_inflight_messages 0",
            "set_tcp_nodelay true",
            "log_dest stderr",
            "log_type error",
            "log_type warning",
            "user root" if os.geteuid() == 0 else "",  # read root-owned tmp files (TLS, ACL)
        ]
        if tls is None:
            lines.append("allow_anonymous true")
        else:
            lines += [
                f"cafile {tls.ca_file}",
                f"certfile {tls.server_cert}",
                f"keyfile {tls.server_key}",
                "tls_version tlsv1.2",
            ]
            if require_certificate:
                lines += [
                    "require_certificate true",
                    "use_identity_as_username true",
                    "allow_anonymous false",
                ]
            else:
                lines.append("allow_anonymous true")
        if acl is not None:
            acl_path = workdir / f"acl-{self.port}.txt"
            acl_path.write_text(acl + "\n")
            lines.append(f"acl_file {acl_path}")
        self.config_path.write_text("\n".join(line for line in lines if line) + "\n")
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def uri(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"

    @property
    def pid(self) -> int:
        assert self.process is not None, "broker not started"
        return self.process.pid

    def start(self) -> Mosquitto:
        """Start the broker and wait until it accepts TCP connections."""
        for _ in range(4):
            try:
                return self._start()
            except _PortTaken:
                self._move_to(free_port(self.host))
        return self._start()

    def _move_to(self, port: int) -> None:
        listener = f"listener {self.port} {self.host}\n"
        config = self.config_path.read_text()
        assert listener in config, config
        self.config_path.write_text(config.replace(listener, f"listener {port} {self.host}\n"))
        self.port = port

    def _start(self) -> Mosquitto:
        assert self.process is None or self.process.poll() is not None, "already running"
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                [self.binary, "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=log,
            )
        _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        with contextlib.suppress(OSError, ValueError):
            resource.prlimit(self.process.pid, resource.RLIMIT_NOFILE, (hard, hard))
        deadline = time.monotonic() + self.start_timeout
        while True:
            if self.process.poll() is not None:
                log = self.log()[-2000:]
                if self._picked_port and "Address already in use" in log:
                    raise _PortTaken(log)
                raise RuntimeError(f"mosquitto exited with {self.process.returncode}: {log}")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.5):
                    return self
            except OSError:
                if time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"mosquitto did not listen on {self.port}") from None
                time.sleep(0.02)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def kill(self) -> None:
        """SIGKILL: connections drop without DISCONNECT, in-memory sessions are lost."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def restart(self) -> Mosquitto:
        """Kill (if running) and start again on the same port with the same configuration."""
        self.kill()
        deadline = time.monotonic() + self.start_timeout
        while True:  # the listening port can take a moment to be free again
            try:
                return self._start()  # on this port, whoever holds it now
            except RuntimeError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        """SIGTERM, then SIGKILL after 5 s."""
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.kill()

    def __enter__(self) -> Mosquitto:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()
