"""Incremental indexing: bring one source's pages in the index up to date, embedding only what changed.

Point ids derive from (url, anchor, chunk content hash), so a chunk that did not change keeps its id and
is never embedded again. For each page: new ids are embedded and upserted first, then ids the page no
longer produces are deleted, so a page is never missing from the index mid-way. When the listing of
pages is complete, pages that vanished from the source are deleted too, except `protected_urls`: pages
that failed to load this time keep what was indexed before. A page that now gives no chunks at all but
had points keeps them (`pages_kept_empty`): a site redesign that breaks extraction must not empty the index.

`sync_pages` chunks every page first, so the number of chunks to embed is known (`on_embedded(done, total)`
reports it, then each step of `EMBED_BATCH` chunks); `SourceSync` takes pages as they arrive (a crawl), so its
total grows with them, and commits a step every `EMBED_BATCH` chunks or `STEP_PAGES` pages, holding one step in
memory. `on_page` is called once a page's changes are in the index.
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
# Pages per step at most: a crawl of pages that changed little still commits (and saves its checkpoint) as it goes.
STEP_PAGES = 64


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

    Every page is chunked first, so the chunk total is known from the start. `on_step(pages, summary so far)`
    follows each committed step with the pages it finished (after their `on_page` calls): the caller's
    checkpoint for them may be saved then."""
    sync = SourceSync(
        index, embedder, sparse, source=source, chunking=chunking, on_page=on_page, on_embedded=on_embedded,
        on_step=on_step,
    )  # fmt: skip
    sync.add_all(pages)
    return sync.finish(complete=complete, protected_urls=protected_urls)


_Planned = tuple[Page, list[tuple[Chunk, int]], list[str]]  # a page, its chunks to embed, its point ids to delete


class SourceSync:
    """One sync of one source, fed page by page: `add` as pages arrive (a crawl), then `finish` once.

    Steps are committed as they fill (`EMBED_BATCH` chunks, or `STEP_PAGES` pages when little changed), so
    what is held in memory is one step, not the source; the chunk total grows as pages arrive. Nothing is
    deleted before `finish`, which alone knows whether the listing was complete. The collection is created
    with the first page (or by `finish`): a load that gave nothing creates nothing."""

    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder,
        sparse: Bm25Encoder,
        *,
        source: str,
        chunking: ChunkingOptions | None = None,
        on_page: Callable[[Page], None] | None = None,
        on_embedded: Callable[[int, int], None] | None = None,
        on_step: Callable[[list[Page], SyncSummary], None] | None = None,
        step_pages: int | None = None,
    ) -> None:
        self.index, self.embedder, self.sparse, self.source = index, embedder, sparse, source
        self.chunking = chunking or ChunkingOptions()
        self.on_page, self.on_embedded, self.on_step = on_page, on_embedded, on_step
        self.step_pages = step_pages or STEP_PAGES
        self.summary = SyncSummary()
        self.total = 0  # chunks to embed known so far
        self._stored: dict[str, set[str]] | None = None  # page URL → point ids, read once the collection exists
        self._requests_before, self._tokens_before = embedder.stats.requests, embedder.stats.tokens
        self._pending: list[tuple[Chunk, int]] = []
        self._stale: list[str] = []
        self._seen: set[str] = set()
        self._waiting: list[Page] = []  # pages whose changes are in `pending` / `stale`: done once committed

    def prepare(self) -> None:
        """Create the collection if needed and read the source's stored point ids (once)."""
        if self._stored is not None:
            return
        info = IndexInfo(embedder=self.embedder.name, dimensions=self.embedder.dimensions, sparse=self.sparse.name)
        self.summary.collection_created = self.index.ensure(info)
        self._stored = defaultdict(set)
        for point in self.index.stored_points(source=self.source):
            self._stored[point.url].add(point.id)

    def plan(self, page: Page) -> _Planned | None:
        """Chunk `page` and count what changes; None for a URL listed twice (the first occurrence wins)."""
        self.prepare()
        assert self._stored is not None
        summary = self.summary
        if page.url in self._seen:
            return None  # a source listing a URL twice must not flap
        self._seen.add(page.url)
        summary.pages += 1
        chunks = chunk_page(page, self.chunking)
        old_ids = self._stored.get(page.url, set())
        if not chunks:
            summary.pages_without_chunks += 1
            if not old_ids:
                summary.empty_urls.append(page.url)
        if not chunks and old_ids:
            summary.pages_kept_empty += 1  # extraction broke, most likely: keep what was indexed
            return (page, [], [])
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
        return (page, fresh, sorted(old_ids - new_ids))

    def expect(self, chunks: int) -> None:
        """Add `chunks` to the total to embed, and report it."""
        self.total += chunks
        if self.on_embedded:
            self.on_embedded(self.summary.chunks_embedded, self.total)

    def add(self, page: Page) -> None:
        """Plan `page` and commit the steps it fills."""
        item = self.plan(page)
        if item is None:
            return
        if item[1]:
            self.expect(len(item[1]))
        self.step(item)

    def add_all(self, pages: Iterable[Page]) -> None:
        """Add pages already in memory: all are planned first, so the chunk total is known before any step."""
        self.prepare()
        planned = [item for item in (self.plan(page) for page in pages) if item is not None]
        self.expect(sum(len(fresh) for _, fresh, _ in planned))
        for item in planned:
            self.step(item)

    def step(self, item: _Planned) -> None:
        """Queue a planned page; commit the step when it is full."""
        page, fresh, stale_ids = item
        # A step holds whole pages: a page's new chunks and its deletions are committed together.
        if self._pending and len(self._pending) + len(fresh) > EMBED_BATCH:
            self.commit()
        self._pending.extend(fresh)
        self._stale.extend(stale_ids)
        self._waiting.append(page)
        while len(self._pending) > EMBED_BATCH:  # one page larger than a step: its chunks in steps; done with its last
            self._embed(self._pending[:EMBED_BATCH])
            del self._pending[:EMBED_BATCH]
        # A full step is committed now, so its pages are done (and kept) at once; many pages that changed little
        # make a step too, so their checkpoint is saved and memory holds one step.
        if len(self._pending) == EMBED_BATCH or len(self._waiting) >= self.step_pages:
            self.commit()

    def commit(self) -> None:
        """Embed, upsert and delete what is queued; report its pages (`on_page`, then `on_step`)."""
        if self._pending:
            self._embed(list(self._pending))
            self._pending.clear()
        if self._stale:
            self.index.delete(self._stale)
            self.summary.chunks_deleted += len(self._stale)
            self._stale.clear()
        for done in self._waiting:
            if self.on_page:
                self.on_page(done)
        if self._waiting and self.on_step:
            self.on_step(list(self._waiting), self.summary)
        self._waiting.clear()

    def finish(self, *, complete: bool, protected_urls: Iterable[str] = ()) -> SyncSummary:
        """Commit the last step; with `complete`, delete the source's pages not added (nor protected)."""
        self.prepare()
        assert self._stored is not None
        self.commit()
        if complete:
            keep = self._seen | set(protected_urls)
            for url, ids in sorted(self._stored.items()):
                if url not in keep:
                    self._stale.extend(sorted(ids))
                    self.summary.pages_deleted += 1
                    self.summary.changed_urls.append(url)
            self.commit()
        self.summary.embedding_requests = self.embedder.stats.requests - self._requests_before
        self.summary.embedding_tokens = self.embedder.stats.tokens - self._tokens_before
        return self.summary

    @property
    def page_urls(self) -> set[str]:
        """The page URLs added so far."""
        return set(self._seen)

    def _embed(self, step: list[tuple[Chunk, int]]) -> None:
        _embed_and_upsert(self.index, self.embedder, self.sparse, step, self.source)
        self.summary.chunks_embedded += len(step)
        if self.on_embedded:
            self.on_embedded(self.summary.chunks_embedded, self.total)


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
