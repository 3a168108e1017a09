"""Check that an HTTP request really comes from Discord: Ed25519 signature, fresh timestamp, sane size.

Discord signs `timestamp + body` with the application's key and sends the hex signature and the timestamp in
`X-Signature-Ed25519` / `X-Signature-Timestamp`. The signature check is `discord_interactions.verify_key`
(PyNaCl underneath, so its timing does not depend on where a forged signature differs). Discord itself does
not require a freshness check; refusing old timestamps limits how long a captured request can be replayed.
`check_headers` applies the checks that need no body (declared size, signature and timestamp headers present
and well formed), so the HTTP layer refuses a request before reading its body; `verify_request` applies them
again with the rest.

Imports only the standard library and `discord_interactions` (which imports PyNaCl): this module is on the
interactions function's cold-start path. The body is never logged.
"""

from __future__ import annotations

import contextlib
import io
import re
import threading
import time
from collections.abc import Iterable
from typing import Protocol

from discord_interactions import verify_key

SIGNATURE_HEADER = "X-Signature-Ed25519"
TIMESTAMP_HEADER = "X-Signature-Timestamp"
MAX_AGE_S = 300
MAX_BODY = 64 * 1024

_PUBLIC_KEY = re.compile(r"[0-9a-fA-F]{64}")
_SIGNATURE = re.compile(r"[0-9a-fA-F]{128}")
_TIMESTAMP = re.compile(r"[0-9]{1,12}")  # Unix seconds as Discord sends them; 12 digits reach year 33658

# `verify_key` prints the exception on every failure. `redirect_stdout` swaps the process-wide sys.stdout, so
# two threads redirecting at once could restore each other's sink and leave stdout broken: one lock
# serialises the (≈ 70 µs) calls.
_SILENCE = threading.Lock()


class HeaderItems(Protocol):
    """Anything with `items()` of (name, value): a dict, or werkzeug's `Headers` that Flask hands over."""

    def items(self) -> Iterable[tuple[str, str]]: ...


class InvalidRequest(Exception):
    """The request must be refused with `status` (401 or 413); `reason` is safe to return and log."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(f"{status}: {reason}")
        self.status = status
        self.reason = reason


def verify_request(
    headers: HeaderItems,
    body: bytes,
    public_key: str,
    *,
    now: float | None = None,
    max_age_s: int = MAX_AGE_S,
    max_body: int = MAX_BODY,
) -> None:
    """Return if the request is signed by `public_key` and fresh; raise `InvalidRequest` otherwise.

    A malformed `public_key` is a configuration error and raises `ValueError`: refusing every request
    with 401 would hide it.
    """
    if not _PUBLIC_KEY.fullmatch(public_key):
        raise ValueError("the Discord public key must be 64 hexadecimal characters")
    if len(body) > max_body:
        raise InvalidRequest(413, "body too large")
    signature, timestamp = check_headers(headers, None, max_body=max_body)
    if not _signature_matches(body, signature, timestamp, public_key):
        raise InvalidRequest(401, "invalid signature")
    current = time.time() if now is None else now
    if abs(current - int(timestamp)) > max_age_s:
        raise InvalidRequest(401, "stale timestamp")


def check_headers(headers: HeaderItems, content_length: int | None, *, max_body: int = MAX_BODY) -> tuple[str, str]:
    """The (signature, timestamp) headers when present and well formed (else 401), and the declared size fits
    (else 413); raise
    `InvalidRequest` otherwise. Needs no body: the HTTP layer calls it before reading one."""
    signature = header(headers, SIGNATURE_HEADER)
    timestamp = header(headers, TIMESTAMP_HEADER)
    if not signature:
        raise InvalidRequest(401, "missing signature")
    if not timestamp:
        raise InvalidRequest(401, "missing timestamp")
    # Malformed values are refused before the library sees them: cheaper, and nothing to print.
    if not _SIGNATURE.fullmatch(signature):
        raise InvalidRequest(401, "invalid signature")
    if not _TIMESTAMP.fullmatch(timestamp):
        raise InvalidRequest(401, "invalid timestamp")
    if content_length is not None and content_length > max_body:
        raise InvalidRequest(413, "body too large")
    return signature, timestamp


def header(headers: HeaderItems, name: str) -> str | None:
    """The value of header `name`, whatever the case of the key in `headers`."""
    wanted = name.lower()
    for key, value in headers.items():
        if key.lower() == wanted:
            return value
    return None


def _signature_matches(body: bytes, signature: str, timestamp: str, public_key: str) -> bool:
    with _SILENCE, contextlib.redirect_stdout(io.StringIO()):
        return bool(verify_key(body, signature, timestamp, public_key))
