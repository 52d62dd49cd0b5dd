"""X.509 for the emulated certificate service: a signing CA, and AWS-style certificate ids.

AWS IoT's CreateKeysAndCertificate returns a new key pair and a certificate signed by an AWS CA;
its certificate id is the SHA-256 of the certificate's DER encoding (hex). The emulator does the
same with its own CA (:class:`LocalCA`): the CA of ``fleetsim broker-config --tls`` when
``fleetsim serve --ca-dir`` names it (so Mosquitto trusts what the emulator issues), else one
generated in memory.

Differences from AWS, on purpose:

* keys are ECDSA P-256, not RSA 2048 (a tenth of the cost per certificate, which matters for
  fleets of 10,000+; every TLS stack that speaks to AWS IoT accepts them);
* the subject CN is the *key id*, the SHA-256 of the certificate's SubjectPublicKeyInfo (AWS
  writes ``CN=AWS IoT Certificate``): a certificate cannot contain the hash of itself, and a
  broker with ``use_identity_as_username`` needs a unique CN to tell devices apart.
  ``fleetsim broker-config --acl-from`` reads the CN from each certificate's PEM.

Keys and serial numbers come from the operating system's randomness (``cryptography`` takes no
seeded generator); validity dates come from the injected clock.
"""

from __future__ import annotations

import datetime
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Final, Protocol

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric.ec import EllipticCurvePrivateKey
    from cryptography.hazmat.primitives.asymmetric.rsa import RSAPrivateKey

__all__ = [
    "CertificateIssuer",
    "IssuedCertificate",
    "LazyCA",
    "LocalCA",
    "certificate_id",
    "common_name",
]

#: AWS IoT-issued device certificates are valid until the end of 2049 (mem; the leaf is clamped
#: to its CA's validity).
_LEAF_NOT_AFTER: Final = datetime.datetime(2049, 12, 31, 23, 59, 59, tzinfo=datetime.UTC)


@dataclass(frozen=True, slots=True)
class IssuedCertificate:
    """A fresh certificate and its key pair, as CreateKeysAndCertificate returns them."""

    certificate_pem: str
    private_key_pem: str
    public_key_pem: str
    certificate_id: str
    not_before: float
    not_after: float


class CertificateIssuer(Protocol):
    """What the certificate service needs from a CA (injected; see :class:`LocalCA`)."""

    def issue(self, now: float, /) -> IssuedCertificate: ...

    def ca_certificate_pem(self) -> str: ...


def certificate_id(der: bytes) -> str:
    """AWS's certificate id: SHA-256 of the DER certificate, lower-case hex (64 characters)."""
    return hashlib.sha256(der).hexdigest()


def common_name(pem: bytes | str) -> str | None:
    """The subject CN of a PEM certificate (None without one). Raises ValueError if not PEM."""
    from cryptography import x509  # noqa: PLC0415
    from cryptography.x509.oid import NameOID  # noqa: PLC0415

    data = pem.encode() if isinstance(pem, str) else pem
    cert = x509.load_pem_x509_certificate(data)
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    return str(names[0].value) if names else None


def _utc(epoch: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(epoch, datetime.UTC)


class LocalCA:
    """A CA key and certificate in memory that signs device certificates.

    The import of ``cryptography`` is deferred to first use, so control planes that never issue a
    certificate (every in-process fleet run) do not pay for it.
    """

    __slots__ = ("_cert", "_key", "_pem")

    def __init__(
        self, cert: x509.Certificate, key: EllipticCurvePrivateKey | RSAPrivateKey
    ) -> None:
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415

        self._cert = cert
        self._key = key
        self._pem = cert.public_bytes(serialization.Encoding.PEM).decode()

    @classmethod
    def generate(cls, now: float, *, name: str = "fleetsim emulator CA") -> LocalCA:
        """A new self-signed ECDSA P-256 CA, valid from ``now`` (minus an hour) for 10 years."""
        from simulator.core.x509ca import build_ca  # noqa: PLC0415 - cryptography on demand

        cert, key = build_ca(name, _utc(now))
        return cls(cert, key)

    @classmethod
    def from_pem(cls, cert_pem: bytes, key_pem: bytes) -> LocalCA:
        """The CA of ``ca.pem`` + ``ca.key`` (as ``fleetsim broker-config --tls`` writes them).

        Raises:
            ValueError: not a PEM certificate and unencrypted private key that belong together,
                or not a CA certificate.
        """
        from cryptography import x509  # noqa: PLC0415
        from cryptography.exceptions import UnsupportedAlgorithm  # noqa: PLC0415
        from cryptography.hazmat.primitives import serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec, rsa  # noqa: PLC0415

        cert = x509.load_pem_x509_certificate(cert_pem)
        try:
            key = serialization.load_pem_private_key(key_pem, password=None)
        except TypeError:  # encrypted
            raise ValueError("the CA key is encrypted; give an unencrypted key") from None
        except UnsupportedAlgorithm as exc:
            raise ValueError(f"the CA key is not supported: {exc}") from None
        if not isinstance(key, ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey):
            raise ValueError("the CA key is neither EC nor RSA")
        public = serialization.PublicFormat.SubjectPublicKeyInfo
        der = serialization.Encoding.DER
        if key.public_key().public_bytes(der, public) != cert.public_key().public_bytes(
            der, public
        ):
            raise ValueError("the CA key does not belong to the CA certificate")
        try:
            basic = cert.extensions.get_extension_for_class(x509.BasicConstraints).value
        except x509.ExtensionNotFound:
            basic = None
        if basic is None or not basic.ca:
            raise ValueError("the certificate is not a CA certificate (basicConstraints CA:FALSE)")
        return cls(cert, key)

    def ca_certificate_pem(self) -> str:
        return self._pem

    def issue(self, now: float, /) -> IssuedCertificate:
        """A new device key pair and client certificate (CN = key id), valid from ``now``."""
        from cryptography import x509  # noqa: PLC0415
        from cryptography.hazmat.primitives import hashes, serialization  # noqa: PLC0415
        from cryptography.hazmat.primitives.asymmetric import ec  # noqa: PLC0415
        from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID  # noqa: PLC0415

        cert_ca = self._cert
        key = ec.generate_private_key(ec.SECP256R1())
        spki = key.public_key().public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        start = _utc(now) - datetime.timedelta(minutes=5)  # tolerate clocks a little behind
        end = min(_LEAF_NOT_AFTER, cert_ca.not_valid_after_utc)
        cert = (
            x509.CertificateBuilder()
            .subject_name(
                x509.Name(
                    [x509.NameAttribute(NameOID.COMMON_NAME, hashlib.sha256(spki).hexdigest())]
                )
            )
            .issuer_name(cert_ca.subject)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(start)
            .not_valid_after(end)
            .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
            .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False)
            .sign(self._key, hashes.SHA256())
        )
        return IssuedCertificate(
            certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
            private_key_pem=key.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.TraditionalOpenSSL,
                serialization.NoEncryption(),
            ).decode(),
            public_key_pem=key.public_key()
            .public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            .decode(),
            certificate_id=certificate_id(cert.public_bytes(serialization.Encoding.DER)),
            not_before=start.timestamp(),
            not_after=end.timestamp(),
        )


class LazyCA:
    """A :class:`LocalCA` generated on first use, dated by ``clock`` (the default issuer)."""

    __slots__ = ("_ca", "_clock")

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._ca: LocalCA | None = None

    def _get(self) -> LocalCA:
        if self._ca is None:
            self._ca = LocalCA.generate(self._clock())
        return self._ca

    def issue(self, now: float, /) -> IssuedCertificate:
        return self._get().issue(now)

    def ca_certificate_pem(self) -> str:
        return self._get().ca_certificate_pem()
