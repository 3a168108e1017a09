"""A stand-in for Google's ID-token issuer: our own RSA key signs tokens, its certificate is served on 127.0.0.1.

    with OidcIssuer() as issuer:
        token = issuer.token(email="ci@proj.iam.gserviceaccount.com", audience="https://ingest.example")
        certs_url = issuer.certs_url   # {key id: PEM certificate}, the format of Google's v1 certs endpoint

Tokens are signed with google-auth's own RS256 signer, as Google signs them; `expires_in` may be negative
(an expired token), `signing_key` another issuer's key (a forged signature under a known key id) and `key_id`
a key id the certificates do not list. `rotate()` publishes a new key (and signs with it) as Google does.
"""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID
from google.auth import crypt, jwt

from tests.harness.fakes.loopback import LoopbackServer

GOOGLE_ISSUER = "https://accounts.google.com"


def _new_key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _private_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode("ascii")


def _certificate_pem(key: rsa.RSAPrivateKey) -> str:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "docsbot test issuer")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=1))
        .sign(key, hashes.SHA256())
    )
    return certificate.public_bytes(serialization.Encoding.PEM).decode("ascii")


class OidcIssuer(LoopbackServer):
    """Signs ID tokens with a fresh RSA key and serves its certificate at `certs_url`."""

    thread_name = "fake-oidc"

    def __init__(self, key_id: str = "test-key-1") -> None:
        super().__init__()
        self.key_id = key_id
        self._key = _new_key()
        self._published = {key_id: _certificate_pem(self._key)}
        self.certs_requests = 0

    def rotate(self, key_id: str) -> None:
        """Sign with a new key from now on; the certificates list it beside the old ones."""
        self.key_id = key_id
        self._key = _new_key()
        self._published = {**self._published, key_id: _certificate_pem(self._key)}

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        issuer = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                issuer.certs_requests += 1
                certs = json.dumps(issuer._published).encode("utf-8")
                status, body = (200, certs) if self.path == "/certs" else (404, b"{}")
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                return

        return Handler

    @property
    def certs_url(self) -> str:
        return f"{self.url}/certs"

    def token(
        self,
        *,
        email: str,
        audience: str,
        expires_in: int = 3600,
        issuer: str = GOOGLE_ISSUER,
        email_verified: bool = True,
        signing_key: rsa.RSAPrivateKey | None = None,
        key_id: str | None = None,
    ) -> str:
        """A Google-style ID token (RS256, `kid` header) for a service account."""
        now = int(time.time())
        claims = {
            "iss": issuer,
            "aud": audience,
            "azp": "1234567890",
            "sub": "1234567890",
            "email": email,
            "email_verified": email_verified,
            "iat": min(now, now + expires_in - 60),
            "exp": now + expires_in,
        }
        signer = crypt.RSASigner.from_string(  # type: ignore[no-untyped-call]
            _private_pem(signing_key or self._key), key_id=key_id or self.key_id
        )
        encoded: bytes = jwt.encode(signer, claims)  # type: ignore[no-untyped-call]
        return encoded.decode("ascii")


def other_key() -> rsa.RSAPrivateKey:
    """A key no issuer publishes: tokens signed with it must be refused."""
    return _new_key()
