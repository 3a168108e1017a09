"""Crawl one documentation site into `Page`s: discovery, politeness, versions, JavaScript pages, increments.

    with PoliteFetcher(options.fetch_options()) as fetcher:
        run = crawl(options, fetcher, extract_page, previous=states, render=None)
        for outcome in run:  # yielded as pages complete: memory stays flat on big sites
            ...
        run.summary.completed  # only then may the indexer delete pages that vanished

Discovery: the start URL is always fetched first (its links seed link-following, its docs version is the
current one). Then the site's sitemap is read (`sitemap_url`, else the `Sitemap:` lines of robots.txt, else
`<prefix>sitemap.xml` and `/sitemap.xml`); when no sitemap lists a page in scope, the crawl follows links
breadth-first from the start page instead. In scope means: on an allowed host, under the path prefix (by
default the start URL's directory), matching the include/exclude globs (see `urls.matches_patterns`) and not
an obvious asset. URLs are normalised (no fragment, no query, no default port) and trailing-slash variants
count as one page; after a redirect, the final URL counts as reached.

Docs versions (Docusaurus): only the current version is kept unless `all_versions`. The current version is
`docs_version` if set, else the docs version of the start page, else the most common version among the first
`VERSION_SAMPLE` docs pages (ties: the first seen), whose outcomes are held back until that vote.

Incremental: `previous` maps a crawled URL (`CrawlOutcome.url`) to the `PageState` stored after the last
crawl. Conditional requests are sent for sitemap-listed pages (link-following needs every page's body for
its links, and JavaScript pages can change without their HTML changing); a 304 yields "not_modified" with no
page, an identical content hash yields "unchanged" with the page. Every outcome with a page or a 304 carries
the new state to store. A page that failed to load (any error but a 404 or 410: 5xx, 429, timeout, extraction or
rendering failure) carries its previous state unchanged, and its `page_url` names the indexed page to keep: the
previous state's page URL, else the crawled URL itself. A page that failed may be fine: never delete it for that.

A site that dies mid-crawl: after `max_connection_failures` pages in a row failed to connect (or timed out),
counted in the order their requests started so thread timing cannot change the decision, no further page is
tried; `summary.host_stopped` says why and the crawl is not complete.

Stopping: a crawl abandoned before its end (Ctrl-C lands in the loop, the consumer stops iterating) stops its
fetcher, so requests in progress end at once (`PoliteFetcher.stop`), and never waits for its workers: they are
daemon threads, so none keeps the process from exiting.

Long because: discovery, scope, versions and increments interact in one crawl loop (a page's outcome
depends on all of them); its shapes (options, outcomes, summary) are defined beside it.
"""

from __future__ import annotations

import logging
import threading
from collections import Counter, deque
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, wait
from dataclasses import dataclass, field, replace
from functools import partial
from typing import Any
from urllib.parse import urlsplit

from bs4 import BeautifulSoup, Tag

from docsbot.documents.model import Page
from docsbot.sources.site.fetch import CONNECTION, DEFAULT_USER_AGENT, TIMEOUT, FetchOptions, FetchResult, PoliteFetcher

# The fetcher's outcomes are crawl outcomes too: re-exported so callers import every outcome name from here.
from docsbot.sources.site.fetch import ERROR as ERROR
from docsbot.sources.site.fetch import FETCHED as FETCHED
from docsbot.sources.site.fetch import NOT_MODIFIED as NOT_MODIFIED
from docsbot.sources.site.fetch import SKIPPED_NON_HTML as SKIPPED_NON_HTML
from docsbot.sources.site.fetch import SKIPPED_ROBOTS as SKIPPED_ROBOTS
from docsbot.sources.site.html_markdown import ExtractedPage
from docsbot.sources.site.sitemap import MAX_SITEMAP_BYTES, SitemapDiscovery, read_sitemaps
from docsbot.sources.site.urls import (
    dedupe_key,
    host_key,
    matches_patterns,
    normalise_host,
    normalise_url,
    path_under,
    resolve_link,
)

logger = logging.getLogger(__name__)

Extract = Callable[[bytes, str], ExtractedPage]  # (html, url) → content, e.g. html_markdown.extract_page
Render = Callable[[str], bytes | str]  # url → the HTML after JavaScript ran

# CrawlOutcome.outcome values, besides the fetcher's FETCHED, NOT_MODIFIED, SKIPPED_ROBOTS, SKIPPED_NON_HTML, ERROR.
UNCHANGED = "unchanged"  # fetched, but the page's content hash is the one in `previous`
SKIPPED_VERSION = "skipped_version"  # a docs page of another version than the current one
SKIPPED_PATTERN = "skipped_pattern"  # the start page, fetched for its links, but excluded by the patterns
SKIPPED_DUPLICATE = "skipped_duplicate"  # another URL already gave this page (redirect or canonical link)
# CrawlOutcome.error_kind values, besides the fetcher's.
EXTRACT_FAILED = "extract"
RENDER_FAILED = "render"

DISCOVERY_SITEMAP = "sitemap"
DISCOVERY_LINKS = "links"
VERSION_SAMPLE = 20
_GONE_KINDS = frozenset({"http_404", "http_410"})  # a link to a gone page hides no further pages
# Links to these are not pages; skipping them saves a request each (the fetcher would skip them anyway).
_ASSET_SUFFIXES = (
    ".png", ".jpg", ".jpeg", ".gif", ".svg", ".webp", ".ico", ".css", ".js", ".mjs", ".json", ".xml", ".txt",
    ".pdf", ".zip", ".gz", ".tgz", ".tar", ".mp3", ".mp4", ".webm", ".woff", ".woff2", ".ttf", ".map", ".wasm",
)  # fmt: skip


@dataclass(frozen=True)
class CrawlOptions:
    """One site to crawl, and how."""

    start_url: str
    allowed_hosts: tuple[str, ...] = ()  # `host` or `host:port`; default: the start URL's host
    prefix: str | None = None  # URL path prefix to stay under; default: the start URL's directory
    sitemap_url: str | None = None  # default: robots.txt `Sitemap:` lines, then <prefix>sitemap.xml, /sitemap.xml
    use_sitemap: bool = True
    include: tuple[str, ...] = ()  # fnmatch globs on the URL path; empty: everything
    exclude: tuple[str, ...] = ()
    max_pages: int = 5000  # pages yielded (fetched, unchanged or not modified)
    max_fetches: int | None = None  # URLs fetched whatever the outcome; default 3 × max_pages + 100
    delay_seconds: float = 0.5
    concurrency: int = 2  # worker threads, and requests at once per host
    javascript: bool = False  # render every page (needs a renderer)
    all_versions: bool = False
    docs_version: str | None = None  # the docs version to keep; default: see the module docstring
    user_agent: str = DEFAULT_USER_AGENT
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    max_bytes: int = 10 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 3
    backoff_seconds: float = 1.0
    # A site that died mid-crawl: stop after this many pages in a row failed to connect (0: never stop).
    max_connection_failures: int = 10
    source_kind: str = "docusaurus"
    tags: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if normalise_url(self.start_url) is None:
            raise ValueError(f"start_url must be an absolute http(s) URL, got {self.start_url!r}")
        if host_key(self.start_url) not in self.hosts:
            raise ValueError("the start URL's host must be one of allowed_hosts")
        if self.max_pages < 1 or self.concurrency < 1:
            raise ValueError("max_pages and concurrency must be at least 1")
        if self.max_fetches is not None and self.max_fetches < 1:
            raise ValueError("max_fetches must be at least 1")

    @property
    def start(self) -> str:
        """The start URL, normalised."""
        start = normalise_url(self.start_url)
        assert start is not None  # checked in __post_init__
        return start

    @property
    def hosts(self) -> frozenset[str]:
        if self.allowed_hosts:
            return frozenset(normalise_host(host) for host in self.allowed_hosts)
        return frozenset({host_key(self.start_url)})

    @property
    def path_prefix(self) -> str:
        if self.prefix:
            return self.prefix if self.prefix.startswith("/") else "/" + self.prefix
        path = urlsplit(self.start).path
        return path[: path.rfind("/") + 1] or "/"

    @property
    def fetch_budget(self) -> int:
        return self.max_fetches or 3 * self.max_pages + 100

    def fetch_options(self) -> FetchOptions:
        """The fetcher settings these options imply."""
        return FetchOptions(
            user_agent=self.user_agent,
            allowed_hosts=tuple(sorted(self.hosts)),
            delay_seconds=self.delay_seconds,
            concurrency_per_host=self.concurrency,
            retries=self.retries,
            backoff_seconds=self.backoff_seconds,
            connect_timeout=self.connect_timeout,
            read_timeout=self.read_timeout,
            max_bytes=self.max_bytes,
            max_redirects=self.max_redirects,
        )


@dataclass(frozen=True)
class PageState:
    """What the crawl remembers about a URL between runs."""

    etag: str | None = None
    last_modified: str | None = None
    content_hash: str | None = None  # `Page.content_hash` of the page the URL gave
    page_url: str | None = None  # `Page.url` of that page (the canonical URL, may differ from the crawled URL)


def states_in_index(previous: Mapping[str, PageState], indexed_urls: set[str]) -> dict[str, PageState]:
    """The states of `previous` whose page the index still has (by `page_url`, else the crawled URL).

    A state says "nothing changed since": for a page the index lost (index deleted, replaced, restored from an
    old backup) it would hide the page forever. Dropping it makes the crawl download the page again.
    """
    return {url: state for url, state in previous.items() if (state.page_url or url) in indexed_urls}


@dataclass(frozen=True)
class CrawlOutcome:
    """What happened to one crawled URL."""

    url: str  # the URL crawled (normalised): the key of `previous` and of `state`
    outcome: str
    page: Page | None = None  # set for FETCHED and UNCHANGED
    state: PageState | None = None  # to store for `url` (FETCHED, UNCHANGED, NOT_MODIFIED; ERROR: the previous one)
    final_url: str | None = None
    status: int | None = None
    error_kind: str | None = None
    message: str = ""
    docs_version: str | None = None
    rendered: bool = False

    @property
    def page_url(self) -> str | None:
        """The indexed page this outcome concerns, when known: keep it on errors, it may be fine."""
        if self.page is not None:
            return self.page.url
        if self.state is not None and self.state.page_url:
            return self.state.page_url
        if self.outcome == ERROR and self.error_kind not in _GONE_KINDS:
            return self.url  # failed, maybe for now: whatever is indexed under this URL stays
        return None


@dataclass
class CrawlSummary:
    """Counts of one crawl, and whether it saw the whole site (only then may vanished pages be deleted)."""

    discovery: str = ""  # DISCOVERY_SITEMAP or DISCOVERY_LINKS
    sitemaps: list[str] = field(default_factory=list)  # sitemap documents read
    problems: list[str] = field(default_factory=list)  # discovery and robots problems, for the operator
    current_version: str | None = None
    fetched: int = 0
    not_modified: int = 0
    unchanged: int = 0
    skipped_robots: int = 0
    skipped_non_html: int = 0
    skipped_version: int = 0
    skipped_pattern: int = 0
    skipped_duplicate: int = 0
    rendered: int = 0
    requests: int = 0  # HTTP requests sent for pages (retries and redirects included)
    errors: dict[str, int] = field(default_factory=dict)  # error kind → count
    limit_reached: bool = False
    host_stopped: str | None = None  # why the crawl gave up on the site (it stopped answering), for the run record
    completed: bool = False

    @property
    def pages(self) -> int:
        """Pages the crawl saw: fetched, unchanged or not modified."""
        return self.fetched + self.unchanged + self.not_modified

    @property
    def error_count(self) -> int:
        return sum(self.errors.values())

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data["pages"] = self.pages
        return data


@dataclass
class _Done:
    """One URL processed by a worker thread, before the main thread's version and duplicate checks."""

    url: str
    outcome: str
    result: FetchResult | None = None
    page: Page | None = None
    state: PageState | None = None
    error_kind: str | None = None
    message: str = ""
    docs_version: str | None = None
    rendered: bool = False
    links: list[str] = field(default_factory=list)
    is_start: bool = False


class _VersionFilter:
    """Decides the current docs version and turns pages of other versions into SKIPPED_VERSION."""

    def __init__(self, *, all_versions: bool, pinned: str | None) -> None:
        self.all_versions = all_versions
        self.current = pinned
        self.decided = all_versions or pinned is not None
        self._held: list[_Done] = []
        self._votes: Counter[str] = Counter()

    @property
    def holding(self) -> int:
        return len(self._held)

    def learn(self, version: str | None) -> None:
        """Take `version` (the start page's) as current, unless already decided."""
        if not self.decided and version is not None:
            self.current, self.decided = version, True

    def is_other(self, version: str | None) -> bool:
        return self.decided and not self.all_versions and version is not None and version != self.current

    def offer(self, item: _Done) -> list[_Done]:
        """The items ready to report: `item` (checked), held items after a vote, or nothing while voting."""
        if item.docs_version is None or self.decided:
            return [self._mark(item)]
        self._held.append(item)
        self._votes[item.docs_version] += 1
        return self.decide() if len(self._held) >= VERSION_SAMPLE else []

    def decide(self) -> list[_Done]:
        """Vote now (ties: the first version seen) and release every held item."""
        if not self.decided and self._votes:
            self.current = self._votes.most_common(1)[0][0]  # most_common keeps first-seen order among ties
            self.decided = True
            logger.info("current docs version by majority: %s (%s)", self.current, dict(self._votes))
        held, self._held = self._held, []
        return [self._mark(item) for item in held]

    def _mark(self, item: _Done) -> _Done:
        if self.is_other(item.docs_version) and item.page is not None:
            item.message = f"docs version {item.docs_version}, not the current {self.current}"
            item.outcome, item.page, item.state = SKIPPED_VERSION, None, None
        return item


class _FailuresInRow:
    """Pages in a row that could not be reached, counted in the order their requests were STARTED.

    Outcomes complete in any order (workers, retries, backoff): counted as they complete, a page that loaded
    a moment before the site died could land between two failures and reset the count, so whether a dead
    site is given up would depend on thread timing. In start order, the same site gives the same decision:
    `limit` consecutive pages of the frontier failed to connect."""

    def __init__(self, limit: int) -> None:
        self.limit = limit  # 0: never give up
        self._started = 0
        self._next = 0  # the first start number not counted yet
        self._settled: dict[int, bool] = {}  # start number → unreachable, for outcomes waiting on earlier ones
        self._in_row = 0

    def start(self) -> int:
        number = self._started
        self._started += 1
        return number

    def settle(self, number: int, unreachable: bool) -> bool:
        """Record the outcome of start `number`; True once `limit` started in a row failed."""
        self._settled[number] = unreachable
        while self._next in self._settled:
            self._in_row = self._in_row + 1 if self._settled.pop(self._next) else 0
            self._next += 1
            if self.limit and self._in_row >= self.limit:
                return True
        return False


def _in_daemon(work: Callable[[], _Done]) -> Future[_Done]:
    """Run `work` on a daemon thread of its own: a crawl abandoned mid-request never waits for it, nor does exit."""
    future: Future[_Done] = Future()

    def run() -> None:
        if not future.set_running_or_notify_cancel():
            return
        try:
            future.set_result(work())
        except BaseException as error:  # handed to the crawl loop, which re-raises it
            future.set_exception(error)

    threading.Thread(target=run, name="docsbot-crawl", daemon=True).start()
    return future


class Crawl:
    """One crawl of one site: iterate it for `CrawlOutcome`s, then read `summary`. Runs once."""

    def __init__(
        self,
        options: CrawlOptions,
        fetcher: PoliteFetcher,
        extract: Extract,
        *,
        previous: Mapping[str, PageState] | None = None,
        render: Render | None = None,
    ) -> None:
        self.options = options
        self.summary = CrawlSummary()
        self._fetcher = fetcher
        self._extract = extract
        self._render = render
        self._previous: Mapping[str, PageState] = previous or {}
        self._hosts = options.hosts
        self._prefix = options.path_prefix
        self._versions = _VersionFilter(all_versions=options.all_versions, pinned=options.docs_version)
        # A browser driver serves one page at a time: renders are serialised.
        self._render_lock = threading.Lock()
        # Main-thread state: URLs scheduled or reached (dedupe keys), and page URLs reported.
        self._seen: set[str] = set()
        self._page_urls: set[str] = set()
        self._link_gaps = 0  # link-following pages whose links could not be read
        self._started = False

    def __iter__(self) -> Iterator[CrawlOutcome]:
        if self._started:
            raise RuntimeError("a Crawl runs once; start a new one")
        self._started = True
        return self._run()

    # --- the crawl, on the caller's thread ---------------------------------------------------------

    def _run(self) -> Iterator[CrawlOutcome]:
        options = self.options
        start = options.start
        self._claim(start)
        first = self._process(start, conditional=False, want_links=True, is_start=True)
        self._versions.learn(first.docs_version)
        self._reached(first)
        first_had_body = first.result is not None and first.result.ok
        yield from self._report(first)

        frontier: deque[str] = deque()
        discovery_ok = self._discover(first, first_had_body, frontier)
        link_mode = self.summary.discovery == DISCOVERY_LINKS
        conditional = not link_mode and not options.javascript
        fetches = 1
        failures = _FailuresInRow(options.max_connection_failures)
        started: dict[Future[_Done], int] = {}  # a request's place in the order requests were started
        in_flight: set[Future[_Done]] = set()
        finished_loop = False
        try:
            while True:
                while (
                    frontier
                    and self.summary.host_stopped is None
                    and len(in_flight) < options.concurrency
                    and fetches < options.fetch_budget
                    and self._has_room(len(in_flight))
                ):
                    url = frontier.popleft()
                    future = _in_daemon(partial(self._process, url, conditional=conditional, want_links=link_mode))
                    in_flight.add(future)
                    started[future] = failures.start()
                    fetches += 1
                if not in_flight:
                    if (
                        frontier
                        and self._versions.holding
                        and fetches < options.fetch_budget
                        and self.summary.host_stopped is None
                    ):
                        # Held pages count against the page limit: decide the version to make room.
                        yield from self._release(self._versions.decide())
                        continue
                    break
                finished, in_flight = wait(in_flight, return_when=FIRST_COMPLETED)
                for future in finished:
                    item = future.result()
                    self._reached(item)
                    unreachable = item.outcome == ERROR and item.error_kind in (CONNECTION, TIMEOUT)
                    if failures.settle(started.pop(future), unreachable) and self.summary.host_stopped is None:
                        self.summary.host_stopped = (
                            f"the site stopped answering ({failures.limit} pages in a row could not be "
                            f"fetched: connection errors or timeouts): crawl stopped after "
                            f"{self.summary.pages} pages"
                        )
                    if link_mode:
                        result = item.result
                        if result is not None and result.outcome == ERROR and result.error_kind not in _GONE_KINDS:
                            self._link_gaps += 1
                        if not self._versions.is_other(item.docs_version):
                            frontier.extend(link for link in item.links if self._claim(link))
                    yield from self._report(item)
            finished_loop = True
        finally:
            if not finished_loop:  # abandoned (Ctrl-C, the consumer stopped): end the requests in progress now
                self._fetcher.stop()
        yield from self._release(self._versions.decide())
        self.summary.current_version = self._versions.current
        if self.summary.host_stopped is not None:
            self.summary.problems.append(f"{self.summary.host_stopped}, {len(frontier)} discovered URLs not tried")
        elif frontier:
            self.summary.limit_reached = True
            self.summary.problems.append(f"page or fetch limit reached: {len(frontier)} discovered URLs not crawled")
        self._finish(discovery_ok)

    def _discover(self, first: _Done, first_had_body: bool, frontier: deque[str]) -> bool:
        """Fill `frontier` from the sitemap, else from the start page's links. True if discovery was complete."""
        if self.options.use_sitemap:
            discovery = self._read_sitemaps()
            self.summary.problems.extend(discovery.problems)
            if discovery.found and discovery.urls:
                self.summary.discovery = DISCOVERY_SITEMAP
                self.summary.sitemaps = list(discovery.sitemaps_read)
                for loc in discovery.urls:
                    url = normalise_url(loc)
                    if url is not None and self._claim(url):
                        frontier.append(url)
                return discovery.complete
            logger.info("no usable sitemap for %s: following links", self.options.start)
        self.summary.discovery = DISCOVERY_LINKS
        if not first_had_body:
            self.summary.problems.append(f"the start page {first.url} gave no links ({first.outcome})")
        frontier.extend(link for link in first.links if self._claim(link))
        return first_had_body

    def _read_sitemaps(self) -> SitemapDiscovery:
        options = self.options

        def fetch(url: str) -> FetchResult:
            return self._fetcher.fetch_document(url, max_bytes=MAX_SITEMAP_BYTES)

        def accept(loc: str) -> bool:
            url = normalise_url(loc)
            return url is not None and self._wanted(url)

        def read(urls: list[str]) -> SitemapDiscovery:
            return read_sitemaps(fetch, urls, accept=accept, max_urls=options.fetch_budget)

        if options.sitemap_url:
            return read([options.sitemap_url])
        listed = [url for url in self._fetcher.robots(options.start).sitemaps if host_key(url) in self._hosts]
        if listed:
            return read(listed)
        # No sitemap declared: try the usual places; the first one found wins, and absent ones are no problem.
        parts = urlsplit(options.start)
        origin = f"{parts.scheme}://{parts.netloc}"
        candidates = [f"{origin}{self._prefix}sitemap.xml"]
        if self._prefix != "/":
            candidates.append(f"{origin}/sitemap.xml")
        tried = SitemapDiscovery()
        for candidate in candidates:
            discovery = read([candidate])
            if discovery.found:
                return discovery
            tried.problems.extend(discovery.problems)
        return tried

    def _finish(self, discovery_ok: bool) -> None:
        unavailable = [info for info in self._fetcher.robots_unavailable() if host_key(info.origin) in self._hosts]
        self.summary.problems.extend(info.message for info in unavailable)
        if self._link_gaps:
            self.summary.problems.append(f"{self._link_gaps} pages failed: link-following may have missed pages")
        # A crawl that may have missed pages is not complete: the indexer must not delete what it did not see.
        self.summary.completed = (
            discovery_ok
            and not unavailable
            and not self._link_gaps
            and not self.summary.limit_reached
            and self.summary.host_stopped is None
        )
        logger.info("crawl of %s done: %s", self.options.start, self.summary.as_dict())

    def _claim(self, url: str) -> bool:
        """Mark `url` as scheduled; False if it (or a trailing-slash variant) already was."""
        key = dedupe_key(url)
        if key in self._seen:
            return False
        self._seen.add(key)
        return True

    def _reached(self, item: _Done) -> None:
        # The final URL after a redirect, and the canonical URL, are reached too: links to them are not refetched.
        if item.result is not None:
            final = normalise_url(item.result.final_url)
            if final is not None:
                self._seen.add(dedupe_key(final))
        if item.page is not None:
            self._seen.add(dedupe_key(item.page.url))

    def _has_room(self, in_flight: int) -> bool:
        return self.summary.pages + self._versions.holding + in_flight < self.options.max_pages

    def _report(self, item: _Done) -> Iterator[CrawlOutcome]:
        if (
            item.is_start
            and item.page is not None
            and not matches_patterns(item.url, self.options.include, self.options.exclude)
        ):
            item.outcome, item.page, item.state = SKIPPED_PATTERN, None, None
            item.message = "the start page does not match include/exclude"
        yield from self._release(self._versions.offer(item))

    def _release(self, items: list[_Done]) -> Iterator[CrawlOutcome]:
        for item in items:
            yield self._outcome(item)

    def _outcome(self, item: _Done) -> CrawlOutcome:
        if item.page is not None:
            if item.page.url in self._page_urls:
                item.message = f"same page as an earlier URL: {item.page.url}"
                item.outcome, item.page, item.state = SKIPPED_DUPLICATE, None, None
            else:
                self._page_urls.add(item.page.url)
        elif item.outcome == NOT_MODIFIED and item.state is not None and item.state.page_url:
            self._page_urls.add(item.state.page_url)
        self._count(item)
        state = item.state
        if item.outcome == ERROR and item.error_kind not in _GONE_KINDS and state is None:
            state = self._previous.get(item.url)  # a failure may be passing: remember the page as it was
        result = item.result
        return CrawlOutcome(
            url=item.url,
            outcome=item.outcome,
            page=item.page,
            state=state,
            final_url=result.final_url if result else None,
            status=result.status if result else None,
            error_kind=item.error_kind,
            message=item.message,
            docs_version=item.docs_version,
            rendered=item.rendered,
        )

    def _count(self, item: _Done) -> None:
        summary = self.summary
        summary.requests += item.result.attempts if item.result else 0
        summary.rendered += int(item.rendered)
        if item.outcome == ERROR:
            kind = item.error_kind or "unknown"
            summary.errors[kind] = summary.errors.get(kind, 0) + 1
            logger.warning("crawl: %s failed: %s %s", item.url, kind, item.message)
            return
        counters = {
            FETCHED: "fetched",
            NOT_MODIFIED: "not_modified",
            UNCHANGED: "unchanged",
            SKIPPED_ROBOTS: "skipped_robots",
            SKIPPED_NON_HTML: "skipped_non_html",
            SKIPPED_VERSION: "skipped_version",
            SKIPPED_PATTERN: "skipped_pattern",
            SKIPPED_DUPLICATE: "skipped_duplicate",
        }
        name = counters[item.outcome]
        setattr(summary, name, getattr(summary, name) + 1)

    # --- one URL, on a worker thread -----------------------------------------------------------------

    def _process(self, url: str, *, conditional: bool, want_links: bool, is_start: bool = False) -> _Done:
        previous = self._previous.get(url)
        validators = previous if (conditional and previous is not None) else PageState()
        result = self._fetcher.fetch(url, etag=validators.etag, last_modified=validators.last_modified)
        if result.outcome == NOT_MODIFIED:
            state = previous or PageState()
            state = replace(
                state, etag=result.etag or state.etag, last_modified=result.last_modified or state.last_modified
            )
            return _Done(url, NOT_MODIFIED, result, state=state, is_start=is_start)
        if not result.ok:
            return _Done(
                url, result.outcome, result, error_kind=result.error_kind, message=result.message, is_start=is_start
            )
        done = _Done(url, FETCHED, result, is_start=is_start)
        # Links first: a page whose extraction fails still leads to the pages it links to.
        if want_links:
            done.links = self._links(result.body, result.final_url)
        try:
            extracted = self._extract(result.body, result.final_url)
            if self._render is not None and (self.options.javascript or not extracted.has_article):
                done.rendered = True
                html = self._rendered(result.final_url)
                if want_links:
                    done.links += self._links(html, result.final_url)
                extracted = self._extract(html, result.final_url)
        except Exception as error:  # an extractor or a browser bug costs one page, not the crawl
            kind = RENDER_FAILED if done.rendered else EXTRACT_FAILED
            logger.warning("crawl: %s of %s failed", kind, result.final_url, exc_info=True)
            done.outcome, done.error_kind, done.message = ERROR, kind, f"{type(error).__name__}: {error}"
            return done
        page = self._page(extracted, result)
        done.page = page
        done.docs_version = extracted.docs_version
        done.state = PageState(
            etag=result.etag, last_modified=result.last_modified, content_hash=page.content_hash, page_url=page.url
        )
        if previous is not None and previous.content_hash == page.content_hash:
            done.outcome = UNCHANGED
        return done

    def _rendered(self, url: str) -> bytes:
        # The browser loads the page itself: take the host's turn (delay, concurrency) like any request.
        with self._render_lock, self._fetcher.polite_turn(url):
            html = self._render(url) if self._render is not None else b""
        return html.encode("utf-8") if isinstance(html, str) else html

    def _page(self, extracted: ExtractedPage, result: FetchResult) -> Page:
        final = normalise_url(result.final_url) or result.final_url
        canonical = normalise_url(extracted.canonical_url) if extracted.canonical_url else None
        # A canonical link is trusted only on the same host: elsewhere it could claim any URL.
        url = canonical if canonical is not None and host_key(canonical) == host_key(final) else final
        return Page(
            url=url,
            title=extracted.title or urlsplit(url).path,
            markdown=extracted.markdown,
            source_kind=self.options.source_kind,
            origin=result.final_url,
            description=extracted.description,
            tags=self.options.tags,
            etag=result.etag,
            last_modified=result.last_modified,
        )

    def _links(self, html: bytes, base: str) -> list[str]:
        soup = BeautifulSoup(html, "html.parser")
        base_tag = soup.find("base", href=True)
        if isinstance(base_tag, Tag):
            href = base_tag.get("href")
            if isinstance(href, str):
                base = resolve_link(base, href) or base
        links: list[str] = []
        for anchor in soup.find_all("a", href=True):
            if not isinstance(anchor, Tag):
                continue
            href = anchor.get("href")
            url = resolve_link(base, href) if isinstance(href, str) else None
            if url is not None and self._wanted(url):
                links.append(url)
        return links

    def _wanted(self, url: str) -> bool:
        """Whether a normalised URL is in scope: allowed host, under the prefix, patterns, not an asset."""
        options = self.options
        return (
            host_key(url) in self._hosts
            and path_under(url, self._prefix)
            and matches_patterns(url, options.include, options.exclude)
            and not urlsplit(url).path.lower().endswith(_ASSET_SUFFIXES)
        )


def crawl(
    options: CrawlOptions,
    fetcher: PoliteFetcher,
    extract: Extract,
    *,
    previous: Mapping[str, PageState] | None = None,
    render: Render | None = None,
) -> Crawl:
    """A crawl of `options.start_url`'s site: iterate it for outcomes as pages complete, then read `.summary`.

    `fetcher` should be built from `options.fetch_options()`; `extract` turns HTML into an `ExtractedPage`;
    `render` (url → HTML after JavaScript) is used for `javascript` sources and pages without an article.
    """
    return Crawl(options, fetcher, extract, previous=previous, render=render)
