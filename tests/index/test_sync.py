"""The incremental index on the real Redux corpus, in qdrant-client's embedded mode."""

from __future__ import annotations

import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest
from qdrant_client import QdrantClient

from docsbot.documents.model import Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.errors import EmbedderMismatchError
from docsbot.index.ports import SearchFilter
from docsbot.index.qdrant_server import QdrantIndex
from docsbot.index.search import Searcher
from docsbot.index.sync import sync_pages
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.config import MarkdownFolderSource
from tests.harness.corpora import require_redux

REDUCERS_URL = "https://redux.js.org/faq/reducers"


@pytest.fixture
def corpus(tmp_path: Path) -> Path:
    target = tmp_path / "redux-docs"
    shutil.copytree(require_redux(), target)
    return target


@pytest.fixture
def index(tmp_path: Path) -> Iterator[QdrantIndex]:
    client = QdrantClient(path=str(tmp_path / "qdrant"))
    yield QdrantIndex(client, "redux")
    client.close()


def source(corpus: Path) -> MarkdownFolderSource:
    return MarkdownFolderSource(kind="markdown_folder", name="docs", path=corpus, url_map=corpus / "urls.tsv")


def urls_in_index(index: QdrantIndex) -> set[str]:
    return {p.url for p in index.stored_points()}


def test_ingest_is_incremental_on_the_redux_corpus(corpus: Path, index: QdrantIndex) -> None:
    embedder, sparse = HashingEmbedder(), Bm25Encoder()

    first = ingest_folder(index, embedder, sparse, source(corpus)).summary
    assert first.pages == 85
    assert first.chunks > 500
    assert first.chunks_embedded == first.chunks
    assert index.count() == first.chunks
    assert first.embedding_requests >= 1

    again = ingest_folder(index, embedder, sparse, source(corpus)).summary
    assert again.chunks_embedded == 0
    assert again.embedding_requests == 0
    assert again.pages_unchanged == again.pages - again.pages_without_chunks
    assert index.count() == first.chunks

    # Edit one section of one page: only that page's changed chunks are embedded again.
    page = corpus / "faq" / "Reducers.md"
    page.write_text(page.read_text(encoding="utf-8") + "\n\nZebracorn reducers are never mutated.\n", encoding="utf-8")
    edited = ingest_folder(index, embedder, sparse, source(corpus)).summary
    assert edited.changed_urls == [REDUCERS_URL]
    assert 1 <= edited.chunks_embedded <= 2
    assert edited.chunks_deleted == edited.chunks_embedded
    assert index.count() == first.chunks
    hits = Searcher(index, embedder, sparse).search("zebracorn", mode="sparse").sources
    assert hits and hits[0].url == REDUCERS_URL

    # Delete a page: its points go, nothing else does.
    before = {p.id for p in index.stored_points() if p.url != REDUCERS_URL}
    page.unlink()
    deleted = ingest_folder(index, embedder, sparse, source(corpus)).summary
    assert deleted.pages_deleted == 1
    assert REDUCERS_URL not in urls_in_index(index)
    assert {p.id for p in index.stored_points()} == before


def test_a_page_that_fails_to_load_keeps_what_was_indexed(corpus: Path, index: QdrantIndex) -> None:
    embedder, sparse = HashingEmbedder(), Bm25Encoder()
    ingest_folder(index, embedder, sparse, source(corpus))
    count = index.count()
    page = corpus / "faq" / "Reducers.md"
    page.write_text("---\ntitle: [unclosed\n---\n\nbroken front matter\n", encoding="utf-8")
    report = ingest_folder(index, embedder, sparse, source(corpus))
    assert [p.kind for p in report.problems] == ["malformed_front_matter"]
    assert "Reducers.md" in report.problems[0].path
    assert report.summary.pages_deleted == 0
    assert REDUCERS_URL in urls_in_index(index)
    assert index.count() == count


def test_a_page_that_now_extracts_to_nothing_keeps_its_points(index: QdrantIndex) -> None:
    embedder, sparse = HashingEmbedder(), Bm25Encoder()
    pages = [
        Page(
            url=f"https://d.io/{n}",
            title=f"P{n}",
            markdown=f"## Part\n\nPage {n} explains topic {n}.",
            source_kind="md",
        )
        for n in range(3)
    ]
    first = sync_pages(index, embedder, sparse, pages, source="s", complete=True)
    assert first.pages_new == 3
    before = {p.id for p in index.stored_points()}
    # A redesign breaks extraction: two pages come back empty, on a complete listing.
    broken = [pages[0], *(Page(url=p.url, title=p.title, markdown="", source_kind="md") for p in pages[1:])]
    second = sync_pages(index, embedder, sparse, broken, source="s", complete=True)
    assert second.pages_kept_empty == 2 and second.pages_deleted == 0 and second.chunks_deleted == 0
    assert {p.id for p in index.stored_points()} == before


def test_another_embedder_is_refused(index: QdrantIndex) -> None:
    page = Page(
        url="https://d.io/a",
        title="A",
        markdown="Some prose about stores and reducers. " * 20,
        source_kind="t",
    )
    sync_pages(index, HashingEmbedder(64), Bm25Encoder(), [page], source="s", complete=True)
    with pytest.raises(EmbedderMismatchError, match="hashing-64"):
        sync_pages(index, HashingEmbedder(32), Bm25Encoder(), [page], source="s", complete=True)
    with pytest.raises(EmbedderMismatchError):
        Searcher(index, HashingEmbedder(32), Bm25Encoder())


def test_sources_do_not_delete_each_others_pages(index: QdrantIndex) -> None:
    text = "Configure the store with middleware and enhancers. " * 10
    a = Page(url="https://d.io/a", title="A", markdown=text, source_kind="markdown_folder")
    b = Page(url="https://d.io/b", title="B", markdown=text + " More.", source_kind="docusaurus", tags=("v2",))
    embedder, sparse = HashingEmbedder(), Bm25Encoder()
    sync_pages(index, embedder, sparse, [a], source="one", complete=True)
    sync_pages(index, embedder, sparse, [b], source="two", complete=True)
    sync_pages(index, embedder, sparse, [a], source="one", complete=True)
    assert urls_in_index(index) == {"https://d.io/a", "https://d.io/b"}
    searcher = Searcher(index, embedder, sparse)
    only_b = searcher.search("configure store middleware", search_filter=SearchFilter(source_kinds=("docusaurus",)))
    assert [s.url for s in only_b.sources] == ["https://d.io/b"]
    tagged = searcher.search("configure store middleware", search_filter=SearchFilter(tags=("v2",)))
    assert [s.url for s in tagged.sources] == ["https://d.io/b"]


def test_hybrid_search_returns_one_source_per_section(corpus: Path, index: QdrantIndex) -> None:
    embedder, sparse = HashingEmbedder(), Bm25Encoder()
    ingest_folder(index, embedder, sparse, source(corpus))
    result = Searcher(index, embedder, sparse).search(
        "Actions must be plain objects. Use custom middleware for async actions.", limit=8
    )
    keys = [(s.url, s.anchor) for s in result.sources]
    assert len(keys) == len(set(keys)) == 8
    assert result.best_dense_score is not None
    assert all(s.deep_link.startswith("https://redux.js.org/") for s in result.sources)
    assert all(s.snippet and s.text for s in result.sources)
    assert [s.score for s in result.sources] == sorted((s.score for s in result.sources), reverse=True)


class InterruptedEmbedder(HashingEmbedder):
    """The stand-in embedder, interrupted (Ctrl-C) on its `interrupt_at`-th call."""

    def __init__(self, interrupt_at: int) -> None:
        super().__init__()
        self.calls = 0
        self.interrupt_at = interrupt_at

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls += 1
        if self.calls == self.interrupt_at:
            raise KeyboardInterrupt
        return super().embed_documents(texts)


def redux_pages(corpus: Path) -> list[Page]:
    from docsbot.sources.markdown_folder import load_markdown_folder, read_url_map

    return load_markdown_folder(corpus, url_map=read_url_map(corpus / "urls.tsv")).pages


def test_embedding_progress_moves_by_chunk_and_an_interrupted_sync_keeps_its_finished_steps(
    corpus: Path, index: QdrantIndex
) -> None:
    pages, sparse = redux_pages(corpus), Bm25Encoder()
    progress: list[tuple[int, int]] = []
    done: list[str] = []
    with pytest.raises(KeyboardInterrupt):
        sync_pages(
            index, InterruptedEmbedder(interrupt_at=3), sparse, pages, source="docs", complete=True,
            on_page=lambda page: done.append(page.url), on_embedded=lambda *step: progress.append(step),
        )  # fmt: skip
    total = progress[0][1]
    assert progress[0] == (0, total) and total > 500  # the bar knows every chunk to embed before the first
    assert [d for d, _ in progress] == sorted({d for d, _ in progress}) and 0 < progress[-1][0] < total
    kept = urls_in_index(index)
    assert done and set(done) >= kept and kept  # two steps committed before the interruption: their pages stay
    assert index.count() == progress[-1][0]

    again = sync_pages(index, HashingEmbedder(), sparse, pages, source="docs", complete=True)
    assert again.chunks_embedded == total - progress[-1][0]  # the rerun embeds only what was missing
    assert index.count() == total
