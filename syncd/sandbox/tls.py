"""TLS for the loopback server (a throw-away CA from ``trustme``) and client certificates for
certificate-credential tests.

msal insists on https for its authority, so the sandbox always serves TLS. Clients trust it by
passing the CA file as ``verify=``; note that ``REQUESTS_CA_BUNDLE`` / ``CURL_CA_BUNDLE``, when
set, override ``verify=`` inside requests (M365-NOTES section 0.1).
"""

from __future__ import annotations

import base64
import ssl
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import trustme
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class ServerTls:
    ca_path: Path
    context: ssl.SSLContext


def issue_server_tls(
    directory: Path, hosts: tuple[str, ...] = ("localhost", "127.0.0.1")
) -> ServerTls:
    """A new CA, a server certificate for ``hosts``, and the CA PEM written to ``directory``."""
    ca = trustme.CA()
    certificate = ca.issue_cert(*hosts)
    directory.mkdir(parents=True, exist_ok=True)
    ca_path = directory / "sandbox-ca.pem"
    ca.cert_pem.write_to_path(str(ca_path))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    certificate.configure_cert(context)
    return ServerTls(ca_path, context)


@dataclass(frozen=True)
class ClientCertificate:
    """A self-signed client credential, in the forms msal and the sandbox want."""

    private_key_pem: str
    certificate_pem: str
    sha1_thumbprint: str  # hex, for msal's {"thumbprint": ...} (RS256 + x5t)
    sha256_thumbprint: str  # hex

    @property
    def x5t(self) -> str:
        return base64.urlsafe_b64encode(bytes.fromhex(self.sha1_thumbprint)).decode().rstrip("=")


def generate_client_certificate(
    common_name: str = "syncd-sandbox-client", days: int = 365
) -> ClientCertificate:
    """An RSA-2048 self-signed certificate, as an app registration would upload."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=days))
        .sign(key, hashes.SHA256())
    )
    return ClientCertificate(
        private_key_pem=key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ).decode(),
        certificate_pem=cert.public_bytes(serialization.Encoding.PEM).decode(),
        sha1_thumbprint=cert.fingerprint(hashes.SHA1()).hex().upper(),  # x5t is SHA-1 (RFC 7515)
        sha256_thumbprint=cert.fingerprint(hashes.SHA256()).hex().upper(),
    )
