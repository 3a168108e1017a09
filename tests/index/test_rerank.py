"""The second retrieval stage: the Reranker port's properties, the search falling back, the model verification."""

from __future__ import annotations

import hashlib
import logging
import threading
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from docsbot.documents.model import Page, Source
from docsbot.index import chunking, rerank
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.chunking import chunk_page
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.mpnet import WEIGHTS_FILE, Expected, ModelVerificationError, load_local_reranker, verify_weights
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.rerank import (
    NoReranker,
    PersistentVectorCache,
    Ranked,
    SimilarityReranker,
    WarmingEmbedder,
    chunk_section_text,
    rerank_safely,
    section_text,
)
from docsbot.index.search import Searcher
from docsbot.index.sync import sync_pages
from tests.harness.builders import src


class TableEmbedder:
    """Vectors looked up by a word in the text: the test decides exactly which section the 'model' likes."""

    name = "table"

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors
        self.embedded: list[str] = []

    def _vector(self, text: str) -> list[float]:
        return next(v for word, v in self.vectors.items() if word in text.split())

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.embedded.extend(texts)
        return [self._vector(t) for t in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def _candidates() -> list[Source]:
    # First-stage order: alpha, beta, gamma, delta, omega.
    return [src(1, "alpha"), src(2, "beta"), src(3, "gamma"), src(4, "delta"), src(5, "omega")]


# The first stage likes alpha best and omega least; the model likes omega best and alpha least; both put beta second.
OPPOSED = {
    "query": [1.0, 0.0],
    "alpha": [-1.0, 0.0],
    "beta": [0.9, 0.44],
    "gamma": [0.5, 0.87],
    "delta": [0.0, 1.0],
    "omega": [1.0, 0.0],
}


def test_a_section_both_stages_like_outranks_sections_only_one_likes() -> None:
    ranked = SimilarityReranker(TableEmbedder(OPPOSED), weight=1.0).rerank("query", _candidates())
    order = [s.text for s in ranked.sources]
    assert order[0] == "beta"  # second for both beats first for only one
    assert set(order[1:3]) == {"alpha", "omega"}
    assert sorted(order) == ["alpha", "beta", "delta", "gamma", "omega"]  # every candidate exactly once
    assert ranked.best_similarity == pytest.approx(1.0)
    assert [s.score for s in ranked.sources] == sorted((s.score for s in ranked.sources), reverse=True)


def test_by_default_the_models_order_weighs_more_than_the_first_stages() -> None:
    order = [s.text for s in SimilarityReranker(TableEmbedder(OPPOSED)).rerank("query", _candidates()).sources]
    # The model's favourite (omega, last in the first stage) now beats the first stage's (alpha, the model's last),
    # and third for both (gamma) beats first for the first stage only.
    assert order == ["beta", "omega", "gamma", "alpha", "delta"]


def test_the_none_reranker_keeps_the_first_stage_order() -> None:
    candidates = _candidates()
    assert NoReranker().rerank("query", candidates).sources == candidates


def test_a_section_is_embedded_once_however_often_it_is_a_candidate() -> None:
    words = ("alpha", "beta", "gamma", "delta", "omega")
    embedder = TableEmbedder({"query": [1.0, 0.0], **{w: [0.0, 1.0] for w in words}})
    reranker = SimilarityReranker(embedder)
    reranker.rerank("query", _candidates())
    reranker.rerank("query", _candidates()[1:])
    assert sorted(embedder.embedded) == sorted(section_text(s) for s in _candidates())


def test_section_vectors_persist_across_processes_per_model(tmp_path: Path) -> None:
    words = ("alpha", "beta", "gamma", "delta", "omega")
    first = TableEmbedder({"query": [1.0, 0.0], **{w: [0.5, 0.25] for w in words}})
    SimilarityReranker(first, cache=PersistentVectorCache(tmp_path / "v.sqlite", "m1")).rerank("query", _candidates())
    again = TableEmbedder(first.vectors)
    reopened = PersistentVectorCache(tmp_path / "v.sqlite", "m1")
    SimilarityReranker(again, cache=reopened).rerank("query", _candidates())
    assert again.embedded == []  # read back, not embedded again
    assert reopened.get(PersistentVectorCache.key(section_text(_candidates()[0]))) == [0.5, 0.25]
    other_model = TableEmbedder(first.vectors)
    SimilarityReranker(other_model, cache=PersistentVectorCache(tmp_path / "v.sqlite", "m2")).rerank(
        "query", _candidates()
    )
    assert len(other_model.embedded) == 5  # another model's vectors are never reused


class Broken:
    name = "broken"

    def rerank(self, query: str, candidates: Sequence[Source]) -> Ranked:
        raise RuntimeError("model crashed")


class Lossy:
    name = "lossy"

    def rerank(self, query: str, candidates: Sequence[Source]) -> Ranked:
        return Ranked(list(candidates)[:1])


def test_a_failing_or_lossy_reranker_leaves_the_first_stage_order(caplog: pytest.LogCaptureFixture) -> None:
    candidates = _candidates()
    with caplog.at_level(logging.WARNING):
        assert rerank_safely(Broken(), "query", candidates).sources == candidates
        assert rerank_safely(Lossy(), "query", candidates).sources == candidates
    assert "model crashed" in caplog.text


def _pages() -> list[Page]:
    topics = ["reducers combine state", "middleware dispatch thunk", "selectors memoize state", "store subscribe"]
    return [
        Page(
            url=f"https://docs.example.com/p{n}",
            title=f"Page {n}",
            # Every section links somewhere: links are indexed by their text, and the reranker must read the same.
            markdown=f"## Part {n} {{#part-{n}}}\n\n{topic}, see [the guide](https://docs.example.com/guide#{n}) " * 3,
            source_kind="test",
        )
        for n, topic in enumerate(topics)
    ]


def test_the_search_survives_a_failing_reranker_and_applies_a_working_one(tmp_path: Path) -> None:
    index = EdgeIndex(tmp_path, "docs")
    embedder, sparse = HashingEmbedder(64), Bm25Encoder()
    sync_pages(index, embedder, sparse, _pages(), source="docs", complete=True)
    plain = Searcher(index, embedder, sparse).search("state reducers", limit=3)
    broken = Searcher(index, embedder, sparse, reranker=Broken()).search("state reducers", limit=3)
    assert [s.url for s in broken.sources] == [s.url for s in plain.sources]
    assert broken.best_sparse_score == plain.best_sparse_score

    class Reverse:
        name = "reverse"

        def rerank(self, query: str, candidates: Sequence[Source]) -> Ranked:
            return Ranked(list(reversed(candidates)), best_similarity=0.25)

    reversed_result = Searcher(index, embedder, sparse).search("state reducers", limit=2, reranker=Reverse())
    every = Searcher(index, embedder, sparse).search("state reducers", limit=30)
    # The reranker saw all the candidates (not only `limit`), and its order decides the top.
    assert [s.url for s in reversed_result.sources] == [s.url for s in reversed(every.sources)][:2]
    assert reversed_result.rerank_similarity == 0.25
    index.close()


def test_verification_refuses_weights_of_the_wrong_size_or_hash(tmp_path: Path) -> None:
    weights = tmp_path / WEIGHTS_FILE
    weights.write_bytes(b"not the real model")
    right = Expected(size=18, sha256=hashlib.sha256(b"not the real model").hexdigest())
    verify_weights(weights, right)  # the right file passes
    with pytest.raises(ModelVerificationError, match="size 18 bytes, expected 437,971,872"):
        verify_weights(weights)
    with pytest.raises(ModelVerificationError, match="SHA-256"):
        verify_weights(weights, Expected(size=18, sha256="0" * 64))
    with pytest.raises(ModelVerificationError, match="cannot read"):
        verify_weights(tmp_path / "absent.safetensors", right)


def test_an_absent_or_tampered_model_means_no_reranker_and_one_log_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.WARNING, logger="docsbot.index.mpnet"):
        assert load_local_reranker(tmp_path / "missing") is None
        assert load_local_reranker(tmp_path / "missing") is None  # decided once per process
        tampered = tmp_path / "tampered"
        tampered.mkdir()
        (tampered / WEIGHTS_FILE).write_bytes(b"x" * 10)
        assert load_local_reranker(tampered) is None
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 2
    assert "no local model" in messages[0]
    assert "refusing unverified model weights" in messages[1]


# --- Section vectors computed at ingest ----------------------------------------------------------


def test_the_text_the_reranker_reads_of_a_one_chunk_section_is_known_from_its_chunk() -> None:
    page = Page(
        url="https://docs.example.com/store",
        title="Store",
        markdown="## Subscribing {#subscribing}\n\nCall store.subscribe(listener) to be told of every dispatch.",
        source_kind="test",
    )
    (chunk,) = chunk_page(page)
    source = src(1, "x")
    source = replace(source, title=chunk.title, heading_path=chunk.heading_path, text=chunk.text.partition("\n\n")[2])
    assert section_text(source) == chunk_section_text(chunk.text)
    assert section_text(source) == "Store > Subscribing\n\nCall store.subscribe(listener) to be told of every dispatch."
    assert rerank.PATH_SEPARATOR == chunking.PATH_SEPARATOR


def test_an_ingest_through_the_warming_embedder_leaves_no_section_to_embed_at_query_time(tmp_path: Path) -> None:
    model = CountingModel()
    reranker = SimilarityReranker(model)
    loads: list[int] = []

    def load() -> SimilarityReranker:
        loads.append(1)
        return reranker

    first_stage = HashingEmbedder(64)
    warming = WarmingEmbedder(first_stage, load)
    index = EdgeIndex(tmp_path, "docs")
    sync_pages(index, warming, Bm25Encoder(), _pages(), source="docs", complete=True)
    assert loads == [1]  # loaded once, on the first batch
    assert warming.warmed == len(model.documents) == index.count() == 4
    searcher = Searcher(index, first_stage, Bm25Encoder(), reranker=reranker)
    for question in ("state reducers", "dispatch thunk middleware", "subscribe to the store"):
        assert searcher.search(question, limit=3).sources
    assert reranker.sections_embedded == 0  # every candidate's vector was computed at ingest
    assert len(model.queries) == 3  # a question costs its own embedding only
    # A re-ingest of unchanged pages embeds nothing, for either model.
    sync_pages(index, warming, Bm25Encoder(), _pages(), source="docs", complete=True)
    assert len(model.documents) == 4
    index.close()


def test_warming_never_fails_an_ingest(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    class Failing(CountingModel):
        def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
            raise RuntimeError("model crashed")

    index = EdgeIndex(tmp_path / "a", "docs")
    broken = WarmingEmbedder(HashingEmbedder(64), lambda: SimilarityReranker(Failing()))
    summary = sync_pages(index, broken, Bm25Encoder(), _pages(), source="docs", complete=True)
    assert summary.chunks_embedded == index.count() == 4
    assert "could not precompute section vectors" in caplog.text
    absent = WarmingEmbedder(HashingEmbedder(64), lambda: None)  # no model installed: nothing to warm
    other = EdgeIndex(tmp_path / "b", "docs")
    assert sync_pages(other, absent, Bm25Encoder(), _pages(), source="docs", complete=True).chunks_embedded == 4
    assert absent.warmed == 0
    index.close()
    other.close()


class CountingModel(HashingEmbedder):
    """A deterministic stand-in for the reranking model that records what it embeds."""

    def __init__(self) -> None:
        super().__init__(32)
        self.name = "counting"
        self.documents: list[str] = []
        self.queries: list[str] = []

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        self.documents.extend(texts)
        return super().embed_documents(texts)

    def embed_query(self, text: str) -> list[float]:
        self.queries.append(text)
        return HashingEmbedder.embed_documents(self, [text])[0]


def test_the_reranker_encodes_the_query_while_the_first_stage_searches(tmp_path: Path) -> None:
    """Each stage's query encode waits for the other's to have started: only running them together finishes."""
    both_started = threading.Barrier(2, timeout=30)  # the bound only turns a hang into a failure

    class FirstStage(HashingEmbedder):
        def embed_query(self, text: str) -> list[float]:
            both_started.wait()
            return super().embed_query(text)

    class SecondStage(CountingModel):
        def __init__(self) -> None:
            super().__init__()
            self.threads: list[str] = []

        def embed_query(self, text: str) -> list[float]:
            self.threads.append(threading.current_thread().name)
            both_started.wait()
            return super().embed_query(text)

    index = EdgeIndex(tmp_path, "docs")
    first, sparse = FirstStage(64), Bm25Encoder()
    sync_pages(index, first, sparse, _pages(), source="docs", complete=True)
    model = SecondStage()
    reranker = SimilarityReranker(model)
    result = Searcher(index, first, sparse, reranker=reranker).search("state reducers", limit=3)
    assert result.sources and result.rerank_similarity is not None
    assert model.threads == ["docsbot-rerank-query_0"]  # encoded once, in the background
    index.close()


def test_a_prepared_encode_that_fails_leaves_the_first_stage_order(tmp_path: Path) -> None:
    class FailingQueries(CountingModel):
        def embed_query(self, text: str) -> list[float]:
            raise RuntimeError("model crashed")

    index = EdgeIndex(tmp_path, "docs")
    embedder, sparse = HashingEmbedder(64), Bm25Encoder()
    sync_pages(index, embedder, sparse, _pages(), source="docs", complete=True)
    plain = Searcher(index, embedder, sparse).search("state reducers", limit=3)
    failing = Searcher(index, embedder, sparse, reranker=SimilarityReranker(FailingQueries()))
    assert [s.url for s in failing.search("state reducers", limit=3).sources] == [s.url for s in plain.sources]
    index.close()


def test_prepared_encodes_are_bounded_and_used_once() -> None:
    model, reference = CountingModel(), HashingEmbedder(32)
    reranker = SimilarityReranker(model)
    for n in range(rerank.PREPARED_QUERIES + 5):
        reranker.prepare(f"question {n}")
    last = f"question {rerank.PREPARED_QUERIES + 4}"
    reranker.prepare(last)  # already prepared: not encoded twice
    assert reranker.query_vector(last) == reference.embed_query(last)
    assert model.queries.count(last) == 1  # one worker, in order: every earlier encode has finished too
    assert len(model.queries) == rerank.PREPARED_QUERIES + 5
    assert len(reranker._prepared) == rerank.PREPARED_QUERIES - 1
    assert reranker.query_vector("question 0") == reference.embed_query("question 0")  # dropped: encoded anew
    assert model.queries.count("question 0") == 2


def test_cosines_match_the_definition_and_tolerate_missing_vectors() -> None:
    scores = rerank._cosines([3.0, 4.0], [[3.0, 4.0], [4.0, -3.0], None, [0.0, 0.0], [-6.0, -8.0]])
    assert scores == pytest.approx([1.0, 0.0, 0.0, 0.0, -1.0])
