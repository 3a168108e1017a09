"""The polite fetcher against a real HTTP server on 127.0.0.1: robots.txt, delays, retries, limits, redirects."""

from __future__ import annotations

import itertools
import socket
import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from docsbot.sources.site.fetch import (
    DEFAULT_USER_AGENT,
    ROBOTS_MISSING,
    ROBOTS_PARSED,
    ROBOTS_UNAVAILABLE,
    FetchOptions,
    PoliteFetcher,
    parse_retry_after,
)
from tests.harness.fakes.site_server import RecordedRequest, Reply, SiteServer, site_chunks

HTML = "<html><head><title>T</title></head><body><article><p>Hello</p></article></body></html>"
MB = 1024 * 1024


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server


class SleepRecorder:
    """An injected `sleep` that records waits instead of sleeping."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)


def make_fetcher(site: SiteServer, sleep: SleepRecorder | None = None, **options: object) -> PoliteFetcher:
    settings: dict[str, object] = {"allowed_hosts": (site.host,), "delay_seconds": 0.0, "backoff_seconds": 0.01}
    settings.update(options)
    fetch_options = FetchOptions(**settings)  # type: ignore[arg-type]
    if sleep is None:
        return PoliteFetcher(fetch_options)
    return PoliteFetcher(fetch_options, sleep=sleep)


def gaps(requests: list[RecordedRequest]) -> list[float]:
    times = [r.time for r in requests]
    return [later - earlier for earlier, later in itertools.pairwise(times)]


# --- basics ------------------------------------------------------------------------------------


def test_fetches_html_naming_the_bot(site: SiteServer) -> None:
    site.page("/docs/intro", HTML, ETag='"v1"', Last_Modified="Wed, 01 Jan 2025 00:00:00 GMT")
    with make_fetcher(site) as fetcher:
        result = fetcher.fetch(site.at("/docs/intro#section"))
    assert result.outcome == "fetched" and result.ok
    assert result.status == 200 and result.body == HTML.encode()
    assert result.url == site.at("/docs/intro") and result.final_url == site.at("/docs/intro")
    assert result.etag == '"v1"' and result.last_modified == "Wed, 01 Jan 2025 00:00:00 GMT"
    assert result.attempts == 1
    agent = site.requests_to("/docs/intro")[0].headers["user-agent"]
    assert agent == DEFAULT_USER_AGENT and "docsbot/" in agent and "+https://" in agent


def test_a_404_is_an_error_with_its_status_kind(site: SiteServer) -> None:
    with make_fetcher(site) as fetcher:
        result = fetcher.fetch(site.at("/missing"))
    assert (result.outcome, result.error_kind, result.status, result.attempts) == ("error", "http_404", 404, 1)


# --- robots.txt ----------------------------------------------------------------------------------


def test_robots_disallow_is_honoured_and_robots_read_once(site: SiteServer) -> None:
    site.route("/robots.txt", body="User-agent: *\nDisallow: /private\n", content_type="text/plain")
    site.page("/private/secret", HTML)
    site.page("/public", HTML)
    with make_fetcher(site) as fetcher:
        blocked = fetcher.fetch(site.at("/private/secret"))
        allowed = fetcher.fetch(site.at("/public"))
        again = fetcher.fetch(site.at("/public"))
        assert fetcher.robots(site.at("/")).status == ROBOTS_PARSED
    assert blocked.outcome == "skipped_robots" and blocked.attempts == 0
    assert allowed.ok and again.ok
    assert "/private/secret" not in site.paths()
    assert len(site.requests_to("/robots.txt")) == 1


def test_robots_follows_rfc_9309_wildcards_end_anchors_and_longest_match(site: SiteServer) -> None:
    robots = "User-agent: *\nDisallow: /*/print$\nDisallow: /docs\nAllow: /docs/public\n"
    site.route("/robots.txt", body=robots, content_type="text/plain")
    with make_fetcher(site) as fetcher:
        assert not fetcher.allowed(site.at("/guide/print"))  # `*` matches any path, `$` anchors the end
        assert fetcher.allowed(site.at("/guide/print/more"))
        assert fetcher.allowed(site.at("/docs/public/page"))  # the longest matching rule wins: Allow
        assert not fetcher.allowed(site.at("/docs/private"))


def test_robots_group_for_our_agent_wins(site: SiteServer) -> None:
    robots = "User-agent: docsbot\nDisallow: /\n\nUser-agent: *\nAllow: /\n"
    site.route("/robots.txt", body=robots, content_type="text/plain")
    site.page("/page", HTML)
    with make_fetcher(site) as fetcher:
        assert fetcher.fetch(site.at("/page")).outcome == "skipped_robots"
    assert site.paths() == ["/robots.txt"]


def test_missing_robots_allows_everything(site: SiteServer) -> None:
    site.page("/page", HTML)
    with make_fetcher(site) as fetcher:
        assert fetcher.fetch(site.at("/page")).ok
        assert fetcher.robots(site.at("/")).status == ROBOTS_MISSING
        assert fetcher.robots_unavailable() == []


def test_robots_5xx_disallows_everything_and_is_reported(site: SiteServer) -> None:
    site.route("/robots.txt", Reply(status=503, body="down"))
    site.page("/page", HTML)
    sleep = SleepRecorder()
    with make_fetcher(site, sleep, retries=2) as fetcher:
        result = fetcher.fetch(site.at("/page"))
        unavailable = fetcher.robots_unavailable()
    assert result.outcome == "skipped_robots"
    assert "/page" not in site.paths()
    assert len(site.requests_to("/robots.txt")) == 3  # retried like any request first
    assert [info.status for info in unavailable] == [ROBOTS_UNAVAILABLE]
    assert "unreachable" in unavailable[0].message


def test_crawl_delay_spaces_request_starts(site: SiteServer) -> None:
    site.route("/robots.txt", body="User-agent: *\nCrawl-delay: 1\n", content_type="text/plain")
    site.page("/a", HTML)
    site.page("/b", HTML)
    with make_fetcher(site, delay_seconds=0.0) as fetcher:
        assert fetcher.fetch(site.at("/a")).ok
        assert fetcher.fetch(site.at("/b")).ok
        assert fetcher.robots(site.at("/")).crawl_delay == 1.0
    assert site.paths() == ["/robots.txt", "/a", "/b"]
    assert all(gap >= 0.95 for gap in gaps(site.requests)), gaps(site.requests)


# --- per-host delay and concurrency --------------------------------------------------------------


def test_per_host_delay_spaces_request_starts_across_threads(site: SiteServer) -> None:
    # A frozen clock and a recording sleep: each request's start is the time it reserved (now + its wait),
    # so the spacing is checked exactly, whatever the machine's speed.
    for name in "abcd":
        site.page(f"/{name}", HTML)
    sleep = SleepRecorder()
    options = FetchOptions(allowed_hosts=(site.host,), delay_seconds=0.2, concurrency_per_host=4)
    with PoliteFetcher(options, sleep=sleep, clock=lambda: 1000.0) as fetcher:
        threads = [threading.Thread(target=fetcher.fetch, args=(site.at(f"/{name}"),)) for name in "abcd"]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=30)
    pages = [r for r in site.requests if r.path != "/robots.txt"]
    assert len(pages) == 4
    requests = len(site.requests)  # robots.txt starts first, then the four pages, one delay apart each
    starts = sorted([0.0, *sleep.waits])
    assert len(starts) == requests and starts == pytest.approx([0.2 * k for k in range(requests)]), sleep.waits


def test_concurrency_per_host_is_bounded(site: SiteServer) -> None:
    for number in range(6):
        site.route(f"/slow{number}", Reply(body=HTML, delay=0.25))
    with make_fetcher(site, concurrency_per_host=2) as fetcher:
        threads = [threading.Thread(target=fetcher.fetch, args=(site.at(f"/slow{n}"),)) for n in range(6)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=10)
    assert len([p for p in site.paths() if p.startswith("/slow")]) == 6
    assert site.max_active == 2


# --- retries -------------------------------------------------------------------------------------


def test_429_with_retry_after_then_success_really_waits(site: SiteServer) -> None:
    site.route("/page", [Reply(status=429, headers={"Retry-After": "1"}), Reply(body=HTML)])
    with make_fetcher(site) as fetcher:
        result = fetcher.fetch(site.at("/page"))
    assert result.ok and result.attempts == 2
    tries = site.requests_to("/page")
    assert tries[1].time - tries[0].time >= 0.95


@pytest.mark.parametrize("header_kind", ["seconds", "http_date"])
def test_retry_after_is_honoured_through_the_injected_sleep(site: SiteServer, header_kind: str) -> None:
    if header_kind == "seconds":
        retry_after = "30"
    else:
        retry_after = format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    site.route("/page", [Reply(status=429, headers={"Retry-After": retry_after}), Reply(body=HTML)])
    sleep = SleepRecorder()
    with make_fetcher(site, sleep) as fetcher:
        result = fetcher.fetch(site.at("/page"))
    assert result.ok and result.attempts == 2
    assert len(sleep.waits) == 1 and 28 <= sleep.waits[0] <= 30.5, sleep.waits


def test_retry_after_over_the_cap_gives_up_as_rate_limited(site: SiteServer) -> None:
    site.route("/page", Reply(status=429, headers={"Retry-After": "120"}))
    sleep = SleepRecorder()
    with make_fetcher(site, sleep, max_wait_seconds=60) as fetcher:
        result = fetcher.fetch(site.at("/page"))
    assert (result.outcome, result.error_kind, result.status, result.attempts) == ("error", "rate_limited", 429, 1)
    assert sleep.waits == []


def test_429_on_every_try_is_rate_limited(site: SiteServer) -> None:
    site.route("/page", Reply(status=429))
    with make_fetcher(site, retries=2) as fetcher:
        result = fetcher.fetch(site.at("/page"))
    assert (result.error_kind, result.attempts) == ("rate_limited", 3)


def test_500_then_success(site: SiteServer) -> None:
    site.route("/page", [Reply(status=500), Reply(status=502), Reply(body=HTML)])
    with make_fetcher(site) as fetcher:
        result = fetcher.fetch(site.at("/page"))
    assert result.ok and result.attempts == 3 and result.body == HTML.encode()


def test_500_on_every_try_backs_off_exponentially_then_fails_clearly(site: SiteServer) -> None:
    site.route("/page", Reply(status=500))
    sleep = SleepRecorder()
    with make_fetcher(site, sleep, backoff_seconds=1.0, retries=3) as fetcher:
        result = fetcher.fetch(site.at("/page"))
    assert (result.outcome, result.error_kind, result.status, result.attempts) == ("error", "http_500", 500, 4)
    assert len(site.requests_to("/page")) == 4
    assert sleep.waits == pytest.approx([1.0, 2.0, 4.0], abs=0.05)


def test_connection_errors_are_retried_with_backoff() -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    sleep = SleepRecorder()
    options = FetchOptions(delay_seconds=0, backoff_seconds=0.5, retries=2)
    with PoliteFetcher(options, sleep=sleep) as fetcher:
        result = fetcher.fetch(f"http://127.0.0.1:{port}/page")
        robots = fetcher.robots(f"http://127.0.0.1:{port}/")
    # robots.txt is tried first, three times; unreachable, it disallows everything, so the page is not tried.
    assert result.outcome == "skipped_robots"
    assert robots.status == ROBOTS_UNAVAILABLE and "connection" in robots.message
    assert sleep.waits == pytest.approx([0.5, 1.0], abs=0.05)


def test_read_timeout(site: SiteServer) -> None:
    release, answered = threading.Event(), threading.Event()

    def never_in_time(request: RecordedRequest) -> Reply:
        release.wait(timeout=30)  # answers only once the test lets it: the client must give up by itself
        answered.set()
        return Reply(body=HTML)

    site.route("/slow", never_in_time)
    started = time.monotonic()
    try:
        with make_fetcher(site, read_timeout=0.5) as fetcher:
            result = fetcher.fetch(site.at("/slow"))
        elapsed = time.monotonic() - started
        assert not answered.is_set()  # the fetch gave up while the server was still holding the answer
    finally:
        release.set()
    assert (result.outcome, result.error_kind, result.attempts) == ("error", "timeout", 1)
    assert elapsed >= 0.45  # and not before the read timeout (a lower bound: a loaded machine cannot break it)


# --- conditional requests --------------------------------------------------------------------------


def test_conditional_get_sends_validators_and_reports_not_modified(site: SiteServer) -> None:
    def answer(request: RecordedRequest) -> Reply:
        if request.headers.get("if-none-match") == '"v1"':
            return Reply(status=304, content_type=None, headers={"ETag": '"v1"'})
        return Reply(body=HTML, headers={"ETag": '"v1"'})

    site.route("/page", answer)
    stamp = "Wed, 01 Jan 2025 00:00:00 GMT"
    with make_fetcher(site) as fetcher:
        first = fetcher.fetch(site.at("/page"))
        second = fetcher.fetch(site.at("/page"), etag=first.etag, last_modified=stamp)
    assert first.ok and first.etag == '"v1"'
    assert (second.outcome, second.status, second.body, second.etag) == ("not_modified", 304, b"", '"v1"')
    sent = site.requests_to("/page")[1].headers
    assert sent["if-none-match"] == '"v1"' and sent["if-modified-since"] == stamp


# --- redirects -------------------------------------------------------------------------------------


def test_a_redirect_within_the_host_is_followed(site: SiteServer) -> None:
    site.redirect("/old", "/new/#part")
    site.page("/new/", HTML)
    with make_fetcher(site) as fetcher:
        result = fetcher.fetch(site.at("/old"))
    assert result.ok and result.url == site.at("/old") and result.final_url == site.at("/new/")
    assert result.attempts == 2


def test_a_redirect_loop_is_detected(site: SiteServer) -> None:
    site.redirect("/a", "/b", status=302)
    site.redirect("/b", site.at("/a"), status=307)
    with make_fetcher(site) as fetcher:
        result = fetcher.fetch(site.at("/a"))
    assert (result.outcome, result.error_kind) == ("error", "redirect_loop")
    assert site.paths().count("/a") == 1 and site.paths().count("/b") == 1


def test_too_many_redirects(site: SiteServer) -> None:
    for number in range(10):
        site.redirect(f"/r{number}", f"/r{number + 1}")
    with make_fetcher(site, max_redirects=3) as fetcher:
        result = fetcher.fetch(site.at("/r0"))
    assert (result.outcome, result.error_kind) == ("error", "too_many_redirects")
    assert [p for p in site.paths() if p != "/robots.txt"] == ["/r0", "/r1", "/r2", "/r3"]


def test_a_redirect_to_another_host_is_not_followed(site: SiteServer) -> None:
    with SiteServer() as other:
        other.page("/elsewhere", HTML)
        site.redirect("/leave", other.at("/elsewhere"))
        with make_fetcher(site) as fetcher:
            result = fetcher.fetch(site.at("/leave"))
        assert (result.outcome, result.error_kind) == ("error", "off_host")
        assert other.requests == []


# --- size and type limits --------------------------------------------------------------------------


def test_a_50_mb_streamed_response_is_cut_off_early(site: SiteServer) -> None:
    site.route("/huge", lambda request: Reply(body=site_chunks(50 * MB)))  # chunked: no Content-Length
    with make_fetcher(site, max_bytes=2 * MB) as fetcher:
        result = fetcher.fetch(site.at("/huge"))
    assert (result.outcome, result.error_kind, result.body) == ("error", "too_large", b"")
    assert site.bytes_sent("/huge") < 15 * MB  # the limit plus what socket buffers took, far below 50 MB


def test_a_too_large_content_length_is_refused_before_the_body(site: SiteServer) -> None:
    site.route(
        "/huge",
        lambda request: Reply(body=site_chunks(50 * MB), headers={"Content-Length": str(50 * MB)}),
    )
    with make_fetcher(site) as fetcher:  # default limit: 10 MB
        result = fetcher.fetch(site.at("/huge"))
    assert (result.outcome, result.error_kind) == ("error", "too_large")
    assert "Content-Length" in result.message
    assert site.bytes_sent("/huge") < 15 * MB


def test_a_non_html_response_is_skipped_after_its_headers(site: SiteServer) -> None:
    site.route("/manual.pdf", lambda request: Reply(body=site_chunks(30 * MB), content_type="application/pdf"))
    with make_fetcher(site) as fetcher:
        result = fetcher.fetch(site.at("/manual.pdf"))
    assert (result.outcome, result.content_type, result.body) == ("skipped_non_html", "application/pdf", b"")
    assert site.bytes_sent("/manual.pdf") < 15 * MB


def test_xhtml_counts_as_html(site: SiteServer) -> None:
    site.route("/page", body=HTML, content_type="application/xhtml+xml")
    with make_fetcher(site) as fetcher:
        assert fetcher.fetch(site.at("/page")).ok


# --- Retry-After parsing ---------------------------------------------------------------------------


def test_parse_retry_after() -> None:
    now = datetime(2025, 1, 1, 12, 0, 0, tzinfo=UTC)
    assert parse_retry_after("7", now) == 7.0
    assert parse_retry_after("Wed, 01 Jan 2025 12:00:42 GMT", now) == 42.0
    assert parse_retry_after("Wed, 01 Jan 2025 11:00:00 GMT", now) == 0.0
    assert parse_retry_after("soon", now) is None
    assert parse_retry_after(None, now) is None
