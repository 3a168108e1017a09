"""Incremental indexing: bring one source's pages in the index up to date, embedding only what changed.

Point ids derive from (url, anchor, chunk content hash), so a chunk that did not change keeps its id and
is never embedded again. For each page: new ids are embedded and upserted first, then ids the page no
longer produces are deleted, so a page is never missing from the index mid-way. When the listing of
pages is complete, pages that vanished from the source are deleted too, except `protected_urls`: pages
that failed to load this time keep what was indexed before. A page that now gives no chunks at all but
had points keeps them (`pages_kept_empty`): a site redesign that breaks extraction must not empty the index.

Every page is chunked first, so the number of chunks to embed is known (`on_embedded(done, total)` reports
it, then each step of `EMBED_BATCH` chunks); `on_page` is called once a page's changes are in the index.
Each step is committed on its own: interrupted (Ctrl-C), the index keeps the pages of the finished steps, and
`on_step` lets the caller save those pages' checkpoint with each step (the refresh pipeline does).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from docsbot.documents.model import Chunk, Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.chunking import ChunkingOptions, chunk_page
from docsbot.index.embedders import Embedder
from docsbot.index.indexed_text import indexed_text
from docsbot.index.ports import IndexInfo, IndexPoint, VectorIndex

# Chunks embedded and upserted per step: each step is committed to the index and reported, so progress moves
# by chunk and an interrupted sync keeps every page of the steps before (a rerun embeds only the rest).
EMBED_BATCH = 128


@dataclass
class SyncSummary:
    """What one sync did; the CLI prints it and the scrape job stores it."""

    pages: int = 0
    pages_new: int = 0
    pages_changed: int = 0
    pages_unchanged: int = 0
    pages_without_chunks: int = 0  # empty or pure-navigation pages
    pages_kept_empty: int = 0  # pages that now give no chunks but had points: kept (extraction likely broke)
    pages_deleted: int = 0
    chunks: int = 0
    chunks_embedded: int = 0
    chunks_unchanged: int = 0
    chunks_deleted: int = 0
    embedding_requests: int = 0
    embedding_tokens: int = 0
    collection_created: bool = False
    changed_urls: list[str] = field(default_factory=list)
    empty_urls: list[str] = field(default_factory=list)  # pages that gave no chunks and have none indexed

    def as_dict(self) -> dict[str, Any]:
        data = dict(self.__dict__)
        data.pop("changed_urls")
        data.pop("empty_urls")
        return data


def chunk_payload(chunk: Chunk, *, source: str, position: int) -> dict[str, Any]:
    """The payload stored with a chunk's point."""
    return {
        "url": chunk.url,
        "anchor": chunk.anchor,
        "anchors": list(chunk.anchors) or [chunk.anchor],
        "title": chunk.title,
        "heading_path": list(chunk.heading_path),
        "text": chunk.text,
        "source": source,
        "source_kind": chunk.source_kind,
        "tags": list(chunk.tags),
        "content_hash": chunk.content_hash,
        "position": position,
        "token_count": chunk.token_count,
    }


def sync_pages(
    index: VectorIndex,
    embedder: Embedder,
    sparse: Bm25Encoder,
    pages: Iterable[Page],
    *,
    source: str,
    complete: bool,
    protected_urls: Iterable[str] = (),
    chunking: ChunkingOptions | None = None,
    on_page: Callable[[Page], None] | None = None,
    on_embedded: Callable[[int, int], None] | None = None,
    on_step: Callable[[list[Page], SyncSummary], None] | None = None,
) -> SyncSummary:
    """Index `pages` of `source` incrementally; with `complete`, delete the source's pages not listed.

    `on_step(pages, summary so far)` follows each committed step with the pages it finished (after their
    `on_page` calls): the caller's checkpoint for them may be saved then."""
    summary = SyncSummary()
    summary.collection_created = index.ensure(
        IndexInfo(embedder=embedder.name, dimensions=embedder.dimensions, sparse=sparse.name)
    )
    stored: dict[str, set[str]] = defaultdict(set)
    for point in index.stored_points(source=source):
        stored[point.url].add(point.id)

    requests_before, tokens_before = embedder.stats.requests, embedder.stats.tokens
    pending: list[tuple[Chunk, int]] = []
    stale: list[str] = []
    seen: set[str] = set()
    plan: list[tuple[Page, list[tuple[Chunk, int]], list[str]]] = []  # page, chunks to embed, ids to delete

    for page in pages:
        if page.url in seen:
            continue  # the first occurrence wins; a source listing a URL twice must not flap
        seen.add(page.url)
        summary.pages += 1
        chunks = chunk_page(page, chunking or ChunkingOptions())
        old_ids = stored.get(page.url, set())
        if not chunks:
            summary.pages_without_chunks += 1
            if not old_ids:
                summary.empty_urls.append(page.url)
        if not chunks and old_ids:
            summary.pages_kept_empty += 1  # extraction broke, most likely: keep what was indexed
            plan.append((page, [], []))
            continue
        new_ids = {c.point_id for c in chunks}
        fresh = [(c, i) for i, c in enumerate(chunks) if c.point_id not in old_ids]
        summary.chunks += len(chunks)
        summary.chunks_unchanged += len(chunks) - len(fresh)
        if not old_ids:
            summary.pages_new += 1 if chunks else 0
        elif fresh or old_ids - new_ids:
            summary.pages_changed += 1
        else:
            summary.pages_unchanged += 1
        if fresh or old_ids - new_ids:
            summary.changed_urls.append(page.url)
        plan.append((page, fresh, sorted(old_ids - new_ids)))

    total = sum(len(fresh) for _, fresh, _ in plan)
    if on_embedded:
        on_embedded(0, total)
    waiting: list[Page] = []  # pages whose changes are in `pending` / `stale`: done once these are committed

    def embed(step: list[tuple[Chunk, int]]) -> None:
        _embed_and_upsert(index, embedder, sparse, step, source)
        summary.chunks_embedded += len(step)
        if on_embedded:
            on_embedded(summary.chunks_embedded, total)

    def flush() -> None:
        if pending:
            embed(list(pending))
            pending.clear()
        if stale:
            index.delete(stale)
            summary.chunks_deleted += len(stale)
            stale.clear()
        for done in waiting:
            if on_page:
                on_page(done)
        if waiting and on_step:
            on_step(list(waiting), summary)
        waiting.clear()

    for page, fresh, stale_ids in plan:
        # A step holds whole pages: a page's new chunks and its deletions are committed together.
        if pending and len(pending) + len(fresh) > EMBED_BATCH:
            flush()
        pending.extend(fresh)
        stale.extend(stale_ids)
        waiting.append(page)
        while len(pending) > EMBED_BATCH:  # one page larger than a step: its chunks in steps; done with its last
            embed(pending[:EMBED_BATCH])
            del pending[:EMBED_BATCH]
        if len(pending) == EMBED_BATCH:  # a full step: commit it now, so its pages are done (and kept) at once
            flush()
    flush()

    if complete:
        keep = seen | set(protected_urls)
        for url, ids in sorted(stored.items()):
            if url not in keep:
                stale.extend(sorted(ids))
                summary.pages_deleted += 1
                summary.changed_urls.append(url)
        flush()

    summary.embedding_requests = embedder.stats.requests - requests_before
    summary.embedding_tokens = embedder.stats.tokens - tokens_before
    return summary


def indexed_page_urls(index: VectorIndex, source: str) -> set[str]:
    """The page URLs that have points of `source` in the index (none when the collection does not exist yet)."""
    if index.info() is None:
        return set()
    return {point.url for point in index.stored_points(source=source)}


def delete_pages(index: VectorIndex, urls: Iterable[str], *, source: str | None = None) -> int:
    """Delete every point of the given page URLs; returns how many points went."""
    wanted = set(urls)
    ids = [p.id for p in index.stored_points(source=source) if p.url in wanted]
    index.delete(ids)
    return len(ids)


def _embed_and_upsert(
    index: VectorIndex,
    embedder: Embedder,
    sparse: Bm25Encoder,
    items: list[tuple[Chunk, int]],
    source: str,
) -> None:
    texts = [indexed_text(chunk.text) for chunk, _ in items]
    dense = embedder.embed_documents(texts)
    sparse_vectors = sparse.encode_documents(texts)
    index.upsert(
        [
            IndexPoint(
                id=chunk.point_id,
                dense=vector,
                sparse=sparse_vector,
                payload=chunk_payload(chunk, source=source, position=position),
            )
            for (chunk, position), vector, sparse_vector in zip(items, dense, sparse_vectors, strict=True)
        ]
    )
