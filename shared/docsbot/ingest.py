"""Ingest a configured source into its collection's index: load pages, then sync incrementally."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from docsbot.config import MarkdownFolderSource
from docsbot.documents import Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import Embedder
from docsbot.index.store import VectorIndex
from docsbot.index.sync import SyncSummary, sync_pages
from docsbot.scrape.markdown_folder import Problem, load_markdown_folder, read_url_map


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
    if not source.path.is_dir():
        raise ValueError(f"source {source.name!r}: {source.path} is not a folder")
    url_map = read_url_map(source.url_map) if source.url_map else None
    loaded = load_markdown_folder(
        source.path,
        docs_base_url=source.docs_base_url,
        url_map=url_map,
        tags=source.tags,
        trailing_slash=source.trailing_slash,
    )
    if on_total:
        on_total(len(loaded.pages))
    summary = sync_pages(
        index,
        embedder,
        sparse,
        loaded.pages,
        source=source.name,
        complete=True,
        protected_urls=[p.url for p in loaded.problems if p.url],
        on_page=on_page,
    )
    return IngestReport(source=source.name, summary=summary, problems=list(loaded.problems))
