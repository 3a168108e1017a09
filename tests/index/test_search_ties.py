"""Docs win ties: a documentation section and a solved thread equally relevant to a question come docs first,
in the real embedded index (rank fusion puts one of two equal results first in an order the index picks);
a thread clearly more relevant still comes first."""

from __future__ import annotations

from pathlib import Path

from docsbot.documents.model import COMMUNITY_KIND, Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher, docs_win_ties
from docsbot.index.sync import sync_pages

BODY = "Set the worker option keep_warm to true to keep the cache warm between restarts of the worker."
QUESTION = "how do I keep the cache warm between worker restarts"
THREAD_URL = "https://discord.com/channels/1180000000000000001/1190000000000000001"


def index_pages(path: Path, doc_body: str, thread_body: str, *more_docs: str) -> EdgeIndex:
    index = EdgeIndex(path, "docs")
    embedder, sparse = HashingEmbedder(), Bm25Encoder()
    docs = [
        Page(url="https://docs.example/cache", title="Warm cache", markdown=doc_body, source_kind="markdown_folder")
    ]
    docs += [
        Page(url=f"https://docs.example/more-{n}", title=f"More {n}", markdown=body, source_kind="markdown_folder")
        for n, body in enumerate(more_docs)
    ]
    answer = Page(url=THREAD_URL, title="Warm cache", markdown=thread_body, source_kind=COMMUNITY_KIND)
    sync_pages(index, embedder, sparse, docs, source="docs", complete=True)
    sync_pages(index, embedder, sparse, [answer], source="threads", complete=True)
    return index


def test_an_equally_relevant_doc_section_ranks_above_the_thread(tmp_path: Path) -> None:
    index = index_pages(tmp_path / "index", BODY, BODY)  # the same title and text: equally relevant
    try:
        embedder, sparse = HashingEmbedder(), Bm25Encoder()
        fused = index.query(dense=embedder.embed_query(QUESTION), sparse=sparse.encode_query(QUESTION), limit=4)
        # Without the rule the index's fusion puts the thread first (one rank apart in both orders).
        assert [h.payload["source_kind"] for h in fused.hits] == [COMMUNITY_KIND, "markdown_folder"]
        for mode in ("hybrid", "dense", "sparse"):
            found = Searcher(index, embedder, sparse).search(QUESTION, limit=2, mode=mode)
            assert [s.community for s in found.sources] == [False, True], mode
            assert found.sources[1].label == "Community answer › Warm cache"
    finally:
        index.close()


def test_a_thread_clearly_more_relevant_still_comes_first(tmp_path: Path) -> None:
    weak = "Caching is configured in the settings file."
    middle = "The cache stays warm between restarts when the worker keeps its cache folder."
    index = index_pages(tmp_path / "index", weak, BODY, middle)
    try:
        found = Searcher(index, HashingEmbedder(), Bm25Encoder()).search(QUESTION, limit=3)
        assert found.sources[0].url == THREAD_URL and found.sources[-1].url == "https://docs.example/cache"
    finally:
        index.close()


def test_plain_scores_put_docs_first_on_equal_scores_only() -> None:
    items = [("thread", 1.0, True), ("doc", 1.0, False), ("other doc", 0.5, False)]
    ranked = docs_win_ties(items, lambda i: i[1], lambda i: i[2])
    assert [i[0] for i in ranked] == ["doc", "thread", "other doc"]
    better = [("thread", 1.0001, True), ("doc", 1.0, False)]
    assert [i[0] for i in docs_win_ties(better, lambda i: i[1], lambda i: i[2])] == ["thread", "doc"]
    docs_only = [("b", 0.2, False), ("a", 0.9, False)]
    assert docs_win_ties(docs_only, lambda i: i[1], lambda i: i[2]) == docs_only  # no thread: untouched
