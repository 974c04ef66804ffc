"""HTTPS for the page and the API: the certificate, its fingerprint, the TLS context.

With ``[web.tls] cert`` and ``key`` configured, those are served. Without, the gateway
makes a self-signed certificate on first start, in its data directory and named for
the gateway (``web-cert.pem``, ``web-key.pem``, the key readable by the service only),
and makes a new one when it is within ``RENEW_BEFORE_DAYS`` of expiring or when
``store-gateway web-cert --renew`` asks. A browser cannot vouch for a self-signed
certificate; the technician checks its SHA-256 fingerprint instead (printed at start,
shown on the overview, and by ``store-gateway web-cert``).

``client_ca``: mutual TLS. Only clients presenting a certificate issued by that CA
get past the handshake (a store's management network).
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import socket
import ssl
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CERT_NAME = "web-cert.pem"
KEY_NAME = "web-key.pem"
VALID_DAYS = 825  # what browsers accept for a server certificate at the most
RENEW_BEFORE_DAYS = 30


class TlsError(RuntimeError):
    """A certificate or key that cannot be served; the message says which and why."""


@dataclass(frozen=True)
class TlsOptions:
    cert: Path | None = None  # configured; None: self-signed in the data directory
    key: Path | None = None
    client_ca: Path | None = None


@dataclass(frozen=True)
class CertInfo:
    cert: Path
    key: Path
    subject: str
    names: tuple[str, ...]  # the subject alternative names
    not_after: datetime.datetime
    fingerprint: str  # SHA-256 of the DER, as AB:CD:...
    self_signed: bool
    made: bool = False  # made just now

    def view(self) -> dict[str, object]:
        return {
            "fingerprint": self.fingerprint,
            "subject": self.subject,
            "names": list(self.names),
            "not_after": self.not_after.isoformat().replace("+00:00", "Z"),
            "self_signed": self.self_signed,
        }


def fingerprint(cert: x509.Certificate) -> str:
    digest = cert.fingerprint(hashes.SHA256()).hex().upper()
    return ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def self_signed_paths(data_dir: Path) -> tuple[Path, Path]:
    return data_dir / CERT_NAME, data_dir / KEY_NAME


def local_names(gateway_id: str, bind: str) -> list[str]:
    """What a technician may type to reach the page: the gateway's id and host name,
    localhost, the loopback addresses, the bound address and the host's own."""
    names = [gateway_id, socket.gethostname(), "localhost", "127.0.0.1", "::1"]
    if bind not in ("", "0.0.0.0", "::"):
        names.append(bind)
    try:
        for info in socket.getaddrinfo(socket.gethostname(), None):
            names.append(str(info[4][0]))
    except OSError:
        pass
    return list(dict.fromkeys(n for n in names if n))


def describe(cert_path: Path, key_path: Path, *, made: bool = False) -> CertInfo:
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
    except OSError as exc:
        raise TlsError(f"cannot read the certificate {cert_path}: {exc.strerror}") from exc
    except ValueError as exc:
        raise TlsError(f"{cert_path} is not a PEM certificate ({exc})") from exc
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = tuple(str(n.value) for n in san)
    except x509.ExtensionNotFound:
        names = ()
    return CertInfo(
        cert_path,
        key_path,
        cert.subject.rfc4514_string(),
        names,
        cert.not_valid_after_utc,
        fingerprint(cert),
        cert.issuer == cert.subject,
        made,
    )


def make_self_signed(data_dir: Path, gateway_id: str, names: Iterable[str]) -> CertInfo:
    """A new key and self-signed certificate, written atomically (key first, 0600)."""
    cert_path, key_path = self_signed_paths(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True)
    now = datetime.datetime.now(datetime.UTC)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, gateway_id),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "store-gateway"),
        ]
    )
    alt: list[x509.GeneralName] = []
    for name in names:
        try:
            alt.append(x509.IPAddress(ipaddress.ip_address(name)))
        except ValueError:
            alt.append(x509.DNSName(name))
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .add_extension(x509.SubjectAlternativeName(alt), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )
    _write_atomically(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
        0o600,
    )
    _write_atomically(cert_path, cert.public_bytes(serialization.Encoding.PEM), 0o644)
    return describe(cert_path, key_path, made=True)


def ensure(options: TlsOptions, data_dir: Path, gateway_id: str, bind: str) -> CertInfo:
    """The certificate to serve: the configured one, or the self-signed one (made when
    missing, unreadable or about to expire). Blocking (files, key generation)."""
    if options.cert is not None and options.key is not None:
        info = describe(options.cert, options.key)
        context(options)  # the key matches, the CA file reads: fail now, not per visitor
        return info
    cert_path, key_path = self_signed_paths(data_dir)
    if cert_path.exists() and key_path.exists():
        try:
            info = describe(cert_path, key_path)
        except TlsError:
            pass  # a damaged file: make a new pair
        else:
            left = info.not_after - datetime.datetime.now(datetime.UTC)
            if left > datetime.timedelta(days=RENEW_BEFORE_DAYS):
                return info
    return make_self_signed(data_dir, gateway_id, local_names(gateway_id, bind))


def context(options: TlsOptions, info: CertInfo | None = None) -> ssl.SSLContext:
    """The server's TLS context (TLS 1.2 at the least; client certificates with
    ``client_ca``)."""
    cert = info.cert if info is not None else options.cert
    key = info.key if info is not None else options.key
    assert cert is not None and key is not None
    ctx = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    load(ctx, cert, key)
    if options.client_ca is not None:
        try:
            ctx.load_verify_locations(cafile=str(options.client_ca))
        except (OSError, ssl.SSLError) as exc:
            raise TlsError(f"cannot read the client CA {options.client_ca}: {exc}") from exc
        ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def load(ctx: ssl.SSLContext, cert: Path, key: Path) -> None:
    """(Re)load the pair into ``ctx``: new handshakes get it (a reload after a renewal)."""
    try:
        ctx.load_cert_chain(str(cert), str(key))
    except FileNotFoundError as exc:
        raise TlsError(f"cannot read {exc.filename}: no such file") from exc
    except PermissionError as exc:
        raise TlsError(f"cannot read {exc.filename}: permission denied") from exc
    except ssl.SSLError as exc:
        raise TlsError(
            f"the key {key} does not match the certificate {cert}, or one is not PEM ({exc})"
        ) from exc


def _write_atomically(path: Path, data: bytes, mode: int) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(tmp, mode)
    os.replace(tmp, path)
