"""The known share: which of a question's terms the collection mentions at all, on both index backends.

It is read from the index when the question is asked, so ingesting, changing and deleting pages must move it
at once (no statistics kept beside the index to fall out of step).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from docsbot.documents.model import Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.ports import SearchFilter, VectorIndex
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.qdrant_server import QdrantIndex, open_client
from docsbot.index.search import Searcher
from docsbot.index.sync import sync_pages
from docsbot.index.term_stats import MAX_QUESTION_TERMS, known_share, question_terms

EMBEDDER = HashingEmbedder(64)
SPARSE = Bm25Encoder()
STORE_PAGE = Page(
    url="https://d.io/store",
    title="Store",
    markdown="# Store\n\nConfigure the store with configureStore, then add reducers and middleware.",
    source_kind="markdown_folder",
    tags=("v2",),
)
WORKER_PAGE = Page(
    url="https://d.io/workers",
    title="Workers",
    markdown="# Workers\n\nRun reducers inside a web worker to keep the main thread free.",
    source_kind="markdown_folder",
    tags=("v1",),
)


@pytest.fixture(params=("qdrant", "edge"))
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[VectorIndex]:
    if request.param == "qdrant":
        client = open_client(url=None, api_key=None, path=tmp_path / "qdrant")
        yield QdrantIndex(client, "docs")
        client.close()
    else:
        edge = EdgeIndex(tmp_path / "edge", "docs")
        yield edge
        edge.close()


def sync(index: VectorIndex, *pages: Page) -> None:
    sync_pages(index, EMBEDDER, SPARSE, pages, source="docs", complete=True)


def test_an_identifier_counts_by_its_parts_and_stop_words_do_not_count() -> None:
    assert question_terms("How do I set SET_USER in configureStore?") == ["set", "user", "configur", "store"]
    assert question_terms("swipe-back") == ["swipe", "back"]
    assert question_terms("how do I") == []


def test_terms_the_docs_never_mention_lower_the_share(index: VectorIndex) -> None:
    sync(index, STORE_PAGE, WORKER_PAGE)
    assert known_share(index, "configure the store reducers") == 1.0
    assert known_share(index, "configure the store reducers in flutter dart") == pytest.approx(3 / 5)
    assert known_share(index, "configure_store reducers") == 1.0  # never spelt so, but its words are there
    assert known_share(index, "how do I") is None


def test_common_words_count_like_any_other_word_the_docs_use(index: VectorIndex) -> None:
    sync(index, STORE_PAGE, WORKER_PAGE)
    # "run", "keep" and "free" are everyday words, but the docs use them: known, not a sign of a foreign topic.
    assert known_share(index, "run it and keep it free") == 1.0
    assert known_share(index, "run it with stripe") == pytest.approx(1 / 2)


def test_the_share_follows_changed_and_deleted_pages_at_once(index: VectorIndex) -> None:
    sync(index, STORE_PAGE, WORKER_PAGE)
    assert known_share(index, "web worker thread") == 1.0
    sync(index, STORE_PAGE)  # the workers page is gone from the source
    assert known_share(index, "web worker thread") == 0.0
    changed = Page(
        url=STORE_PAGE.url,
        title="Store",
        markdown="# Store\n\nThe store runs in a web worker.",
        source_kind="markdown_folder",
    )
    sync(index, changed)
    assert known_share(index, "web worker thread") == pytest.approx(2 / 3)  # "thread" went with the old page
    assert known_share(index, "configure reducers") == 0.0  # the old text no longer counts


def test_the_share_respects_the_search_filter(index: VectorIndex) -> None:
    sync(index, STORE_PAGE, WORKER_PAGE)
    assert known_share(index, "web worker", SearchFilter(tags=("v2",))) == 0.0
    assert known_share(index, "web worker", SearchFilter(tags=("v1",))) == 1.0


def test_a_long_question_is_judged_on_its_first_terms_only() -> None:
    asked: list[int] = []

    class Counting:
        def terms_present(self, term_ids: list[int], search_filter: SearchFilter | None = None) -> list[bool]:
            asked.extend(term_ids)
            return [False] * len(term_ids)

    words = " ".join(f"word{n}" for n in range(MAX_QUESTION_TERMS * 3))
    assert known_share(Counting(), words) == 0.0  # type: ignore[arg-type]
    assert len(asked) == MAX_QUESTION_TERMS


def test_a_qdrant_server_is_asked_once_per_question_without_payloads(tmp_path: Path) -> None:
    client = open_client(url=None, api_key=None, path=tmp_path / "qdrant")
    index = QdrantIndex(client, "docs")
    sync(index, STORE_PAGE, WORKER_PAGE)
    batches: list[list[object]] = []
    original = client.query_batch_points

    def recording(collection_name: str, requests: list[object], **kwargs: object) -> object:
        batches.append(requests)
        return original(collection_name, requests=requests, **kwargs)  # type: ignore[arg-type]

    client.query_batch_points = recording  # type: ignore[method-assign,assignment]
    assert known_share(index, "configure the store with pinia and stripe") == 0.5  # configur, store / pinia, stripe
    assert len(batches) == 1 and len(batches[0]) == 4
    assert all(getattr(request, "with_payload", None) is False for request in batches[0])
    client.close()


def test_a_keyword_search_reports_the_share_and_a_dense_one_does_not(index: VectorIndex) -> None:
    sync(index, STORE_PAGE, WORKER_PAGE)
    searcher = Searcher(index, EMBEDDER, SPARSE)
    assert searcher.search("configure the store in flutter").known_share == pytest.approx(2 / 3)
    assert searcher.search("configure the store in flutter", mode="sparse").known_share == pytest.approx(2 / 3)
    assert searcher.search("configure the store in flutter", mode="dense").known_share is None
