"""Who may call the ingest endpoint: Google-signed OIDC ID tokens of allowed service accounts, or a local token.

Both read only the `Authorization: Bearer <token>` header, so a refused request costs no body read.

- `OidcAuthenticator` (the cloud): google-auth verifies the signature against Google's certificates (fetched
  from `certs_url` and cached for CERTS_CACHE_SECONDS), the expiry and the audience (the function's URL); then
  the issuer must be Google and the `email` claim, verified, one of the allowed service accounts. A token
  under a key id the cached certificates lack (Google rotated its keys, or anyone made one up) refetches them
  at most once per CERTS_MIN_REFETCH_SECONDS: a stream of forged tokens costs one fetch a minute, not one each.
  Times come from an injected monotonic clock.
- `TokenAuthenticator` (local runs, CI against a local endpoint): a shared secret compared in constant time.
"""

from __future__ import annotations

import hmac
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol

GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
CERTS_CACHE_SECONDS = 300.0
CERTS_MIN_REFETCH_SECONDS = 60.0  # Google publishes a new key well before signing with it
CERTS_TIMEOUT_SECONDS = 10.0
CLOCK_SKEW_SECONDS = 10


@dataclass(frozen=True)
class Principal:
    """The caller, as the logs name it (a service account email, or "token")."""

    name: str


class Unauthorized(Exception):
    """No, malformed or wrong credentials: a 401. The message is for the logs and never holds the token."""


class AuthUnavailable(Exception):
    """The credentials could not be checked (the certificates could not be fetched): a 503."""


class Authenticator(Protocol):
    def authenticate(self, authorization: str | None) -> Principal: ...


def bearer_token(authorization: str | None) -> str:
    """The token of an `Authorization: Bearer <token>` header; Unauthorized otherwise."""
    if not authorization:
        raise Unauthorized("no Authorization header")
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or not token:
        raise Unauthorized("the Authorization header is not a bearer token")
    return token


class TokenAuthenticator:
    def __init__(self, token: str) -> None:
        if not token:
            raise ValueError("an empty token would let anyone in")
        self._expected = token.encode("utf-8")

    def authenticate(self, authorization: str | None) -> Principal:
        given = bearer_token(authorization).encode("utf-8")
        # Constant time: the comparison leaks nothing about how much of the token was right.
        if not hmac.compare_digest(given, self._expected):
            raise Unauthorized("wrong bearer token")
        return Principal("token")


class _CachedCertsRequest:
    """A google-auth transport request that caches successful GETs (the certificates) for a few minutes."""

    def __init__(self, clock: Callable[[], float], ttl: float = CERTS_CACHE_SECONDS) -> None:
        import google.auth.transport.requests
        import requests

        self._inner = google.auth.transport.requests.Request(session=requests.Session())
        self._clock = clock
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cache: dict[str, tuple[float, Any]] = {}

    def __call__(
        self,
        url: str,
        method: str = "GET",
        body: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        timeout: float | None = None,
        **kwargs: Any,
    ) -> Any:
        if method != "GET":
            return self._inner(url, method=method, body=body, headers=headers, timeout=timeout, **kwargs)
        with self._lock:
            cached = self._cache.get(url)
            if cached is not None and self._clock() - cached[0] < self._ttl:
                return cached[1]
        response = self._inner(url, method="GET", headers=headers, timeout=timeout or CERTS_TIMEOUT_SECONDS)
        if response.status == 200:
            with self._lock:
                self._cache[url] = (self._clock(), response)
        return response

    def forget_if_older_than(self, age: float) -> bool:
        """Drop the cached certificates fetched more than `age` seconds ago; whether any were dropped."""
        with self._lock:
            now = self._clock()
            stale = [url for url, (fetched, _) in self._cache.items() if now - fetched >= age]
            for url in stale:
                del self._cache[url]
            return bool(stale)


class OidcAuthenticator:
    def __init__(
        self,
        *,
        audience: str,
        allowed_service_accounts: Iterable[str],
        certs_url: str,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.audience = audience
        self.allowed = frozenset(email.lower() for email in allowed_service_accounts)
        self.certs_url = certs_url
        self._request = _CachedCertsRequest(clock)

    def authenticate(self, authorization: str | None) -> Principal:
        token = bearer_token(authorization)
        claims = self._verify(token)
        if claims.get("iss") not in GOOGLE_ISSUERS:
            raise Unauthorized(f"the ID token was not issued by Google (iss={claims.get('iss')!r})")
        email = claims.get("email")
        if not isinstance(email, str) or claims.get("email_verified") is not True:
            raise Unauthorized("the ID token has no verified email claim (request it with the email included)")
        if email.lower() not in self.allowed:
            raise Unauthorized(f"service account {email} is not allowed to ingest")
        return Principal(email)

    def _verify(self, token: str) -> Mapping[str, Any]:
        import google.auth.exceptions
        from google.oauth2 import id_token

        for attempt in range(2):
            try:
                claims: Mapping[str, Any] = id_token.verify_token(
                    token,
                    self._request,  # type: ignore[arg-type]  # duck-typed google.auth.transport.Request
                    audience=self.audience,
                    certs_url=self.certs_url,
                    clock_skew_in_seconds=CLOCK_SKEW_SECONDS,
                )
                return claims
            except google.auth.exceptions.TransportError as error:
                raise AuthUnavailable(f"cannot fetch the token certificates: {error}") from None
            except (ValueError, google.auth.exceptions.GoogleAuthError) as error:
                # Google rotates its keys: a key id we have not seen may be in fresher certificates, but only
                # if ours are not fresh already (forged key ids would otherwise each cost a fetch).
                unknown_key = "Certificate for key id" in str(error)
                if attempt == 0 and unknown_key and self._request.forget_if_older_than(CERTS_MIN_REFETCH_SECONDS):
                    continue
                # Only the error's type: google-auth's messages can quote the token itself, which must never
                # reach the logs (it is a credential until it expires).
                raise Unauthorized(f"invalid ID token ({type(error).__name__})") from None
        raise Unauthorized("invalid ID token")
