"""A real Mosquitto for tests and benchmarks: start, SIGKILL, restart on the same port, stop.

Shared test utility over :class:`simulator.transport.broker.local.LocalMosquitto` (which the
benchmarks of ``fleetsim bench`` use), adding TLS material and ACLs::

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

import datetime
import ipaddress
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from simulator.transport.broker.local import LocalMosquitto, free_port, mosquitto_binary

__all__ = ["Mosquitto", "TlsFiles", "free_port", "mosquitto_binary"]

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


# -- the broker ---------------------------------------------------------------------------


class Mosquitto(LocalMosquitto):
    """:class:`~simulator.transport.broker.local.LocalMosquitto` with TLS and an ACL."""

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
        self.tls = tls
        extra = ["allow_anonymous true"] if tls is None or not require_certificate else []
        if tls is not None:
            extra[:0] = [
                f"cafile {tls.ca_file}",
                f"certfile {tls.server_cert}",
                f"keyfile {tls.server_key}",
                "tls_version tlsv1.2",
            ]
            if require_certificate:
                extra += [
                    "require_certificate true",
                    "use_identity_as_username true",
                    "allow_anonymous false",
                ]
        if acl is not None:
            workdir.mkdir(parents=True, exist_ok=True)
            handle, name = tempfile.mkstemp(prefix="acl-", suffix=".txt", dir=workdir)
            with os.fdopen(handle, "w") as acl_file:
                acl_file.write(acl + "\n")
            extra.append(f"acl_file {name}")
        super().__init__(
            workdir,
            port=port,
            extra=extra,
            max_queued_messages=max_queued_messages,
            start_timeout=start_timeout,
        )

    @property
    def uri(self) -> str:
        return f"{'mqtts' if self.tls else 'mqtt'}://{self.host}:{self.port}"
