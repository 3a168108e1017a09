"""Scrape one configured site source: crawl it politely, render JavaScript pages, collect pages and state.

This is the glue between the collections file (`SiteSource`) and the crawler: it builds the fetcher, the
extractor and the (lazily started) headless browser, and sorts every outcome into pages to index, URLs whose
indexed content must be kept (304s and errors), and the state to save once the pages are indexed.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
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
    """Crawl `source` (incrementally against `previous`). Without `render`, a headless Chromium is started
    the first time a page needs JavaScript, and always closed."""
    options = options or crawl_options(source)
    result = SiteScrape()
    with ExitStack() as stack:
        if render is None:
            from docsbot.sources.site.browser import ChromiumRenderer

            render = stack.enter_context(ChromiumRenderer()).render
        fetcher = stack.enter_context(PoliteFetcher(options.fetch_options()))
        run = crawl(options, fetcher, extract_page, previous=previous, render=render)
        for outcome in run:
            if outcome.page is not None:
                result.pages.append(outcome.page)
            elif outcome.page_url is not None:
                result.keep_urls.append(outcome.page_url)
            if outcome.state is not None:
                result.states[outcome.url] = outcome.state
            elif outcome.url in (previous or {}) and outcome.page is None:
                result.states[outcome.url] = (previous or {})[outcome.url]  # an error: remember it as it was
            if on_outcome is not None:
                on_outcome(outcome)
        result.summary = run.summary
    return result
