"""Ingest a configured source into its collection's index: load pages, then sync incrementally."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from docsbot.documents.model import Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import Embedder
from docsbot.index.ports import VectorIndex
from docsbot.index.sync import SyncSummary, sync_pages
from docsbot.settings.config import MarkdownFolderSource, SourceConfig
from docsbot.sources.markdown_folder import Problem
from docsbot.sources.registry import LoadContext, load_source
from docsbot.sources.snapshot import read_snapshot


@dataclass
class IngestReport:
    source: str
    summary: SyncSummary
    problems: list[Problem] = field(default_factory=list)


def ingest_folder(
    index: VectorIndex,
    embedder: Embedder,
    sparse: Bm25Encoder,
    source: MarkdownFolderSource,
    *,
    on_total: Callable[[int], None] | None = None,
    on_page: Callable[[Page], None] | None = None,
) -> IngestReport:
    """Index a markdown folder source. Files that fail to load keep what was indexed for them before."""

    def on_event(kind: str, value: Any) -> None:
        if kind == "total" and on_total is not None:
            on_total(int(value))

    # A folder keeps no crawl state: the data directory is not used.
    context = LoadContext(data_dir=Path("."), collection="", on_event=on_event)
    report = ingest_source(index, embedder, sparse, source, context, on_page=on_page)
    problems: list[Problem] = list(report.details.get("problems", []))
    return IngestReport(source=report.source, summary=report.summary, problems=problems)


@dataclass
class SourceReport:
    source: str
    kind: str
    summary: SyncSummary
    problems: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def ingest_source(
    index: VectorIndex,
    embedder: Embedder,
    sparse: Bm25Encoder,
    source: SourceConfig,
    context: LoadContext,
    *,
    on_page: Callable[[Page], None] | None = None,
) -> SourceReport:
    """Load any kind of source (see `docsbot.sources.registry`) and index it incrementally.

    Pages the source could not re-read keep what was indexed for them; vanished pages are deleted only
    when the source's listing was complete; crawl state is saved only after the pages are indexed.
    """
    if context.index is None:
        context = replace(context, index=index)  # crawl states of pages the index lacks are ignored
    loaded = load_source(source, context)
    summary = sync_pages(
        index,
        embedder,
        sparse,
        loaded.pages,
        source=source.name,
        complete=loaded.complete,
        protected_urls=loaded.keep_urls,
        on_page=on_page,
    )
    loaded.after_index()
    return SourceReport(
        source=source.name, kind=source.kind, summary=summary, problems=loaded.problems, details=loaded.details
    )


def ingest_snapshot(
    index: VectorIndex,
    embedder: Embedder,
    sparse: Bm25Encoder,
    path: Path,
    *,
    on_page: Callable[[Page], None] | None = None,
) -> SourceReport:
    """Index the pages of a scrape snapshot (`docsbot scrape --out`) as the source it was crawled from."""
    header, pages = read_snapshot(path)
    summary = sync_pages(
        index, embedder, sparse, pages, source=header.source or "snapshot", complete=header.complete, on_page=on_page
    )
    return SourceReport(source=header.source or "snapshot", kind="snapshot", summary=summary)
