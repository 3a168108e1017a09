"""A scriptable website on 127.0.0.1 for crawler tests: a route table, request recording, slow and huge answers.

    with SiteServer() as site:
        site.page("/docs/intro", "<html>...</html>")
        site.route("/robots.txt", body="User-agent: *\\nDisallow: /private\\n", content_type="text/plain")
        site.route("/flaky", [Reply(status=500), Reply(body="<p>ok</p>")])  # one answer per request, last repeats
        site.route("/huge", lambda request: Reply(body=site_chunks(50 * 1024 * 1024)))  # streamed, chunked
        ...
        assert site.paths() == ["/robots.txt", "/docs/intro"]

A route answers with a `Reply`, a list of `Reply`s (one per request, the last one repeating), or a handler
`(RecordedRequest) -> Reply` (use one for generated bodies: a generator serves one request only). Unknown
paths get a 404 HTML page. Every request is recorded with its headers and arrival time (time.monotonic), and
the server tracks how many requests it handled at once and how many body bytes it managed to send per path
(a client that stops reading makes the writes fail).
"""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from tests.harness.fakes.loopback import LoopbackServer


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the server received it."""

    method: str
    path: str  # without the query
    query: str
    headers: dict[str, str]  # names lower-cased
    time: float  # time.monotonic() when the request line arrived


@dataclass
class Reply:
    """An answer: status, headers and a body (bytes, text, or an iterable of chunks streamed as produced)."""

    status: int = 200
    body: bytes | str | Iterable[bytes] = b""
    content_type: str | None = "text/html; charset=utf-8"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0  # seconds to wait before answering (timeouts, concurrency)
    drop: bool = False  # close the connection without answering: a server that died (a connection error)


Handler = Callable[[RecordedRequest], Reply]
RouteSpec = Reply | list[Reply] | Handler


def site_chunks(total: int, chunk: int = 64 * 1024) -> Iterator[bytes]:
    """`total` bytes of filler HTML, produced lazily `chunk` bytes at a time."""
    block = b"<p>" + b"x" * (chunk - 7) + b"</p>\n"
    sent = 0
    while sent < total:
        piece = block[: total - sent]
        sent += len(piece)
        yield piece


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that hangs up (size limit, timeout) is part of the tests, not an error worth a traceback.
        if isinstance(sys.exc_info()[1], ConnectionError):
            return
        super().handle_error(request, client_address)


class SiteServer(LoopbackServer):
    """A website on an ephemeral 127.0.0.1 port, served from background threads."""

    thread_name = "fake-site"
    server_class = _QuietServer

    def __init__(self) -> None:
        super().__init__()
        self._routes: dict[str, RouteSpec] = {}
        self._served: dict[str, int] = {}  # path → requests answered by a list route so far
        self._requests: list[RecordedRequest] = []
        self._bytes_sent: dict[str, int] = {}
        self._active = 0
        self.max_active = 0  # the most requests handled at the same time
        self._lock = threading.Lock()

    def handler_class(self) -> type[BaseHTTPRequestHandler]:
        return _make_handler_class(self)

    def at(self, path: str) -> str:
        """The absolute URL of `path` on this server."""
        return f"{self.url}{path}"

    # --- scripting -------------------------------------------------------------------------------

    def route(self, path: str, spec: RouteSpec | None = None, **reply: Any) -> None:
        """Answer `path` with `spec`, or with `Reply(**reply)` when no spec is given."""
        with self._lock:
            self._routes[path] = spec if spec is not None else Reply(**reply)
            self._served.pop(path, None)

    def page(self, path: str, html: str, **headers: str) -> None:
        """Serve an HTML page (extra headers by keyword, `_` for `-`: `ETag="..."`)."""
        self.route(path, Reply(body=html, headers={k.replace("_", "-"): v for k, v in headers.items()}))

    def redirect(self, path: str, location: str, status: int = 301) -> None:
        self.route(path, Reply(status=status, headers={"Location": location}, content_type=None))

    # --- inspection ------------------------------------------------------------------------------

    @property
    def requests(self) -> list[RecordedRequest]:
        with self._lock:
            return list(self._requests)

    def requests_to(self, path: str) -> list[RecordedRequest]:
        return [r for r in self.requests if r.path == path]

    def paths(self) -> list[str]:
        """Requested paths, in arrival order."""
        return [r.path for r in self.requests]

    def bytes_sent(self, path: str) -> int:
        """Body bytes written for `path` (all requests), as far as the socket accepted them."""
        with self._lock:
            return self._bytes_sent.get(path, 0)

    # --- dispatch (server threads) ---------------------------------------------------------------

    def _answer(self, request: RecordedRequest) -> Reply:
        with self._lock:
            self._requests.append(request)
            spec = self._routes.get(request.path)
            if isinstance(spec, list):
                position = self._served.get(request.path, 0)
                self._served[request.path] = position + 1
                spec = spec[min(position, len(spec) - 1)]
        if spec is None:
            return Reply(status=404, body="<html><body><h1>Not found</h1></body></html>")
        if isinstance(spec, Reply):
            return spec
        return spec(request)

    def _enter(self) -> None:
        with self._lock:
            self._active += 1
            self.max_active = max(self.max_active, self._active)

    def _leave(self) -> None:
        with self._lock:
            self._active -= 1

    def _count_sent(self, path: str, size: int) -> None:
        with self._lock:
            self._bytes_sent[path] = self._bytes_sent.get(path, 0) + size


def _make_handler_class(server: SiteServer) -> type[BaseHTTPRequestHandler]:
    class _RequestHandler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self) -> None:
            self._dispatch()

        def do_HEAD(self) -> None:
            self._dispatch()

        def log_message(self, format: str, *args: Any) -> None:
            return  # keep test output clean

        def _dispatch(self) -> None:
            path, _, query = self.path.partition("?")
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = RecordedRequest(self.command, path, query, headers, time.monotonic())
            server._enter()
            try:
                reply = server._answer(request)
                if reply.delay:
                    time.sleep(reply.delay)
                if reply.drop:
                    self.close_connection = True
                    return
                self._write(path, reply)
            except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
                self.close_connection = True  # the client went away (timeouts, size limits): expected
            finally:
                server._leave()

        def _write(self, path: str, reply: Reply) -> None:
            self.send_response(reply.status)
            if reply.content_type:
                self.send_header("Content-Type", reply.content_type)
            for name, value in reply.headers.items():
                self.send_header(name, value)
            declared = {name.lower() for name in reply.headers}
            body = reply.body
            if isinstance(body, bytes | str):
                payload = body.encode("utf-8") if isinstance(body, str) else body
                if "content-length" not in declared:
                    self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)
                    server._count_sent(path, len(payload))
                return
            # A generated body: raw when the reply declares a Content-Length, else chunked.
            chunked = "content-length" not in declared
            if chunked:
                self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for chunk in body:
                if not chunk:
                    continue
                self.wfile.write(f"{len(chunk):x}\r\n".encode("ascii") + chunk + b"\r\n" if chunked else chunk)
                self.wfile.flush()
                server._count_sent(path, len(chunk))
            if chunked:
                self.wfile.write(b"0\r\n\r\n")

    return _RequestHandler
