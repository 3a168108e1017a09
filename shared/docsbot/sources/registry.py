"""The source kinds a collection can draw pages from, in one small registry.

A kind is a loader: `(source config, context) -> LoadedSource`. The indexer only sees `LoadedSource`
(pages, which URLs to keep as indexed, whether the listing is complete, what to persist after indexing),
so a new kind is one function registered here, without touching the crawler or the indexer.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docsbot.documents.model import Page
from docsbot.settings.config import MarkdownFolderSource, SiteSource, SourceConfig

if TYPE_CHECKING:
    from docsbot.index.ports import VectorIndex


@dataclass
class LoadedSource:
    pages: Iterable[Page]
    complete: bool  # every page of the source is listed: pages missing from it may be deleted
    keep_urls: list[str] = field(default_factory=list)  # not re-read: keep what the index has
    problems: list[str] = field(default_factory=list)  # for the operator, one line each
    after_index: Callable[[], None] = lambda: None  # persist state once the pages are indexed
    details: dict[str, Any] = field(default_factory=dict)  # kind-specific counts (the crawl summary...)


@dataclass(frozen=True)
class LoadContext:
    data_dir: Path
    collection: str
    on_event: Callable[[str, Any], None] | None = None  # ("total", n) / ("outcome", CrawlOutcome) ...
    full: bool = False  # ignore stored crawl state: fetch everything again
    # The index the pages go to: crawl states of pages it lacks are dropped (a lost index is refilled).
    index: VectorIndex | None = None


Loader = Callable[[Any, LoadContext], LoadedSource]
_LOADERS: dict[str, Loader] = {}


def register(kind: str) -> Callable[[Loader], Loader]:
    """Register the loader of a source kind (`kind` as the collections file spells it)."""

    def add(loader: Loader) -> Loader:
        _LOADERS[kind] = loader
        return loader

    return add


def load_source(source: SourceConfig, context: LoadContext) -> LoadedSource:
    """Load `source` with the loader of its kind."""
    try:
        loader = _LOADERS[source.kind]
    except KeyError:
        raise ValueError(f"no loader for source kind {source.kind!r} (known: {', '.join(sorted(_LOADERS))})") from None
    return loader(source, context)


def is_crawled(source: SourceConfig) -> bool:
    return isinstance(source, SiteSource)


@register("markdown_folder")
def _markdown_folder(source: MarkdownFolderSource, context: LoadContext) -> LoadedSource:
    from docsbot.sources.markdown_folder import load_markdown_folder, read_url_map

    if not source.path.is_dir():
        raise ValueError(f"source {source.name!r}: {source.path} is not a folder")
    loaded = load_markdown_folder(
        source.path,
        docs_base_url=source.docs_base_url,
        url_map=read_url_map(source.url_map) if source.url_map else None,
        tags=source.tags,
        trailing_slash=source.trailing_slash,
    )
    if context.on_event:
        context.on_event("total", len(loaded.pages))
    return LoadedSource(
        pages=loaded.pages,
        complete=True,
        keep_urls=[p.url for p in loaded.problems if p.url],
        problems=[f"{p.path}: {p.kind}: {p.message}" for p in loaded.problems],
        details={"problems": loaded.problems},
    )


def _site(source: SiteSource, context: LoadContext) -> LoadedSource:
    from docsbot.index.sync import indexed_page_urls
    from docsbot.sources.site.crawl import states_in_index
    from docsbot.sources.site.scrape import scrape_site
    from docsbot.sources.site.state_files import load_states, save_states, state_path

    path = state_path(context.data_dir, context.collection, source.name)
    previous = {} if context.full else load_states(path)
    if previous and context.index is not None:
        # A state says "unchanged since": for a page the index lost it would hide the page forever.
        previous = states_in_index(previous, indexed_page_urls(context.index, source.name))

    def on_outcome(outcome: Any) -> None:
        if context.on_event:
            context.on_event("outcome", outcome)

    scraped = scrape_site(source, previous=previous, on_outcome=on_outcome)
    return LoadedSource(
        pages=scraped.pages,
        complete=scraped.summary.completed,
        keep_urls=scraped.keep_urls,
        problems=list(scraped.summary.problems),
        after_index=lambda: save_states(path, scraped.states),
        details={"crawl": scraped.summary},
    )


register("docusaurus")(_site)
register("sitemap")(_site)
