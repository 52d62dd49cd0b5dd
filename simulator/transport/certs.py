"""Local TLS material for MQTT: a project CA, the broker's certificate, and client certificates.

Everything is ECDSA P-256 (fast to generate and to handshake; see the "MQTT bridge" section of
``benchmarks/RESULTS.md`` for certificates per second), signed by one CA kept in the directory::

    ca.pem  ca.key                          the project CA (reused when already there)
    server.pem  server.key                  the broker: SAN localhost, 127.0.0.1 (+ extra hosts)
    clients/<CN>.pem  clients/<CN>.key      a client: CN = thing name, or the emulator's identity

Keys are written 0600, certificates 0644. Every call is idempotent: a certificate already in the
directory, issued by this CA for the same name and valid for at least another day, is kept, so
re-running ``fleetsim broker-config --tls`` does not invalidate devices' credentials. With
Mosquitto's ``use_identity_as_username true`` the certificate's CN becomes the MQTT user name,
which the ACL's ``%u`` pattern matches against the thing name in the topic.

These are for local runs and tests only: never commit them (``.gitignore`` excludes ``*.key``
and ``*.pem``).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from simulator.core.errors import UsageError
from simulator.core.x509ca import build_ca

__all__ = ["DEFAULT_EMULATOR_IDENTITY", "Credentials", "ProjectCA", "check_identity"]

#: CN of the emulator's own client certificate (and its MQTT user name).
DEFAULT_EMULATOR_IDENTITY: Final = "fleetsim-emulator"
#: AWS IoT's thing-name pattern; also what an MQTT user name substituted into ``%u`` may hold.
_IDENTITY: Final = re.compile(r"[a-zA-Z0-9:_-]{1,128}")
_LEAF_DAYS: Final = 825
_MIN_REMAINING: Final = datetime.timedelta(days=1)


def check_identity(name: str) -> str:
    """``name`` if it can be a certificate CN and an ACL ``%u`` (a thing name), else UsageError."""
    if not _IDENTITY.fullmatch(name):
        raise UsageError(
            f"identity {name!r} must be 1-128 characters from a-z A-Z 0-9 : _ - (a thing name)"
        )
    return name


@dataclass(frozen=True, slots=True)
class Credentials:
    """A certificate and its private key, as PEM files."""

    cert: Path
    key: Path


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def _write(path: Path, data: bytes, mode: int) -> None:
    # Created with the final mode (no window where a key is world-readable), then chmod'ed in
    # case the file already existed with other bits.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    path.chmod(mode)


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    _write(path, pem, 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    _write(path, cert.public_bytes(serialization.Encoding.PEM), 0o644)


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


class ProjectCA:
    """A certificate authority kept in one directory, issuing broker and client certificates."""

    __slots__ = ("_cert", "_key", "directory")

    def __init__(
        self, directory: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey
    ) -> None:
        self.directory = directory
        self._cert = cert
        self._key = key

    @property
    def cert_path(self) -> Path:
        return self.directory / "ca.pem"

    @classmethod
    def load_or_create(
        cls, directory: Path, *, common_name: str = "fleetsim project CA"
    ) -> ProjectCA:
        """The CA in ``directory`` (``ca.pem`` + ``ca.key``), created when missing.

        Raises:
            UsageError: the directory cannot be written, or holds a CA that cannot be read.
        """
        cert_path, key_path = directory / "ca.pem", directory / "ca.key"
        try:
            directory.mkdir(parents=True, exist_ok=True)
            if cert_path.exists() and key_path.exists():
                return cls._load(directory, cert_path, key_path)
            cert, key = build_ca(common_name, _now())
            _write_key(key_path, key)
            _write_cert(cert_path, cert)
        except OSError as exc:
            raise UsageError(f"cannot write the CA in {directory}: {exc.strerror}") from None
        return cls(directory, cert, key)

    @classmethod
    def _load(cls, directory: Path, cert_path: Path, key_path: Path) -> ProjectCA:
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        except ValueError as exc:
            raise UsageError(f"cannot read the CA in {directory}: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise UsageError(f"{key_path} is not an EC private key")
        if key.public_key().public_numbers() != cert.public_key().public_numbers():  # type: ignore[union-attr]
            raise UsageError(f"{key_path} does not belong to {cert_path}")
        return cls(directory, cert, key)

    def issue_server(self, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")) -> Credentials:
        """The broker's certificate (``server.pem``/``server.key``) for ``hosts`` (DNS or IP)."""
        sans: list[x509.GeneralName] = []
        for host in hosts:
            try:
                sans.append(x509.IPAddress(ipaddress.ip_address(host)))
            except ValueError:
                sans.append(x509.DNSName(host))
        return self._issue(
            hosts[0],
            self.directory / "server.pem",
            self.directory / "server.key",
            server=True,
            sans=sans,
        )

    def issue_client(self, common_name: str) -> Credentials:
        """A client certificate with CN = ``common_name`` in ``clients/``."""
        check_identity(common_name)
        clients = self.directory / "clients"
        try:
            clients.mkdir(exist_ok=True)
        except OSError as exc:
            raise UsageError(f"cannot create {clients}: {exc.strerror}") from None
        return self._issue(
            common_name, clients / f"{common_name}.pem", clients / f"{common_name}.key"
        )

    def _reusable(self, cert_path: Path, key_path: Path, common_name: str) -> bool:
        if not (cert_path.exists() and key_path.exists()):
            return False
        try:
            cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
            cert.verify_directly_issued_by(self._cert)
        except (ValueError, TypeError, InvalidSignature):
            return False
        names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
        return (
            bool(names)
            and names[0].value == common_name
            and cert.not_valid_after_utc - _now() > _MIN_REMAINING
        )

    def _issue(
        self,
        common_name: str,
        cert_path: Path,
        key_path: Path,
        *,
        server: bool = False,
        sans: list[x509.GeneralName] | None = None,
    ) -> Credentials:
        credentials = Credentials(cert_path, key_path)
        if self._reusable(cert_path, key_path, common_name):
            return credentials
        key = ec.generate_private_key(ec.SECP256R1())
        now = _now()
        usage = ExtendedKeyUsageOID.SERVER_AUTH if server else ExtendedKeyUsageOID.CLIENT_AUTH
        builder = (
            x509.CertificateBuilder()
            .subject_name(_name(common_name))
            .issuer_name(self._cert.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(hours=1))
            .not_valid_after(now + datetime.timedelta(days=_LEAF_DAYS))
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        )
        if sans:
            builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
        cert = builder.sign(self._key, hashes.SHA256())
        try:
            _write_key(key_path, key)
            _write_cert(cert_path, cert)
        except OSError as exc:
            raise UsageError(f"cannot write {cert_path}: {exc.strerror}") from None
        return credentials
