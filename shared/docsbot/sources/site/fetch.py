"""A polite HTTP fetcher for crawling documentation sites.

`PoliteFetcher` wraps one `requests.Session` and is safe to share between the crawler's threads. It:

- names itself in the User-Agent, with a contact URL;
- reads each host's robots.txt once per crawl (per fetcher), never fetches a disallowed URL, and honours
  `Crawl-delay` (the larger of it and the configured delay);
- spaces request *starts* to one host by a minimum delay and bounds concurrent requests per host;
- retries 429, 5xx and connection errors with exponential backoff, honouring `Retry-After`;
- streams bodies with a size limit, follows redirects itself (never off the allowed hosts), skips
  non-HTML pages after their headers, and sends conditional requests when given validators.

robots.txt outcomes follow RFC 9309: a 4xx answer (missing file) allows everything; a 5xx answer, a 429
or an unreachable server after the retries means *disallow everything* for the rest of the crawl, as
Google does. A crawl that meets that reports itself incomplete (`robots_unavailable()`), so the indexer
keeps what it indexed before instead of deleting pages it could not see.

Stopping (Ctrl-C, a crawl abandoned): `stop()` (and `close()`) make every request in progress end now: the
sockets of bodies being read are shut down (a blocked read returns at once, not after the read timeout), the
body loop checks the stop flag between chunks, and no request, retry or redirect starts after it.

Long because: robots.txt, per-host pacing, retries, redirects and the size-capped stream are the one
politeness contract of a request; keeping them together keeps every request under every rule.
"""

from __future__ import annotations

import contextlib
import email.utils
import logging
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from types import TracebackType
from urllib.parse import urljoin, urlsplit

import requests
import urllib3.exceptions
from protego import Protego
from requests.adapters import HTTPAdapter

from docsbot.sources.site.urls import host_key, normalise_host, without_fragment

logger = logging.getLogger(__name__)

DEFAULT_USER_AGENT = "docsbot/0.1 (+https://github.com/docsbot/docsbot)"

# FetchResult.outcome values.
FETCHED = "fetched"
NOT_MODIFIED = "not_modified"
SKIPPED_ROBOTS = "skipped_robots"
SKIPPED_NON_HTML = "skipped_non_html"
ERROR = "error"

# FetchResult.error_kind values, besides "http_<status>" for 4xx/5xx answers ("http_404", "http_503").
TIMEOUT = "timeout"
CONNECTION = "connection"
RATE_LIMITED = "rate_limited"
TOO_LARGE = "too_large"
REDIRECT_LOOP = "redirect_loop"
TOO_MANY_REDIRECTS = "too_many_redirects"
OFF_HOST = "off_host"
INVALID_URL = "invalid_url"

# RobotsInfo.status values.
ROBOTS_PARSED = "parsed"
ROBOTS_MISSING = "missing"  # 4xx: no rules, everything allowed
ROBOTS_UNAVAILABLE = "unavailable"  # 5xx / 429 / unreachable: everything disallowed for this crawl

HTML_TYPES = ("text/html", "application/xhtml+xml")
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
_CHUNK_BYTES = 64 * 1024
_STOPPED = "the crawl was stopped"


@dataclass(frozen=True)
class FetchOptions:
    """How politely and how defensively to fetch."""

    user_agent: str = DEFAULT_USER_AGENT
    allowed_hosts: tuple[str, ...] = ()  # `host` or `host:port`; empty: only the requested URL's own host
    delay_seconds: float = 0.5  # minimum time between request starts to one host
    concurrency_per_host: int = 2
    retries: int = 3  # further attempts after a 429, a 5xx or a connection error
    backoff_seconds: float = 1.0  # first retry wait without Retry-After; doubles each retry
    max_wait_seconds: float = 60.0  # longest wait before a retry; a longer Retry-After gives up
    connect_timeout: float = 5.0
    read_timeout: float = 20.0  # per socket read
    max_seconds: float = 120.0  # whole-response deadline against trickling servers (checked between chunks)
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    robots_max_bytes: int = 512 * 1024  # RFC 9309 asks crawlers to read at least 500 KiB

    def __post_init__(self) -> None:
        if self.delay_seconds < 0 or self.backoff_seconds < 0 or self.max_wait_seconds < 0:
            raise ValueError("delays must not be negative")
        if self.concurrency_per_host < 1:
            raise ValueError("concurrency_per_host must be at least 1")
        if self.retries < 0 or self.max_redirects < 0:
            raise ValueError("retries and max_redirects must not be negative")
        if self.connect_timeout <= 0 or self.read_timeout <= 0 or self.max_seconds <= 0:
            raise ValueError("timeouts must be positive")
        if self.max_bytes < 1 or self.robots_max_bytes < 1:
            raise ValueError("byte limits must be positive")


@dataclass(frozen=True)
class FetchResult:
    """What fetching one URL gave: a body, a reason it was skipped, or an error."""

    url: str  # as requested, without fragment
    final_url: str  # after redirects
    outcome: str  # FETCHED, NOT_MODIFIED, SKIPPED_ROBOTS, SKIPPED_NON_HTML or ERROR
    status: int | None = None  # the last HTTP status seen
    error_kind: str | None = None  # set when outcome is ERROR
    message: str = ""
    body: bytes = b""
    content_type: str | None = None
    etag: str | None = None
    last_modified: str | None = None
    attempts: int = 0  # HTTP requests sent, retries and redirect hops included

    @property
    def ok(self) -> bool:
        return self.outcome == FETCHED


@dataclass(frozen=True)
class RobotsInfo:
    """A host's robots.txt as the fetcher understood it."""

    origin: str  # scheme://host[:port]
    status: str  # ROBOTS_PARSED, ROBOTS_MISSING or ROBOTS_UNAVAILABLE
    crawl_delay: float | None = None  # for our user agent
    sitemaps: tuple[str, ...] = ()
    message: str = ""
    parser: Protego | None = field(default=None, repr=False, compare=False)  # RFC 9309 rules (wildcards, `$`)


@dataclass
class _Answer:
    """One HTTP exchange: a status with headers and (maybe) a body, or a failure before/while reading."""

    status: int | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    body: bytes = b""
    outcome: str = FETCHED
    error_kind: str | None = None
    message: str = ""
    retryable: bool = False
    retry_after: float | None = None


class _HostGate:
    """Per-host politeness: at most `concurrency` requests at once, starts spaced by `delay` seconds."""

    def __init__(
        self, concurrency: int, delay: float, clock: Callable[[], float], sleep: Callable[[float], None]
    ) -> None:
        self._slots = threading.BoundedSemaphore(concurrency)
        self._lock = threading.Lock()
        self._clock = clock
        self._sleep = sleep
        self._next_start: float | None = None
        self._last_start: float | None = None
        self.delay = delay

    @contextmanager
    def turn(self) -> Iterator[None]:
        """Hold a request slot, starting no sooner than the host's next allowed start time."""
        self._slots.acquire()
        try:
            with self._lock:
                # Reserve a start time under the lock, then sleep outside it, so that concurrent threads
                # queue up at `delay` intervals instead of all waking at the same instant.
                now = self._clock()
                start = now if self._next_start is None else max(now, self._next_start)
                self._last_start = start
                self._next_start = start + self.delay
            if start > now:
                self._sleep(start - now)
            yield
        finally:
            self._slots.release()

    def defer(self, seconds: float) -> None:
        """Start no request to this host for `seconds` (a Retry-After or a backoff applies host-wide)."""
        with self._lock:
            until = self._clock() + seconds
            self._next_start = until if self._next_start is None else max(self._next_start, until)

    def slow_down(self, delay: float) -> None:
        """Raise the delay (a robots.txt Crawl-delay), counting from the last start (the robots.txt request)."""
        with self._lock:
            self.delay = max(self.delay, delay)
            if self._last_start is not None:
                until = self._last_start + self.delay
                self._next_start = until if self._next_start is None else max(self._next_start, until)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP date), or None if absent/invalid."""
    if not value:
        return None
    text = value.strip()
    if text.isdigit():
        return float(int(text))
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    reference = now or datetime.now(UTC)
    return max(0.0, (when - reference).total_seconds())


def _server_now(headers: Mapping[str, str]) -> datetime | None:
    # An HTTP-date Retry-After is relative to the server's clock: its Date header avoids clock skew.
    date = headers.get("date")
    if not date:
        return None
    try:
        parsed = email.utils.parsedate_to_datetime(date)
    except (TypeError, ValueError, IndexError):
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _media_type(content_type: str | None) -> str:
    return (content_type or "").split(";", 1)[0].strip().lower()


def _origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme.lower()}://{host_key(url)}"


def _is_read_timeout(error: BaseException) -> bool:
    # requests wraps a read timeout that happens while streaming the body in a plain ConnectionError.
    if isinstance(error, requests.exceptions.ReadTimeout | urllib3.exceptions.ReadTimeoutError):
        return True
    return any(isinstance(arg, urllib3.exceptions.ReadTimeoutError) for arg in error.args)


def _abort(response: requests.Response) -> None:
    """Shut down the socket of a response being read, from any thread: its blocked read returns at once."""
    connection = getattr(response.raw, "connection", None)
    sock = getattr(connection, "sock", None)
    if isinstance(sock, socket.socket):
        with contextlib.suppress(OSError):  # already closed: nothing left to end
            sock.shutdown(socket.SHUT_RDWR)


class PoliteFetcher:
    """Fetches pages politely and defensively; one instance per crawl, shared by its threads.

    `sleep` and `clock` (monotonic seconds) are injectable so tests can record waits instead of sleeping.
    """

    def __init__(
        self,
        options: FetchOptions | None = None,
        *,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options or FetchOptions()
        self._allowed_hosts = frozenset(normalise_host(h) for h in self.options.allowed_hosts)
        self._sleep = sleep
        self._clock = clock
        self._session = session or requests.Session()
        # Enough pooled connections for every thread; urllib3 retries are off because we retry ourselves.
        adapter = HTTPAdapter(pool_maxsize=max(10, self.options.concurrency_per_host * 4), max_retries=0)
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = self.options.user_agent
        self._lock = threading.Lock()
        self._gates: dict[str, _HostGate] = {}
        self._robots: dict[str, RobotsInfo] = {}
        self._robots_locks: dict[str, threading.Lock] = {}
        self._stopped = threading.Event()
        self._open: set[requests.Response] = set()  # responses being read: their sockets are shut down on stop

    # --- lifecycle -------------------------------------------------------------------------------

    def stop(self) -> None:
        """End every request in progress now and start no other (thread-safe; the fetcher is done after it)."""
        self._stopped.set()
        with self._lock:
            responses = list(self._open)
        for response in responses:
            _abort(response)

    @property
    def stopped(self) -> bool:
        return self._stopped.is_set()

    def close(self) -> None:
        self.stop()
        self._session.close()

    def __enter__(self) -> PoliteFetcher:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    # --- public API ------------------------------------------------------------------------------

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        """GET an HTML page: robots-checked, polite, retried, size-limited; conditional when given validators."""
        headers: dict[str, str] = {"Accept": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.1"}
        if etag:
            headers["If-None-Match"] = etag
        if last_modified:
            headers["If-Modified-Since"] = last_modified
        return self._fetch(url, headers=headers, html_only=True, max_bytes=self.options.max_bytes)

    def fetch_document(self, url: str, *, max_bytes: int | None = None) -> FetchResult:
        """GET any document (a sitemap, say) with the same rules, whatever its content type."""
        return self._fetch(url, headers={}, html_only=False, max_bytes=max_bytes or self.options.max_bytes)

    def host_allowed(self, url: str, *, origin_host: str | None = None) -> bool:
        """Whether `url` is on an allowed host (without allowed hosts configured: on `origin_host`)."""
        host = host_key(url)
        if not host:
            return False
        if self._allowed_hosts:
            return host in self._allowed_hosts
        return origin_host is None or host == origin_host

    def robots(self, url: str) -> RobotsInfo:
        """The robots.txt of `url`'s origin, fetched on first use and cached for the fetcher's life."""
        origin = _origin(url)
        with self._lock:
            cached = self._robots.get(origin)
            if cached is not None:
                return cached
            origin_lock = self._robots_locks.setdefault(origin, threading.Lock())
        # One thread fetches a host's robots.txt; the others wait for it rather than fetch it again.
        with origin_lock:
            with self._lock:
                cached = self._robots.get(origin)
            if cached is not None:
                return cached
            info = self._read_robots(origin)
            if info.crawl_delay:
                self._gate(url).slow_down(info.crawl_delay)
            with self._lock:
                self._robots[origin] = info
            return info

    def allowed(self, url: str) -> bool:
        """Whether robots.txt lets our user agent fetch `url` (fetching robots.txt if needed)."""
        if not host_key(url):
            return False
        info = self.robots(url)
        if info.status == ROBOTS_MISSING:
            return True
        if info.status == ROBOTS_UNAVAILABLE or info.parser is None:
            return False
        return bool(info.parser.can_fetch(url, self.options.user_agent))

    def robots_unavailable(self) -> list[RobotsInfo]:
        """The hosts whose robots.txt could not be read: everything there was treated as disallowed."""
        with self._lock:
            return [info for info in self._robots.values() if info.status == ROBOTS_UNAVAILABLE]

    @contextmanager
    def polite_turn(self, url: str) -> Iterator[None]:
        """Hold `url`'s host slot, after its delay: for work that loads the page another way (a browser)."""
        with self._gate(url).turn():
            yield

    # --- internals -------------------------------------------------------------------------------

    def _gate(self, url: str) -> _HostGate:
        host = host_key(url)
        with self._lock:
            gate = self._gates.get(host)
            if gate is None:
                gate = _HostGate(
                    self.options.concurrency_per_host, self.options.delay_seconds, self._clock, self._sleep
                )
                self._gates[host] = gate
            return gate

    def _read_robots(self, origin: str) -> RobotsInfo:
        url = f"{origin}/robots.txt"
        result = self._fetch(
            url, headers={}, html_only=False, max_bytes=self.options.robots_max_bytes, check_robots=False
        )
        status = result.status
        if result.ok and status is not None and 200 <= status < 300:
            # Protego follows RFC 9309 (`*` and `$` in paths, the longest match wins); the standard library does not.
            parser = Protego.parse(result.body.decode("utf-8", errors="replace"))
            delay = parser.crawl_delay(self.options.user_agent)
            sitemaps = tuple(parser.sitemaps)
            crawl_delay = float(delay) if delay else None
            if crawl_delay:
                logger.info("robots.txt of %s asks for a crawl delay of %s s", origin, crawl_delay)
            return RobotsInfo(origin, ROBOTS_PARSED, crawl_delay=crawl_delay, sitemaps=sitemaps, parser=parser)
        if result.error_kind and (
            result.error_kind.startswith("http_5") or result.error_kind in (RATE_LIMITED, TIMEOUT, CONNECTION)
        ):
            message = f"robots.txt at {url} is unreachable ({result.error_kind}): not crawling {origin}"
            logger.warning("%s", message)
            return RobotsInfo(origin, ROBOTS_UNAVAILABLE, message=message)
        # 4xx, too large, redirected away or too often: RFC 9309 treats the file as unavailable, i.e. no rules.
        reason = result.error_kind or f"status {status}"
        return RobotsInfo(origin, ROBOTS_MISSING, message=f"no robots.txt at {url} ({reason})")

    def _fetch(
        self, url: str, *, headers: dict[str, str], html_only: bool, max_bytes: int, check_robots: bool = True
    ) -> FetchResult:
        requested = without_fragment(url.strip())
        origin_host = host_key(requested)
        if not origin_host:
            return FetchResult(requested, requested, ERROR, error_kind=INVALID_URL, message="not an http(s) URL")
        current = requested
        visited = {current}
        attempts = 0
        redirects = 0
        while True:
            if self._stopped.is_set():
                return FetchResult(
                    requested, current, ERROR, error_kind=CONNECTION, message=_STOPPED, attempts=attempts
                )
            if not self.host_allowed(current, origin_host=origin_host):
                return FetchResult(
                    requested, current, ERROR, error_kind=OFF_HOST, attempts=attempts,
                    message=f"{current} is not on an allowed host",
                )  # fmt: skip
            if check_robots and not self.allowed(current):
                return FetchResult(
                    requested, current, SKIPPED_ROBOTS, attempts=attempts, message="disallowed by robots.txt"
                )
            answer, tries = self._get_with_retries(current, headers, html_only=html_only, max_bytes=max_bytes)
            attempts += tries
            if answer.status in REDIRECT_STATUSES and answer.outcome == FETCHED:
                location = answer.headers.get("location")
                if not location:
                    return self._result(requested, current, answer, attempts, error_kind=f"http_{answer.status}")
                target = without_fragment(urljoin(current, location.strip()))
                if not host_key(target):
                    return FetchResult(
                        requested, current, ERROR, answer.status, OFF_HOST, f"redirect to {target}", attempts=attempts
                    )
                if target in visited:
                    return FetchResult(
                        requested, target, ERROR, answer.status, REDIRECT_LOOP, "redirect loop", attempts=attempts
                    )
                if redirects >= self.options.max_redirects:
                    return FetchResult(
                        requested, target, ERROR, answer.status, TOO_MANY_REDIRECTS,
                        f"more than {self.options.max_redirects} redirects", attempts=attempts,
                    )  # fmt: skip
                redirects += 1
                visited.add(target)
                current = target
                continue
            return self._result(requested, current, answer, attempts)

    def _result(
        self, requested: str, final: str, answer: _Answer, attempts: int, error_kind: str | None = None
    ) -> FetchResult:
        outcome = ERROR if error_kind else answer.outcome
        if outcome == FETCHED and answer.status == 304:
            outcome = NOT_MODIFIED
        elif outcome == FETCHED and answer.status is not None and not 200 <= answer.status < 300:
            # 1xx, 300, 305...: nothing usable.
            outcome, error_kind = ERROR, f"http_{answer.status}"
        return FetchResult(
            url=requested,
            final_url=final,
            outcome=outcome,
            status=answer.status,
            error_kind=error_kind or answer.error_kind,
            message=answer.message,
            body=answer.body if outcome == FETCHED else b"",
            content_type=answer.headers.get("content-type"),
            etag=answer.headers.get("etag"),
            last_modified=answer.headers.get("last-modified"),
            attempts=attempts,
        )

    def _get_with_retries(
        self, url: str, headers: dict[str, str], *, html_only: bool, max_bytes: int
    ) -> tuple[_Answer, int]:
        gate = self._gate(url)
        tries = 0
        while True:
            with gate.turn():
                tries += 1
                answer = self._get_once(url, headers, html_only=html_only, max_bytes=max_bytes)
            if not answer.retryable or self._stopped.is_set():
                return answer, tries
            retry = tries - 1  # 0 for the first retry
            wait = answer.retry_after
            if wait is None:
                wait = min(self.options.backoff_seconds * 2**retry, self.options.max_wait_seconds)
            elif wait > self.options.max_wait_seconds:
                logger.warning("%s asks to retry after %.0f s, longer than we wait: giving up", url, wait)
                return self._give_up(answer), tries
            if retry >= self.options.retries:
                return self._give_up(answer), tries
            logger.info("retrying %s in %.2f s (%s)", url, wait, answer.error_kind)
            # Deferring the host's next start makes every thread wait, not just this one.
            gate.defer(wait)

    @staticmethod
    def _give_up(answer: _Answer) -> _Answer:
        answer.retryable = False
        if answer.status == 429:
            answer.error_kind = RATE_LIMITED
        return answer

    def _get_once(self, url: str, headers: dict[str, str], *, html_only: bool, max_bytes: int) -> _Answer:
        started = self._clock()
        if self._stopped.is_set():
            return _Answer(outcome=ERROR, error_kind=CONNECTION, message=_STOPPED)
        try:
            response = self._session.get(
                url,
                headers=headers,
                stream=True,
                allow_redirects=False,
                timeout=(self.options.connect_timeout, self.options.read_timeout),
            )
        except requests.exceptions.ConnectTimeout as error:
            return _Answer(outcome=ERROR, error_kind=TIMEOUT, message=f"connect timeout: {error}", retryable=True)
        except requests.exceptions.ReadTimeout:
            # Not retried: a server that is slow to answer is usually slow again, and retries multiply the wait.
            return _Answer(outcome=ERROR, error_kind=TIMEOUT, message="read timeout waiting for the response")
        except requests.exceptions.ConnectionError as error:
            return _Answer(outcome=ERROR, error_kind=CONNECTION, message=str(error), retryable=True)
        except requests.exceptions.RequestException as error:  # invalid URL, too many headers...
            return _Answer(outcome=ERROR, error_kind=CONNECTION, message=str(error))
        with self._lock:
            self._open.add(response)
        try:
            if self._stopped.is_set():  # stopped while the headers arrived: `stop` may have missed this one
                _abort(response)
            with response:
                return self._answer(response, html_only=html_only, max_bytes=max_bytes, started=started)
        finally:
            with self._lock:
                self._open.discard(response)

    def _answer(self, response: requests.Response, *, html_only: bool, max_bytes: int, started: float) -> _Answer:
        status = response.status_code
        response_headers = {name.lower(): value for name, value in response.headers.items()}
        answer = _Answer(status=status, headers=response_headers)
        if status in REDIRECT_STATUSES or status == 304:
            return answer
        if status == 429 or status >= 500:
            answer.outcome, answer.error_kind, answer.retryable = ERROR, f"http_{status}", True
            answer.retry_after = parse_retry_after(response_headers.get("retry-after"), _server_now(response_headers))
            return answer
        if status >= 400:
            answer.outcome, answer.error_kind = ERROR, f"http_{status}"
            return answer
        if html_only and _media_type(response_headers.get("content-type")) not in HTML_TYPES:
            # Closing the response without reading drops the connection: nothing beyond the headers.
            answer.outcome = SKIPPED_NON_HTML
            answer.message = f"content type {response_headers.get('content-type') or 'missing'}"
            return answer
        declared = response_headers.get("content-length", "")
        if declared.isdigit() and int(declared) > max_bytes:
            answer.outcome, answer.error_kind = ERROR, TOO_LARGE
            answer.message = f"Content-Length {declared} is over the {max_bytes}-byte limit"
            return answer
        return self._read_body(response, answer, max_bytes=max_bytes, started=started)

    def _read_body(self, response: requests.Response, answer: _Answer, *, max_bytes: int, started: float) -> _Answer:
        body = bytearray()
        try:
            for chunk in response.iter_content(chunk_size=_CHUNK_BYTES):
                body.extend(chunk)
                if len(body) > max_bytes:
                    answer.outcome, answer.error_kind = ERROR, TOO_LARGE
                    answer.message = f"body over the {max_bytes}-byte limit"
                    return answer
                if self._stopped.is_set():
                    answer.outcome, answer.error_kind, answer.message = ERROR, CONNECTION, _STOPPED
                    return answer
                if self._clock() - started > self.options.max_seconds:
                    answer.outcome, answer.error_kind = ERROR, TIMEOUT
                    answer.message = f"body not received within {self.options.max_seconds} s"
                    return answer
        except requests.exceptions.RequestException as error:
            answer.outcome = ERROR
            if self._stopped.is_set():
                answer.error_kind, answer.message = CONNECTION, _STOPPED
            elif _is_read_timeout(error):
                answer.error_kind, answer.message = TIMEOUT, "read timeout while receiving the body"
            else:
                answer.error_kind, answer.message, answer.retryable = CONNECTION, f"body interrupted: {error}", True
            return answer
        answer.body = bytes(body)
        return answer
