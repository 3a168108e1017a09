"""Crawling a fake docs site on 127.0.0.1: discovery, scope, politeness, versions, JavaScript pages, increments."""

from __future__ import annotations

import itertools
import threading
from collections.abc import Generator, Iterator, Mapping
from typing import cast

import pytest
from bs4 import BeautifulSoup, Tag

from docsbot.sources.site.crawl import CrawlOptions, CrawlOutcome, CrawlSummary, PageState, Render, crawl
from docsbot.sources.site.fetch import FetchResult, PoliteFetcher
from docsbot.sources.site.html_markdown import ExtractedPage
from docsbot.sources.site.urls import dedupe_key, matches_patterns, normalise_url, path_under, resolve_link
from tests.harness.fakes.site_server import RecordedRequest, Reply, SiteServer

NS = 'xmlns="http://www.sitemaps.org/schemas/sitemap/0.9"'


def doc(
    title: str,
    *links: str,
    text: str = "",
    version: str | None = None,
    article: bool = True,
    canonical: str | None = None,
) -> str:
    """A small docs page: a title, an optional article, links, Docusaurus-style version meta."""
    head = f"<title>{title}</title>"
    if version is not None:
        head += f'<meta name="docusaurus_version" content="{version}">'
    if canonical is not None:
        head += f'<link rel="canonical" href="{canonical}">'
    nav = "".join(f'<a href="{link}">{link}</a>' for link in links)
    body = f"<article><h1>{title}</h1><p>{text or title + ' text'}</p></article>" if article else "<div id=root></div>"
    return f"<html><head>{head}</head><body><nav>{nav}</nav>{body}</body></html>"


def fake_extract(html: bytes, url: str) -> ExtractedPage:
    """A stand-in for html_markdown.extract_page, enough for crawling: title, article text, version, canonical."""
    soup = BeautifulSoup(html, "html.parser")
    title = soup.title.get_text(strip=True) if soup.title else ""
    article = soup.find("article")
    version = soup.find("meta", attrs={"name": "docusaurus_version"})
    canonical = soup.find("link", attrs={"rel": "canonical"})
    return ExtractedPage(
        title=title,
        markdown=article.get_text(" ", strip=True) if isinstance(article, Tag) else "",
        canonical_url=str(canonical["href"]) if isinstance(canonical, Tag) else None,
        docs_version=str(version["content"]) if isinstance(version, Tag) else None,
        is_docusaurus=version is not None,
        has_article=isinstance(article, Tag),
    )


def urlset(*locs: str) -> str:
    return f"<urlset {NS}>" + "".join(f"<url><loc>{loc}</loc></url>" for loc in locs) + "</urlset>"


def run(
    site: SiteServer,
    start: str = "/docs/",
    *,
    previous: Mapping[str, PageState] | None = None,
    render: Render | None = None,
    **options: object,
) -> tuple[list[CrawlOutcome], CrawlSummary]:
    settings: dict[str, object] = {"delay_seconds": 0.0, "backoff_seconds": 0.01, "retries": 1}
    settings.update(options)
    crawl_options = CrawlOptions(start_url=site.at(start), **settings)  # type: ignore[arg-type]
    with PoliteFetcher(crawl_options.fetch_options()) as fetcher:
        job = crawl(crawl_options, fetcher, fake_extract, previous=previous, render=render)
        outcomes = list(job)
    return outcomes, job.summary


def by_path(site: SiteServer, outcomes: list[CrawlOutcome]) -> dict[str, str]:
    return {outcome.url.removeprefix(site.url): outcome.outcome for outcome in outcomes}


def page_paths(site: SiteServer, outcomes: list[CrawlOutcome]) -> set[str]:
    return {o.page.url.removeprefix(site.url) for o in outcomes if o.page is not None}


@pytest.fixture
def site() -> Iterator[SiteServer]:
    with SiteServer() as server:
        yield server


# --- discovery -------------------------------------------------------------------------------------


def test_link_following_stays_on_the_host_and_under_the_prefix(site: SiteServer) -> None:
    with SiteServer() as other:
        other.page("/docs/elsewhere", doc("Elsewhere"))
        links = (
            "a",
            "/docs/b#section",
            "/docs/b?ref=nav",
            "/docs/a/",  # trailing-slash variant of /docs/a
            "/blog/post",  # outside the prefix
            other.at("/docs/elsewhere"),  # another host
            "mailto:team@example.com",
            "/docs/logo.png",
            "javascript:void(0)",
        )
        site.page("/docs/", doc("Home", *links))
        site.page("/docs/a", doc("A", "/docs/c"))
        site.page("/docs/b", doc("B", "/docs/"))
        site.page("/docs/c", doc("C"))
        site.page("/blog/post", doc("Blog"))
        outcomes, summary = run(site)
        assert other.requests == []
    assert by_path(site, outcomes) == {
        "/docs/": "fetched",
        "/docs/a": "fetched",
        "/docs/b": "fetched",
        "/docs/c": "fetched",
    }
    assert sorted(p for p in site.paths() if p != "/robots.txt" and not p.endswith("sitemap.xml")) == [
        "/docs/",
        "/docs/a",
        "/docs/b",
        "/docs/c",
    ]
    assert summary.discovery == "links" and summary.completed and summary.fetched == 4
    first = outcomes[0]
    assert first.page is not None and first.page.title == "Home" and first.page.source_kind == "docusaurus"
    assert first.page.origin == site.at("/docs/") and first.state is not None
    assert first.state.content_hash == first.page.content_hash and first.state.page_url == first.page.url


def test_sitemap_is_used_first(site: SiteServer) -> None:
    site.page("/docs/", doc("Home"))  # links to nothing: only the sitemap knows the pages
    site.route("/docs/sitemap.xml", body=urlset(site.at("/docs/"), site.at("/docs/x"), site.at("/docs/y")))
    site.page("/docs/x", doc("X"))
    site.page("/docs/y", doc("Y"))
    outcomes, summary = run(site)
    assert page_paths(site, outcomes) == {"/docs/", "/docs/x", "/docs/y"}
    assert summary.discovery == "sitemap" and summary.sitemaps == [site.at("/docs/sitemap.xml")]
    assert summary.completed and summary.problems == []
    assert site.paths().count("/docs/") == 1


def test_a_sitemap_index_declared_in_robots_txt(site: SiteServer) -> None:
    site.route("/robots.txt", body=f"User-agent: *\nAllow: /\nSitemap: {site.at('/index.xml')}\n")
    index = f"<sitemapindex {NS}><sitemap><loc>{site.at('/s1.xml')}</loc></sitemap>"
    index += f"<sitemap><loc>{site.at('/s2.xml')}</loc></sitemap></sitemapindex>"
    site.route("/index.xml", body=index, content_type="application/xml")
    site.route("/s1.xml", body=urlset(site.at("/docs/one")), content_type="application/xml")
    site.route("/s2.xml", body=urlset(site.at("/docs/two"), site.at("/docs/one")), content_type="application/xml")
    site.page("/docs/", doc("Home"))
    site.page("/docs/one", doc("One"))
    site.page("/docs/two", doc("Two"))
    outcomes, summary = run(site)
    assert page_paths(site, outcomes) == {"/docs/", "/docs/one", "/docs/two"}
    assert summary.sitemaps == [site.at(p) for p in ("/index.xml", "/s1.xml", "/s2.xml")]
    assert summary.completed
    assert "/docs/sitemap.xml" not in site.paths()


def test_a_malformed_sitemap_falls_back_to_link_following(site: SiteServer) -> None:
    site.route("/docs/sitemap.xml", body="<urlset><url><loc>broken", content_type="application/xml")
    site.route("/sitemap.xml", body="<html>not a sitemap</html>")
    site.page("/docs/", doc("Home", "/docs/a"))
    site.page("/docs/a", doc("A"))
    outcomes, summary = run(site)
    assert page_paths(site, outcomes) == {"/docs/", "/docs/a"}
    assert summary.discovery == "links" and summary.completed
    assert any("not well-formed" in problem for problem in summary.problems)
    assert any("root element is <html>" in problem for problem in summary.problems)


def test_include_and_exclude_globs(site: SiteServer) -> None:
    paths = ["/docs/guide", "/docs/api/store", "/docs/api/internal/x", "/docs/api/changelog"]
    site.route("/docs/sitemap.xml", body=urlset(*[site.at(p) for p in paths]))
    site.page("/docs/", doc("Home"))
    for path in paths:
        site.page(path, doc(path))
    outcomes, summary = run(site, include=("/docs/api/*",), exclude=("*/internal/*", "*/changelog"))
    assert by_path(site, outcomes) == {"/docs/": "skipped_pattern", "/docs/api/store": "fetched"}
    assert summary.skipped_pattern == 1 and summary.fetched == 1
    assert not {"/docs/guide", "/docs/api/internal/x", "/docs/api/changelog"} & set(site.paths())


def test_the_page_limit(site: SiteServer) -> None:
    paths = [f"/docs/p{n}" for n in range(10)]
    site.route("/docs/sitemap.xml", body=urlset(*[site.at(p) for p in paths]))
    site.page("/docs/", doc("Home"))
    for path in paths:
        site.page(path, doc(path))
    outcomes, summary = run(site, max_pages=4)
    assert len([o for o in outcomes if o.page is not None]) == 4 and summary.pages == 4
    assert summary.limit_reached and not summary.completed
    assert len([p for p in site.paths() if p.startswith("/docs/p")]) == 3


def test_a_redirect_is_followed_and_trailing_slash_variants_count_once(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", "/docs/a", "/docs/b"))
    site.redirect("/docs/a", "/docs/a/")
    site.page("/docs/a/", doc("A", "/docs/a/", "/docs/a"))
    site.redirect("/docs/b", "/docs/a/")  # a second way to the same page
    outcomes, summary = run(site)
    outcome_of = by_path(site, outcomes)
    assert outcome_of["/docs/"] == "fetched"
    # Both redirect to /docs/a/: whichever thread finished first gives the page, the other is a duplicate.
    assert sorted([outcome_of["/docs/a"], outcome_of["/docs/b"]]) == ["fetched", "skipped_duplicate"]
    assert sorted(o.final_url or "" for o in outcomes) == [site.at("/docs/"), site.at("/docs/a/"), site.at("/docs/a/")]
    assert page_paths(site, outcomes) == {"/docs/", "/docs/a/"}
    assert site.paths().count("/docs/a/") == 2  # once from /docs/a, once from /docs/b; never from the links
    assert summary.skipped_duplicate == 1 and summary.completed


def test_a_same_host_canonical_link_names_the_page(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", "/docs/alias", "/docs/foreign"))
    site.page("/docs/alias", doc("Alias", canonical=site.at("/docs/real")))
    site.page("/docs/foreign", doc("Foreign", canonical="https://elsewhere.example/docs/foreign"))
    outcomes, _ = run(site)
    assert page_paths(site, outcomes) == {"/docs/", "/docs/real", "/docs/foreign"}


def test_a_redirect_to_another_host_is_an_off_host_error(site: SiteServer) -> None:
    with SiteServer() as other:
        other.page("/docs/x", doc("X"))
        site.page("/docs/", doc("Home", "/docs/away"))
        site.redirect("/docs/away", other.at("/docs/x"))
        outcomes, _ = run(site)
        assert other.requests == []
    assert by_path(site, outcomes)["/docs/away"] == "error"
    assert [o.error_kind for o in outcomes if o.outcome == "error"] == ["off_host"]


# --- politeness and failures -----------------------------------------------------------------------


def test_robots_disallowed_pages_are_skipped(site: SiteServer) -> None:
    site.route("/robots.txt", body="User-agent: *\nDisallow: /docs/private\n", content_type="text/plain")
    site.page("/docs/", doc("Home", "/docs/private/secret", "/docs/public"))
    site.page("/docs/private/secret", doc("Secret"))
    site.page("/docs/public", doc("Public"))
    outcomes, summary = run(site)
    assert by_path(site, outcomes)["/docs/private/secret"] == "skipped_robots"
    assert "/docs/private/secret" not in site.paths()
    assert summary.skipped_robots == 1 and summary.completed


def test_unreachable_robots_txt_makes_the_crawl_incomplete(site: SiteServer) -> None:
    site.route("/robots.txt", Reply(status=503))
    site.page("/docs/", doc("Home"))
    outcomes, summary = run(site)
    assert [o.outcome for o in outcomes] == ["skipped_robots"]
    assert not summary.completed and any("unreachable" in p for p in summary.problems)


def test_the_per_host_delay_spaces_a_threaded_crawl(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", *[f"/docs/p{n}" for n in range(4)]))
    for n in range(4):
        site.page(f"/docs/p{n}", doc(f"P{n}"))
    outcomes, _ = run(site, delay_seconds=0.15, concurrency=2, use_sitemap=False)
    assert len(outcomes) == 5
    times = [r.time for r in site.requests]
    assert all(later - earlier >= 0.13 for earlier, later in itertools.pairwise(times))


def test_a_page_failing_every_try_is_reported_and_the_crawl_goes_on(site: SiteServer) -> None:
    site.route("/docs/sitemap.xml", body=urlset(site.at("/docs/bad"), site.at("/docs/good")))
    site.page("/docs/", doc("Home"))
    site.route("/docs/bad", Reply(status=500))
    site.page("/docs/good", doc("Good"))
    outcomes, summary = run(site, retries=2)
    bad = next(o for o in outcomes if o.url == site.at("/docs/bad"))
    assert (bad.outcome, bad.error_kind, bad.status, bad.page) == ("error", "http_500", 500, None)
    assert len(site.requests_to("/docs/bad")) == 3
    assert by_path(site, outcomes)["/docs/good"] == "fetched"
    assert summary.errors == {"http_500": 1}
    assert summary.completed  # the sitemap listed every page; the caller keeps what it had for /docs/bad


def test_a_failed_page_carries_its_previous_state_and_names_the_page_to_keep(site: SiteServer) -> None:
    site.route(
        "/docs/sitemap.xml", body=urlset(*(site.at(p) for p in ("/docs/a", "/docs/b", "/docs/new", "/docs/gone")))
    )
    site.page("/docs/", doc("Home"))
    site.route("/docs/a", Reply(status=503, headers={"Retry-After": "0"}))
    site.route("/docs/b", Reply(status=429, headers={"Retry-After": "0"}))
    site.route("/docs/new", Reply(status=500))
    previous = {
        site.at("/docs/a"): PageState(etag='"a"', content_hash="h", page_url=site.at("/docs/a-canonical")),
        site.at("/docs/b"): PageState(etag='"b"', content_hash="h"),
        site.at("/docs/gone"): PageState(etag='"g"', content_hash="h", page_url=site.at("/docs/gone")),
    }
    outcomes, summary = run(site, previous=previous)
    got = {o.url.removeprefix(site.url): o for o in outcomes}
    assert got["/docs/a"].state == previous[site.at("/docs/a")]
    assert got["/docs/a"].page_url == site.at("/docs/a-canonical")
    assert got["/docs/b"].state == previous[site.at("/docs/b")] and got["/docs/b"].page_url == site.at("/docs/b")
    assert got["/docs/new"].state is None and got["/docs/new"].page_url == site.at("/docs/new")
    assert got["/docs/gone"].error_kind == "http_404"
    assert got["/docs/gone"].state is None and got["/docs/gone"].page_url is None  # gone: may be deleted
    assert summary.completed


def test_a_failed_page_makes_a_link_following_crawl_incomplete(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", "/docs/bad", "/docs/gone"))
    site.route("/docs/bad", Reply(status=500))  # its links are unknown: pages may be missing
    outcomes, summary = run(site)
    assert by_path(site, outcomes) == {"/docs/": "fetched", "/docs/bad": "error", "/docs/gone": "error"}
    assert summary.errors == {"http_500": 1, "http_404": 1}
    assert not summary.completed


def test_a_500_then_success_and_a_429_then_success(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", "/docs/flaky", "/docs/busy"))
    site.route("/docs/flaky", [Reply(status=500), Reply(body=doc("Flaky"))])
    site.route("/docs/busy", [Reply(status=429, headers={"Retry-After": "0"}), Reply(body=doc("Busy"))])
    outcomes, summary = run(site)
    assert by_path(site, outcomes) == {"/docs/": "fetched", "/docs/flaky": "fetched", "/docs/busy": "fetched"}
    assert summary.errors == {} and summary.completed and summary.requests >= 5


def test_non_html_links_are_skipped(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", "/docs/download"))
    site.route("/docs/download", body=b"%PDF-1.7", content_type="application/pdf")
    outcomes, summary = run(site)
    assert by_path(site, outcomes)["/docs/download"] == "skipped_non_html"
    assert summary.skipped_non_html == 1 and summary.completed


# --- incremental -----------------------------------------------------------------------------------


def test_304_with_if_none_match_yields_not_modified(site: SiteServer) -> None:
    def page_a(request: RecordedRequest) -> Reply:
        if request.headers.get("if-none-match") == '"a1"':
            return Reply(status=304, content_type=None, headers={"ETag": '"a1"'})
        return Reply(body=doc("A"), headers={"ETag": '"a1"'})

    site.route("/docs/sitemap.xml", body=urlset(site.at("/docs/a")))
    site.page("/docs/", doc("Home"))
    site.route("/docs/a", page_a)
    first, _ = run(site)
    states = {o.url: o.state for o in first if o.state is not None}
    assert states[site.at("/docs/a")].etag == '"a1"'

    second, summary = run(site, previous=states)
    outcome = next(o for o in second if o.url == site.at("/docs/a"))
    assert outcome.outcome == "not_modified" and outcome.page is None
    assert outcome.state == states[site.at("/docs/a")] and outcome.page_url == site.at("/docs/a")
    assert site.requests_to("/docs/a")[-1].headers["if-none-match"] == '"a1"'
    assert summary.not_modified == 1 and summary.pages == 2 and summary.completed


def test_identical_content_is_unchanged_and_changed_content_is_fetched(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", "/docs/a", "/docs/b"))
    site.page("/docs/a", doc("A", text="first"))
    site.page("/docs/b", doc("B"))
    first, _ = run(site)
    states = {o.url: o.state for o in first if o.state is not None}
    site.page("/docs/a", doc("A", text="second"))
    second, summary = run(site, previous=states)
    assert by_path(site, second) == {"/docs/": "unchanged", "/docs/a": "fetched", "/docs/b": "unchanged"}
    unchanged = next(o for o in second if o.outcome == "unchanged")
    assert unchanged.page is not None and unchanged.state is not None
    assert unchanged.state.content_hash == unchanged.page.content_hash
    assert (summary.unchanged, summary.fetched) == (2, 1)


# --- versions --------------------------------------------------------------------------------------


def _versioned_site(site: SiteServer, start_version: str | None) -> None:
    pages = {
        "/docs/a": "2.0",
        "/docs/b": "2.0",
        "/docs/c": "2.0",
        "/docs/1.0/a": "1.0",
        "/docs/next/a": "current",
    }
    site.route("/docs/sitemap.xml", body=urlset(*[site.at(p) for p in pages]))
    site.page("/docs/", doc("Home", version=start_version))
    for path, version in pages.items():
        site.page(path, doc(path, version=version))


def test_only_the_current_docs_version_by_default(site: SiteServer) -> None:
    _versioned_site(site, start_version="2.0")
    outcomes, summary = run(site)
    assert page_paths(site, outcomes) == {"/docs/", "/docs/a", "/docs/b", "/docs/c"}
    skipped = {o.url.removeprefix(site.url): o.docs_version for o in outcomes if o.outcome == "skipped_version"}
    assert skipped == {"/docs/1.0/a": "1.0", "/docs/next/a": "current"}
    assert summary.current_version == "2.0" and summary.skipped_version == 2 and summary.completed


def test_all_versions_keeps_every_version(site: SiteServer) -> None:
    _versioned_site(site, start_version="2.0")
    outcomes, summary = run(site, all_versions=True)
    assert len(page_paths(site, outcomes)) == 6 and summary.skipped_version == 0


def test_without_a_versioned_start_page_the_majority_version_is_current(site: SiteServer) -> None:
    _versioned_site(site, start_version=None)
    outcomes, summary = run(site)
    assert summary.current_version == "2.0"
    assert page_paths(site, outcomes) == {"/docs/", "/docs/a", "/docs/b", "/docs/c"}


def test_a_pinned_version(site: SiteServer) -> None:
    _versioned_site(site, start_version="2.0")
    outcomes, _ = run(site, docs_version="1.0")
    assert page_paths(site, outcomes) == {"/docs/1.0/a"}


# --- JavaScript pages ------------------------------------------------------------------------------


class FakeRenderer:
    """Stands in for a headless browser: records URLs and returns the page as its scripts would draw it."""

    def __init__(self) -> None:
        self.urls: list[str] = []

    def __call__(self, url: str) -> str:
        self.urls.append(url)
        return doc("Rendered", "/docs/found-by-js", text=f"rendered {url}")


def test_a_page_without_an_article_is_rendered(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", "/docs/app", "/docs/static"))
    site.page("/docs/app", doc("App shell", article=False))
    site.page("/docs/static", doc("Static"))
    site.page("/docs/found-by-js", doc("Found"))
    renderer = FakeRenderer()
    outcomes, summary = run(site, render=renderer)
    assert renderer.urls == [site.at("/docs/app")]
    app = next(o for o in outcomes if o.url == site.at("/docs/app"))
    assert app.rendered and app.page is not None and app.page.markdown == f"Rendered rendered {site.at('/docs/app')}"
    assert "/docs/found-by-js" in site.paths()  # links drawn by scripts are followed
    assert summary.rendered == 1


def test_without_a_renderer_an_empty_page_is_kept_as_it_is(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", article=False))
    outcomes, _ = run(site)
    assert outcomes[0].outcome == "fetched" and outcomes[0].page is not None and outcomes[0].page.markdown == ""


def test_a_javascript_source_renders_every_page(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", "/docs/a"))
    site.page("/docs/a", doc("A"))
    site.page("/docs/found-by-js", doc("Found"))
    renderer = FakeRenderer()
    outcomes, _ = run(site, render=renderer, javascript=True, use_sitemap=False)
    assert sorted(renderer.urls) == [site.at(p) for p in ("/docs/", "/docs/a", "/docs/found-by-js")]
    assert all(o.rendered for o in outcomes)


def test_a_failing_renderer_costs_one_page(site: SiteServer) -> None:
    def broken(url: str) -> str:
        raise RuntimeError("browser crashed")

    site.page("/docs/", doc("Home", "/docs/app"))
    site.page("/docs/app", doc("App", article=False))
    outcomes, summary = run(site, render=broken)
    app = next(o for o in outcomes if o.url == site.at("/docs/app"))
    assert (app.outcome, app.error_kind) == ("error", "render") and "browser crashed" in app.message
    assert summary.errors == {"render": 1}


# --- streaming -------------------------------------------------------------------------------------


def test_outcomes_stream_and_stopping_early_is_clean(site: SiteServer) -> None:
    site.page("/docs/", doc("Home", *[f"/docs/p{n}" for n in range(20)]))
    for n in range(20):
        site.route(f"/docs/p{n}", Reply(body=doc(f"P{n}"), delay=0.05))
    options = CrawlOptions(start_url=site.at("/docs/"), delay_seconds=0.0, use_sitemap=False)
    with PoliteFetcher(options.fetch_options()) as fetcher:
        job = crawl(options, fetcher, fake_extract)
        seen = []
        for outcome in job:
            seen.append(outcome)
            if len(seen) == 3:
                break
    # Stopping did not wait for the rest of the site: few of the 20 pages were ever requested.
    assert len([p for p in site.paths() if p.startswith("/docs/p")]) < 10
    assert not job.summary.completed


def test_the_root_sitemap_is_found_when_the_prefix_has_none(site: SiteServer) -> None:
    site.route("/sitemap.xml", body=urlset(site.at("/docs/x"), site.at("/blog/y")))
    site.page("/docs/", doc("Home"))
    site.page("/docs/x", doc("X"))
    outcomes, summary = run(site)
    assert page_paths(site, outcomes) == {"/docs/", "/docs/x"}  # /blog/y is outside the prefix
    assert summary.discovery == "sitemap" and summary.problems == [] and summary.completed


# --- URL rules -------------------------------------------------------------------------------------


def test_url_normalisation() -> None:
    assert normalise_url("HTTPS://Docs.Example.COM:443/a/b?x=1#frag") == "https://docs.example.com/a/b"
    assert normalise_url("http://user:pw@example.com:8080") == "http://example.com:8080/"
    assert normalise_url("https://example.com/a?x=1", keep_query=True) == "https://example.com/a?x=1"
    assert normalise_url("ftp://example.com/a") is None
    assert normalise_url("/relative") is None
    assert normalise_url("http://example.com:99999/") is None
    assert resolve_link("https://x.test/docs/a/", "../b#part") == "https://x.test/docs/b"
    assert resolve_link("https://x.test/docs/a", "#only-a-fragment") is None
    assert dedupe_key("https://x.test/docs/a/") == dedupe_key("https://x.test/docs/a") == "https://x.test/docs/a"
    assert dedupe_key("https://x.test/") == "https://x.test/"


def test_scope_rules() -> None:
    assert path_under("https://x.test/docs", "/docs/") and path_under("https://x.test/docs/a/b", "/docs/")
    assert not path_under("https://x.test/docsearch", "/docs/")
    assert matches_patterns("https://x.test/docs/api/a", ("/docs/api/*",), ())
    assert not matches_patterns("https://x.test/docs/guide", ("/docs/api/*",), ())
    assert not matches_patterns("https://x.test/docs/api/internal/a", (), ("*/internal/*",))
    assert CrawlOptions(start_url="https://x.test/docs/intro").path_prefix == "/docs/"
    assert CrawlOptions(start_url="https://x.test").path_prefix == "/"
    with pytest.raises(ValueError, match="allowed_hosts"):
        CrawlOptions(start_url="https://x.test/docs/", allowed_hosts=("y.test",))
    with pytest.raises(ValueError, match="absolute"):
        CrawlOptions(start_url="/docs/")


def test_a_site_that_dies_mid_crawl_is_given_up_after_a_run_of_connection_failures(site: SiteServer) -> None:
    paths = [f"/docs/p{i}" for i in range(40)]
    site.route("/robots.txt", Reply(status=404))
    site.route("/docs/sitemap.xml", body=urlset(*(site.at(p) for p in paths)), content_type="application/xml")
    site.page("/docs/", doc("Start"))
    for path in paths:
        site.page(path, doc(path))
    options = CrawlOptions(
        start_url=site.at("/docs/"), delay_seconds=0.0, backoff_seconds=0.0, retries=1, concurrency=1,
        max_connection_failures=3,
    )  # fmt: skip
    outcomes: list[CrawlOutcome] = []
    with PoliteFetcher(options.fetch_options()) as fetcher:
        job = crawl(options, fetcher, fake_extract)
        for outcome in job:
            outcomes.append(outcome)
            if len(outcomes) == 6:
                for path in paths:  # the server dies: every later request loses its connection
                    site.route(path, Reply(drop=True))
    summary = job.summary
    errors = [o for o in outcomes if o.outcome == "error"]
    assert summary.fetched == 6
    assert len(errors) == 3 and {o.error_kind for o in errors} == {"connection"}  # then no more tries
    assert summary.host_stopped is not None and "stopped answering" in summary.host_stopped
    assert not summary.completed and not summary.limit_reached
    assert any("32 discovered URLs not tried" in problem for problem in summary.problems), summary.problems


class GatedFetcher(PoliteFetcher):
    """A real fetcher whose requests to some URLs wait for an event: the test decides the order outcomes land."""

    def __init__(self, options: CrawlOptions, gates: dict[str, threading.Event]) -> None:
        super().__init__(options.fetch_options())
        self.gates = gates

    def fetch(self, url: str, *, etag: str | None = None, last_modified: str | None = None) -> FetchResult:
        gate = self.gates.get(url)
        if gate is not None:
            assert gate.wait(timeout=60), f"{url} was never released"  # bounded: a broken test fails, never hangs
        return super().fetch(url, etag=etag, last_modified=last_modified)


def test_connection_failures_in_a_row_are_counted_in_the_order_pages_were_started(site: SiteServer) -> None:
    # The listing: 10 pages that lose their connection, then a page that loads, then more pages. Two workers:
    # the 10th failure and the page that loads are in flight together; the page that loads lands first.
    dead = [f"/docs/dead{i}" for i in range(10)]
    alive = ["/docs/alive0", "/docs/alive1", "/docs/alive2"]
    site.route("/robots.txt", Reply(status=404))
    listing = urlset(*(site.at(p) for p in [*dead, *alive]))
    site.route("/docs/sitemap.xml", body=listing, content_type="application/xml")
    site.page("/docs/", doc("Start"))
    for path in dead:
        site.route(path, Reply(drop=True))
    for path in alive:
        site.page(path, doc(path))
    options = CrawlOptions(
        start_url=site.at("/docs/"), delay_seconds=0.0, backoff_seconds=0.0, retries=0, concurrency=2,
        max_connection_failures=10,
    )  # fmt: skip
    release_alive, release_last_dead = threading.Event(), threading.Event()
    gates = {site.at("/docs/alive0"): release_alive, site.at(dead[-1]): release_last_dead}
    outcomes: list[CrawlOutcome] = []
    with GatedFetcher(options, gates) as fetcher:
        job = crawl(options, fetcher, fake_extract)
        for outcome in job:
            outcomes.append(outcome)
            if sum(o.outcome == "error" for o in outcomes) == 9:
                release_alive.set()  # the page that loads completes after 9 failures...
            if outcome.url == site.at("/docs/alive0"):
                release_last_dead.set()  # ...and before the 10th, started before it
    landed = [o.url.rsplit("/", 1)[-1] for o in outcomes]
    assert landed.index("alive0") < landed.index("dead9")  # the order that used to hide the dead site
    summary = job.summary
    assert summary.host_stopped is not None and "10 pages in a row" in summary.host_stopped
    assert not summary.completed
    assert "alive2" not in landed  # given up: the rest of the listing is not tried


def test_an_abandoned_crawl_ends_a_body_in_progress_at_once(site: SiteServer) -> None:
    """Ctrl-C (the crawl's generator closed) while a page's body trickles in: closing returns without waiting for
    the body or the read timeout, the connection is dropped, and no crawl thread is left reading."""
    started, gone, finish = threading.Event(), threading.Event(), threading.Event()

    def trickle(_request: RecordedRequest) -> Reply:
        def body() -> Iterator[bytes]:
            try:
                yield b"<html><head><title>Slow</title></head><body><article><p>slow"
                started.set()
                while not finish.wait(0.05):  # a byte now and then: the read timeout never fires
                    yield b" more"
            finally:
                if not finish.is_set():
                    gone.set()  # a write failed: the crawler hung up

        return Reply(body=body())

    site.page("/docs/", doc("Start"))
    site.page("/docs/fast", doc("Fast"))
    site.route("/docs/slow", trickle)
    site.route("/docs/sitemap.xml", body=urlset(site.at("/docs/fast"), site.at("/docs/slow")))
    options = CrawlOptions(start_url=site.at("/docs/"), delay_seconds=0, concurrency=2, read_timeout=600)
    closed = threading.Event()
    try:
        with PoliteFetcher(options.fetch_options()) as fetcher:
            run = cast(Generator[CrawlOutcome, None, None], iter(crawl(options, fetcher, fake_extract)))
            got = [next(run).url, next(run).url]  # the start page and the fast one; the slow one is in progress
            assert got == [site.at("/docs/"), site.at("/docs/fast")]
            assert started.wait(30)

            def interrupt() -> None:
                run.close()  # what a KeyboardInterrupt propagating out of the loop does to the generator
                closed.set()

            threading.Thread(target=interrupt, daemon=True).start()
            assert closed.wait(30), "closing the crawl waited for the body in progress"
            assert gone.wait(30), "the body in progress was still being read"
        for thread in threading.enumerate():
            if thread.name == "docsbot-crawl":
                thread.join(timeout=30)
                assert not thread.is_alive(), "a crawl thread is still reading"
    finally:
        finish.set()
