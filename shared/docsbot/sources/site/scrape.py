"""Scrape one configured site source: crawl it politely, render JavaScript pages, collect pages and state.

This is the glue between the collections file (`SiteSource`) and the crawler: it builds the fetcher, the
extractor and the (lazily started) headless browser, and sorts every outcome into pages to index, URLs whose
indexed content must be kept (304s and errors), and the state to save once the pages are indexed.
`SiteStream` hands the pages on as the crawl reaches them (the refresh indexes them in steps); `scrape_site`
collects them all (a snapshot, tests).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from contextlib import ExitStack
from dataclasses import dataclass, field

from docsbot.documents.model import Page
from docsbot.settings.config import SiteSource
from docsbot.sources.site.crawl import CrawlOptions, CrawlOutcome, CrawlSummary, PageState, Render, crawl
from docsbot.sources.site.fetch import PoliteFetcher
from docsbot.sources.site.html_markdown import extract_page


@dataclass
class SiteScrape:
    """The result of one crawl of a site source."""

    pages: list[Page] = field(default_factory=list)  # fetched or unchanged pages
    keep_urls: list[str] = field(default_factory=list)  # not re-read (304, errors): keep what is indexed
    states: dict[str, PageState] = field(default_factory=dict)  # to save after the pages are indexed
    summary: CrawlSummary = field(default_factory=CrawlSummary)


def crawl_options(source: SiteSource) -> CrawlOptions:
    """The crawler's options for a configured site source."""
    return CrawlOptions(
        start_url=source.url,
        prefix=source.prefix,
        sitemap_url=source.sitemap_url,
        include=source.include,
        exclude=source.exclude,
        max_pages=source.max_pages,
        delay_seconds=source.delay_seconds,
        concurrency=source.concurrency,
        javascript=source.javascript,
        all_versions=source.all_versions,
        source_kind=source.kind,
        tags=source.tags,
    )


def scrape_site(
    source: SiteSource,
    *,
    previous: Mapping[str, PageState] | None = None,
    options: CrawlOptions | None = None,
    render: Render | None = None,
    on_outcome: Callable[[CrawlOutcome], None] | None = None,
) -> SiteScrape:
    """Crawl `source` (incrementally against `previous`) and collect every page. Without `render`, a headless
    Chromium is started the first time a page needs JavaScript, and always closed."""
    stream = SiteStream(source, previous=previous, options=options, render=render, on_outcome=on_outcome)
    result = SiteScrape()
    result.pages = list(stream.pages())
    result.keep_urls, result.states, result.summary = stream.keep_urls, stream.states, stream.summary
    return result


class SiteStream:
    """One crawl of a site source, read page by page as they arrive: what the refresh indexes in steps.

    Iterate `pages()` once. `keep_urls`, `states` and `summary` grow as the crawl goes (a page's state is
    recorded before the page is handed on, so whoever indexes it finds its state); they are final, and
    `summary.completed` meaningful, once `pages()` is exhausted. Stopping early (Ctrl-C, `close()` of the
    iterator) ends the requests in progress at once and closes the browser."""

    def __init__(
        self,
        source: SiteSource,
        *,
        previous: Mapping[str, PageState] | None = None,
        options: CrawlOptions | None = None,
        render: Render | None = None,
        on_outcome: Callable[[CrawlOutcome], None] | None = None,
    ) -> None:
        self.source = source
        self.options = options or crawl_options(source)
        self.previous: Mapping[str, PageState] = previous or {}
        self.render = render
        self.on_outcome = on_outcome
        self.keep_urls: list[str] = []  # not re-read (304, errors): keep what is indexed
        self.states: dict[str, PageState] = {}  # to save once the pages are indexed
        self.summary = CrawlSummary()

    def pages(self) -> Iterator[Page]:
        """The fetched or unchanged pages, as the crawl reaches them."""
        with ExitStack() as stack:
            render = self.render
            if render is None:
                from docsbot.sources.site.browser import ChromiumRenderer

                render = stack.enter_context(ChromiumRenderer()).render
            fetcher = stack.enter_context(PoliteFetcher(self.options.fetch_options()))
            run = crawl(self.options, fetcher, extract_page, previous=self.previous, render=render)
            self.summary = run.summary  # the crawl's live counts
            for outcome in run:
                if outcome.page is None and outcome.page_url is not None:
                    self.keep_urls.append(outcome.page_url)
                if outcome.state is not None:
                    self.states[outcome.url] = outcome.state
                elif outcome.url in self.previous and outcome.page is None:
                    self.states[outcome.url] = self.previous[outcome.url]  # an error: remember it as it was
                if self.on_outcome is not None:
                    self.on_outcome(outcome)
                if outcome.page is not None:
                    yield outcome.page
