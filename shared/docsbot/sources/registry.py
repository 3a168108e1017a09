"""The source port: every kind of source loads into one typed `LoadedSource`, through one small registry.

A kind is a loader: `(source, LoadContext) -> LoadedSource`. The refresh pipeline (`docsbot.refresh.pipeline`)
only sees `LoadedSource`: the pages, how many pages the load reached (the drop guard's count), whether the
listing is complete, which URLs to keep as indexed, and the checkpoint to save once the pages are indexed.
Crawled kinds are streamed: their pages arrive as the crawl reaches them, so the pipeline indexes them in steps
(memory holds a step, not the site) and an interruption keeps the steps committed.
A new kind is one function registered here, without touching the crawler, the pipeline or the indexer.

Kinds: `markdown_folder` (docs-as-code folders), `docusaurus` and `sitemap` (crawled sites), `snapshot` (a
`docsbot scrape --out` file), `threads` (the collection's solved Discord threads, read from the state store the
pipeline passes in `LoadContext.threads`). Loaders never write anything: saving the checkpoint is the
pipeline's job.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from docsbot.documents.model import Page
from docsbot.settings.config import MarkdownFolderSource, SiteSource, SourceConfig, ThreadsSource

if TYPE_CHECKING:
    from docsbot.sources.markdown_folder import Problem
    from docsbot.sources.site.crawl import CrawlOptions, CrawlSummary, PageState, Render
    from docsbot.store.ports import StateStore


@dataclass(frozen=True)
class SnapshotSource:
    """A snapshot file written by `docsbot scrape --out`, indexed as the source it was crawled from."""

    path: Path
    kind: str = "snapshot"
    name: str = "snapshot"  # replaced by the snapshot header's source name when it has one


@dataclass
class LoadedSource:
    """What one load of a source gave: the pipeline's only view of a source."""

    # The pages; for a streamed load an iterator read once, as the source loads (see `streamed`).
    pages: Iterable[Page]
    complete: bool  # every page of the source is listed: pages missing from it may be deleted
    reached: int  # pages the load reached (read, fetched, or confirmed unchanged): the drop guard compares it
    keep_urls: list[str] = field(default_factory=list)  # not re-read (304s, errors): keep what the index has
    problems: list[str] = field(default_factory=list)  # for the operator, one line each
    name: str | None = None  # the source's name when the load learnt it (a snapshot's header)
    # The crawl state to save once the pages are indexed (crawled URL → validators); None: the kind keeps none.
    checkpoint: dict[str, PageState] | None = None
    confirmed: set[str] = field(default_factory=set)  # URLs this load confirmed: their check time moves on
    crawl: CrawlSummary | None = None  # the crawl's counts (crawled kinds)
    file_problems: list[Problem] = field(default_factory=list)  # files a folder could not read
    # True: `pages` is read as the source loads (a crawl), and the other fields grow with it; `complete`, `reached`
    # and `problems` are final only once `pages` is exhausted. An interrupted read leaves them incomplete.
    streamed: bool = False


def _ignore(_kind: str, _value: Any) -> None:
    return None


def _nothing() -> None:
    return None


def _default_crawl_options(source: SiteSource) -> CrawlOptions:
    from docsbot.sources.site.scrape import crawl_options

    return crawl_options(source)


@dataclass(frozen=True)
class LoadContext:
    """What a loader may use: the last checkpoint, progress hooks, and the crawler's knobs."""

    # The crawl state saved after the last indexed load, already limited to pages the index still has.
    checkpoint: Mapping[str, PageState] = field(default_factory=dict)
    # ("total", n) / ("outcome", CrawlOutcome); then, from the refresh, ("embedded", (chunks done, chunks to embed))
    on_event: Callable[[str, Any], None] = _ignore
    keep_alive: Callable[[], None] = _nothing  # called as the load makes progress (renews the caller's lease)
    render: Render | None = None  # None: headless Chromium, started only if a page needs it
    crawl_options_for: Callable[[SiteSource], CrawlOptions] = _default_crawl_options
    collection: str = ""  # the collection being refreshed (the pipeline sets it)
    threads: StateStore | None = None  # where the threads source reads (the pipeline passes its store)


Loader = Callable[[Any, LoadContext], LoadedSource]
_LOADERS: dict[str, Loader] = {}


def register(kind: str) -> Callable[[Loader], Loader]:
    """Register the loader of a source kind (`kind` as the collections file spells it)."""

    def add(loader: Loader) -> Loader:
        _LOADERS[kind] = loader
        return loader

    return add


def load_source(source: SourceConfig | SnapshotSource, context: LoadContext) -> LoadedSource:
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
    context.on_event("total", len(loaded.pages))
    keep = [p.url for p in loaded.problems if p.url]
    return LoadedSource(
        pages=loaded.pages,
        complete=True,
        reached=len(loaded.pages) + len(keep),
        keep_urls=keep,
        problems=[f"{p.path}: {p.kind}: {p.message}" for p in loaded.problems],
        file_problems=list(loaded.problems),
    )


def _site(source: SiteSource, context: LoadContext) -> LoadedSource:
    from docsbot.sources.site.crawl import ERROR, CrawlOutcome
    from docsbot.sources.site.scrape import SiteStream

    confirmed: set[str] = set()

    def on_outcome(outcome: CrawlOutcome) -> None:
        context.keep_alive()
        if outcome.state is not None and outcome.outcome != ERROR:
            confirmed.add(outcome.url)
        context.on_event("outcome", outcome)

    stream = SiteStream(
        source,
        previous=context.checkpoint,
        options=context.crawl_options_for(source),
        render=context.render,
        on_outcome=on_outcome,
    )
    # The live collections of the crawl: they grow as `pages` is read; the rest is settled once it is exhausted.
    loaded = LoadedSource(
        pages=(),
        complete=False,
        reached=0,
        keep_urls=stream.keep_urls,
        checkpoint=stream.states,
        confirmed=confirmed,
        crawl=stream.summary,
        streamed=True,
    )

    def pages() -> Iterator[Page]:
        yield from stream.pages()
        summary = stream.summary
        loaded.complete, loaded.reached, loaded.crawl = summary.completed, summary.pages, summary
        loaded.problems = list(summary.problems)

    loaded.pages = pages()
    return loaded


register("docusaurus")(_site)
register("sitemap")(_site)


@register("snapshot")
def _snapshot(source: SnapshotSource, context: LoadContext) -> LoadedSource:
    from docsbot.sources.snapshot import read_snapshot

    header, pages = read_snapshot(source.path)
    listed = list(pages)
    context.on_event("total", len(listed))
    return LoadedSource(pages=listed, complete=header.complete, reached=len(listed), name=header.source or None)


@register("threads")
def _threads(source: ThreadsSource, context: LoadContext) -> LoadedSource:
    from docsbot.sources.threads import load_thread_pages

    if context.threads is None:
        raise ValueError(f"source {source.name!r}: a threads source reads the state store, and none was given")
    if not context.collection:
        raise ValueError(f"source {source.name!r}: a threads source needs the collection it belongs to")
    read = load_thread_pages(context.threads, context.collection, source, context.keep_alive)
    context.on_event("total", len(read.pages))
    problems = [f"{read.unlinked} solved threads have no known server (guild) id: not indexed"] if read.unlinked else []
    # Complete, and `reached` counts every thread listed: an unsolved thread is reached (it is known not to be a
    # page), so unsolves delete their pages, while an empty read reaches nothing and the drop guard refuses.
    return LoadedSource(pages=read.pages, complete=True, reached=read.listed, problems=problems)
