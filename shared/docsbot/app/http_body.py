"""Request bodies under hostile clients: refuse from the headers, read at most a cap, within a deadline.

What the functions' HTTP servers do on their own is unsafe for a public endpoint:

- functions-framework registers an `after_request` hook (`read_request`) that calls `request.get_data()` after
  every response that is not streamed: the whole remaining body is read into memory, with no deadline, before
  the answer is sent. A 401 for a 286 MB body cost its 286 MB; a body declared and never sent held the answer
  (and a worker thread) forever.
- gunicorn's gthread worker (functions-framework's server, `THREADS` threads) reads a body with no timeout, so
  a few connections trickling a byte a second hold every thread.

So the functions answer through this module:

- `read_body` refuses a declared `Content-Length` over the cap before reading a byte (`BodyTooLarge`), reads
  at most cap + 1 bytes of a chunked body, and gives the whole read a deadline: a watchdog shuts the socket's
  read side when it passes, which wakes a read blocked on a silent client (`BodySlow`, answer 408). A body that
  ends early is `BodyIncomplete` (400). Memory is bounded by the cap.
- `refusal` turns an answer given before the body was read (401, 405, 413, 408...) into a streamed response,
  which functions-framework's hook leaves alone, that stops reading the connection once the answer is sent:
  the server closes it instead of draining the rest of the body. A client still sending then sees the
  connection close (after the answer, which it reads first).

The socket comes from the WSGI environ: `gunicorn.socket` (gunicorn) or `werkzeug.socket` (werkzeug's
server, `docsbot serve` and tests). Under another server the cap still holds and the deadline does not.
Imports only the standard library and Flask: this module is on the interactions function's cold-start path.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import flask

logger = logging.getLogger(__name__)

READ_CHUNK = 64 * 1024


class BodyError(Exception):
    """The body cannot be used; `status` and `message` are the answer."""

    status = 400
    message = "the body could not be read"


class BodyTooLarge(BodyError):
    status = 413
    message = "body too large"


class BodySlow(BodyError):
    status = 408
    message = "the body was not received in time"


class BodyIncomplete(BodyError):
    status = 400
    message = "the body ended before its declared length"


def request_socket(environ: Mapping[str, Any]) -> socket.socket | None:
    """The client connection under the request, when the server exposes it."""
    for key in ("gunicorn.socket", "werkzeug.socket"):
        found = environ.get(key)
        if isinstance(found, socket.socket):
            return found
    return None


def stop_reading(connection: socket.socket | None) -> None:
    """Shut the read side of the connection: a blocked read returns at once, the server reads nothing more."""
    if connection is None:
        return
    with contextlib.suppress(OSError):  # already closed by the client: nothing left to stop
        connection.shutdown(socket.SHUT_RD)


def too_large(request: flask.Request, limit: int) -> bool:
    """True when the declared body is over `limit` (checked before reading anything)."""
    return request.content_length is not None and request.content_length > limit


def read_body(request: flask.Request, limit: int, deadline_s: float) -> bytes:
    """The whole body, at most `limit` bytes, received within `deadline_s` seconds; BodyError otherwise."""
    if too_large(request, limit):
        raise BodyTooLarge
    connection = request_socket(request.environ)
    expired = threading.Event()

    def expire() -> None:
        expired.set()
        stop_reading(connection)

    watchdog = threading.Timer(deadline_s, expire)
    watchdog.daemon = True
    watchdog.start()
    parts: list[bytes] = []
    size = 0
    try:
        stream = request.stream
        while True:
            chunk = stream.read(READ_CHUNK)
            if not chunk:
                break
            size += len(chunk)
            if size > limit:
                raise BodyTooLarge
            parts.append(chunk)
    except BodyError:
        raise
    except Exception as error:  # the server's own "client went away" (werkzeug, gunicorn) or a socket error
        if expired.is_set():
            raise BodySlow from None
        logger.info("request body broke off: %s", type(error).__name__)
        raise BodyIncomplete from None
    finally:
        watchdog.cancel()
    if expired.is_set():
        raise BodySlow  # the deadline cut the body short
    if request.content_length is not None and size < request.content_length:
        raise BodyIncomplete
    return b"".join(parts)


def refusal(
    request: flask.Request, status: int, body: object, headers: Mapping[str, str] | None = None
) -> flask.Response:
    """A JSON answer for a request whose body is left unread: sent at once, then the connection is not read."""
    payload = json.dumps(body).encode("utf-8")
    connection = request_socket(request.environ)

    def send() -> Iterator[bytes]:
        yield payload
        stop_reading(connection)  # runs once the server has written the answer

    response = flask.Response(send(), status=status, mimetype="application/json", headers=dict(headers or {}))
    response.headers["Content-Length"] = str(len(payload))
    return response
