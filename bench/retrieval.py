"""`bench retrieval`: retrieval quality, latency and "not in the docs" on every question set, side by side.

For every corpus under ../shared/corpora with a questions.jsonl (and a urls.tsv): the development sets
`redux-docs` and `ionic-docs` first, then any other set dropped in (`BENCH_SETS=a,b` to choose), it indexes the
corpus with the local MiniLM embedder and BM25 in the embedded index (Qdrant Edge), then runs every question
through: BM25 only, dense only, hybrid (RRF), and hybrid + the mpnet reranker (the configuration shipped
offline when the model is installed). For each: page hit@1/5, section hit@5, MRR@10 and nDCG@10 (page
level), search latency p50 / p95 per query in a warm process, and the indexing cost per 1,000 chunks. The
reranker's section vectors persist in a SQLite file (as in the product, beside the index); the latency
table says how many sections had to be embedded during the run and what one cost, because on a small CPU
embedding a section, not searching, dominates. Then the abstention figures of the shipped policy: refused
for answerable and unanswerable questions, the ROC AUC of each signal the policy uses, and how many of the
other sets' questions (off-topic for these docs) it refuses.

Then where a reranked search's time goes (p50 per question of each step alone: the MiniLM and mpnet query
encodes, the index query, the rerank with cached vectors), what computing the reranker's section vectors at
ingest adds per 1,000 chunks (a sample of chunks embedded with mpnet), and the BM25 per-page work bound: a
`BENCH_JUNK_MB` (default 5) MB page of mixed-case junk chunked and encoded, with the terms counted.

Set DOCSBOT_BENCH_CACHE to a folder to keep the built indexes between runs (they are rebuilt when absent).
"""

from __future__ import annotations

import os
import random
import statistics
import string
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from bench.knowledge_base import CORPORA, console
from docsbot.answer.abstain import AbstainPolicy
from docsbot.documents.model import Page, Source
from docsbot.index.bm25 import MAX_TERMS_PER_DOCUMENT, Bm25Encoder
from docsbot.index.chunking import chunk_page
from docsbot.index.embedders import EmbeddingStats, HashingEmbedder, LocalEmbedder
from docsbot.index.eval import Question, _auc, evaluate, load_questions
from docsbot.index.mpnet import load_local_reranker
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.rerank import (
    NoReranker,
    Reranker,
    SimilarityReranker,
    VectorCache,
    WarmingEmbedder,
    chunk_section_text,
)
from docsbot.index.search import Searcher, SearchMode, SearchResult
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.config import MarkdownFolderSource

DEV_SETS = ("redux-docs", "ionic-docs")


def question_sets() -> tuple[str, ...]:
    """The corpora to measure: `BENCH_SETS` (comma-separated folder names under the corpora folder), else every
    corpus there with a questions.jsonl, the development sets first; a held-out set dropped in is measured too."""
    named = [n.strip() for n in os.environ.get("BENCH_SETS", "").split(",") if n.strip()]
    if named:
        missing = [n for n in named if not (CORPORA / n / "questions.jsonl").is_file()]
        if missing:
            raise SystemExit(f"BENCH_SETS: no questions.jsonl in {', '.join(str(CORPORA / n) for n in missing)}")
        return tuple(named)
    found = sorted(p.parent.name for p in CORPORA.glob("*/questions.jsonl"))
    return tuple([n for n in DEV_SETS if n in found] + [n for n in found if n not in DEV_SETS])


@dataclass(frozen=True)
class Config:
    label: str
    mode: SearchMode
    reranker: Reranker | None = None
    first_stage: str = "MiniLM"  # or "mpnet": the dense model of the first stage


def _percentile(samples: list[float], q: float) -> float:
    ordered = sorted(samples)
    return ordered[min(len(ordered) - 1, int(q * (len(ordered) - 1) + 0.5))]


def _open_index(
    name: str, root: Path, embedder: LocalEmbedder, sparse: Bm25Encoder, reranker: SimilarityReranker | None = None
) -> tuple[EdgeIndex, str]:
    """The dev set's index, built (as the product ingests: with the reranker's vectors, when it has one) if absent."""
    source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=root, url_map=root / "urls.tsv")
    cache = os.environ.get("DOCSBOT_BENCH_CACHE")
    folder = Path(cache) / name if cache else Path(tempfile.mkdtemp(prefix=f"bench-{name}-"))
    cost = "cached index"
    if not (folder / ".built").exists():
        folder.mkdir(parents=True, exist_ok=True)
        index = EdgeIndex(folder, "docs")
        started = time.perf_counter()
        warming = WarmingEmbedder(embedder, lambda: reranker)
        summary = ingest_folder(index, warming, sparse, source).summary
        index.close()
        seconds = time.perf_counter() - started
        what = f"MiniLM + BM25 + {warming.warmed} reranker vectors" if reranker else "MiniLM + BM25"
        cost = f"{summary.chunks} chunks, {seconds / summary.chunks * 1000:.0f} s per 1,000 chunks ({what})"
        (folder / ".built").write_text(cost, encoding="utf-8")
    else:
        cost = (folder / ".built").read_text(encoding="utf-8") + " (cached)"
    return EdgeIndex(folder, "docs"), cost


def _run(
    searcher: Searcher, questions: list[Question], config: Config, keep: dict[str, SearchResult]
) -> tuple[dict[str, Any], list[float]]:
    latencies: list[float] = []

    def search(text: str) -> tuple[list[Source], float | None]:
        started = time.perf_counter()
        result = searcher.search(text, limit=10, mode=config.mode, reranker=config.reranker)
        latencies.append((time.perf_counter() - started) * 1000)
        keep[text] = result
        return result.sources, None

    return evaluate(questions, search).as_dict(), latencies


def retrieval() -> None:
    """Both development sets side by side: quality and latency per configuration, then abstention."""
    embedder, sparse = LocalEmbedder(), Bm25Encoder()
    cache = os.environ.get("DOCSBOT_BENCH_CACHE")
    folder = Path(cache) if cache else Path(tempfile.mkdtemp(prefix="bench-rerank-"))
    mpnet = load_local_reranker(cache_file=folder / "rerank-vectors.sqlite")
    embedding_seconds = 0.0
    if mpnet is None:
        console.print("[red]the mpnet reranker is not installed (scripts/bootstrap.sh); rerank rows are skipped[/]")
    configs = [Config("BM25", "sparse"), Config("dense (MiniLM)", "dense"), Config("hybrid (RRF)", "hybrid")]
    if mpnet is not None:
        configs.append(Config("hybrid + mpnet rerank (RRF, top 30)", "hybrid", mpnet))
        configs += [
            Config("dense (mpnet as first stage)", "dense", first_stage="mpnet"),
            Config("hybrid (mpnet + BM25)", "hybrid", first_stage="mpnet"),
            Config("hybrid (mpnet + BM25) + mpnet rerank", "hybrid", mpnet, first_stage="mpnet"),
        ]
    policy = AbstainPolicy()
    metrics: dict[tuple[str, str], tuple[dict[str, Any], list[float]]] = {}
    shipped: dict[str, dict[str, SearchResult]] = {}
    questions_of = {name: load_questions(CORPORA / name / "questions.jsonl") for name in question_sets()}
    off_topic: dict[str, list[SearchResult]] = {}  # the other sets' questions asked of this set's docs
    costs: dict[str, str] = {}
    for name in question_sets():
        root = CORPORA / name
        questions = questions_of[name]
        index, costs[name] = _open_index(name, root, embedder, sparse, mpnet)
        searcher = Searcher(index, embedder, sparse)
        searcher.search("warm up", limit=10, reranker=mpnet)  # model loading is not a per-query cost
        searchers = {"MiniLM": searcher}
        if mpnet is not None:
            searchers["mpnet"], costs[f"{name} (mpnet first stage)"] = _mpnet_first_stage(name, root, sparse, mpnet)
        for config in configs:
            keep: dict[str, SearchResult] = {}
            started = time.perf_counter()
            metrics[(name, config.label)] = _run(searchers[config.first_stage], questions, config, keep)
            if config.reranker is mpnet and config.first_stage == "MiniLM":
                embedding_seconds += time.perf_counter() - started
            if config.reranker is mpnet and config.first_stage == "MiniLM":
                shipped[name] = keep
        others = [q.question for other in questions_of if other != name for q in questions_of[other]]
        off_topic[name] = [searcher.search(q, limit=10, reranker=mpnet) for q in others]
        for each in searchers.values():
            each.index.close()

    table = Table(title="Retrieval on the development sets (page level unless marked; latency per query, warm)")
    table.add_column("configuration")
    for name in question_sets():
        short = name.removesuffix("-docs")
        for column in ("page hit@1", "page hit@5", "section hit@5", "MRR@10", "nDCG@10", "p50 ms", "p95 ms"):
            table.add_column(f"{short} {column}", justify="right")
    for config in configs:
        cells: list[str] = []
        for name in question_sets():
            data, latencies = metrics[(name, config.label)]
            cells += [
                f"{data['hit@1']:.3f}",
                f"{data['hit@5']:.3f}",
                f"{data['section']['hit@5']:.3f}",
                f"{data['mrr@10']:.3f}",
                f"{data['ndcg@10']:.3f}",
                f"{statistics.median(latencies):.0f}",
                f"{_percentile(latencies, 0.95):.0f}",
            ]
        label = config.label + (
            " (shipped)"
            if (config.reranker is mpnet and config.first_stage == "MiniLM")
            or (mpnet is None and config.mode == "hybrid")
            else ""
        )
        table.add_row(label, *cells)
    console.print(table)
    for name, cost in costs.items():
        console.print(f"indexing {name}: {cost}")
    if isinstance(mpnet, SimilarityReranker):
        embedded = mpnet.sections_embedded
        console.print(
            f"reranker: {embedded} section(s) embedded during the reranked runs (the rest read from "
            f"{folder / 'rerank-vectors.sqlite'}); reranked runs took {embedding_seconds:.0f} s in all"
        )

    abstention = Table(title=f"'Not in the docs' with one setting on every set: {policy.describe()}")
    columns = ("answerable refused", "unanswerable refused", "grounded score AUC", "keyword score AUC")
    for column in ("set", *columns, "known share AUC", "similarity AUC", "off-topic refused"):
        abstention.add_column(column, justify="right")
    for name in question_sets():
        if name in shipped:
            refused = sum(1 for r in off_topic[name] if not policy.covered(r))
            share = (
                f"{refused} of {len(off_topic[name])} ({refused / len(off_topic[name]):.0%})"
                if off_topic[name]
                else "-"
            )
            abstention.add_row(name, *_abstention_row(policy, questions_of[name], shipped[name]), share)
    console.print(abstention)
    _bm25_variants()
    if mpnet is not None:
        _latency_breakdown(embedder, sparse, mpnet)
        _ingest_warm_cost(mpnet)
    _junk_page()


def _latency_breakdown(embedder: LocalEmbedder, sparse: Bm25Encoder, reranker: SimilarityReranker) -> None:
    """p50 ms per question of each step of a reranked search, alone (the profile's answer in one table)."""
    table = Table(title="Where a reranked search's time goes (p50 ms per question, each step alone, warm)")
    for column in ("set", "MiniLM query", "BM25 query", "index (hybrid)", "mpnet query", "rerank (cached)", "search"):
        table.add_column(column, justify="right")
    for name in question_sets():
        root = CORPORA / name
        questions = [q.question for q in load_questions(root / "questions.jsonl")]
        index, _ = _open_index(name, root, embedder, sparse)
        searcher = Searcher(index, embedder, sparse, reranker=reranker)
        steps: dict[str, list[float]] = {k: [] for k in ("minilm", "bm25", "index", "mpnet", "rerank", "search")}
        for question in questions:
            started = time.perf_counter()
            dense = embedder.embed_query(question)
            steps["minilm"].append(_ms_since(started))
            started = time.perf_counter()
            keywords = sparse.encode_query(question)
            steps["bm25"].append(_ms_since(started))
            started = time.perf_counter()
            index.query(dense=dense, sparse=keywords, limit=120, prefetch_limit=240)
            steps["index"].append(_ms_since(started))
            started = time.perf_counter()
            reranker.embedder.embed_query(question)
            steps["mpnet"].append(_ms_since(started))
            candidates = searcher.search(question, limit=30, reranker=NoReranker()).sources
            started = time.perf_counter()
            reranker.rerank(question, candidates)
            steps["rerank"].append(_ms_since(started))
            started = time.perf_counter()
            searcher.search(question, limit=10)
            steps["search"].append(_ms_since(started))
        index.close()
        keys = ("minilm", "bm25", "index", "mpnet", "rerank", "search")
        table.add_row(name, *(f"{statistics.median(steps[k]):.1f}" for k in keys))
    console.print(table)


class _ReusedVectors:
    """mpnet as a first-stage embedder whose chunk vectors come from the reranker's cache (the ingest filled it:
    the same model reading the same text), so measuring mpnet as the first stage costs no second embedding."""

    name = "local:all-mpnet-base-v2"
    dimensions = 768

    def __init__(self, reranker: SimilarityReranker) -> None:
        self.reranker = reranker
        self.stats = EmbeddingStats()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        sections = [chunk_section_text(t) for t in texts]
        self.reranker.warm(sections)  # only what the cache lacks is embedded
        return [self.reranker.cache.get(VectorCache.key(t)) or [] for t in sections]

    def embed_query(self, text: str) -> list[float]:
        return self.reranker.embedder.embed_query(text)


def _mpnet_first_stage(
    name: str, root: Path, sparse: Bm25Encoder, reranker: SimilarityReranker
) -> tuple[Searcher, str]:
    """A throw-away index of the dev set with mpnet as the dense model (vectors from the reranker's cache)."""
    source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=root, url_map=root / "urls.tsv")
    index = EdgeIndex(Path(tempfile.mkdtemp(prefix=f"bench-mpnet-{name}-")), "docs")
    embedded = reranker.sections_embedded
    started = time.perf_counter()
    summary = ingest_folder(index, _ReusedVectors(reranker), sparse, source).summary
    seconds = time.perf_counter() - started
    cost = f"{summary.chunks} chunks in {seconds:.0f} s (vectors reused from the reranker's cache; "
    cost += f"{reranker.sections_embedded - embedded} embedded now)"
    searcher = Searcher(index, _ReusedVectors(reranker), sparse)
    searcher.search("warm up", limit=10)
    return searcher, cost


def _bm25_variants() -> None:
    """BM25 alone with the heading line counted once (shipped) and twice, on both sets (no dense model needed)."""
    table = Table(title="BM25 alone: the heading line weighted (page level unless marked)")
    table.add_column("BM25")
    for name in question_sets():
        for column in ("page hit@5", "section hit@5", "MRR@10", "nDCG@10"):
            table.add_column(f"{name.removesuffix('-docs')} {column}", justify="right")
    for label, encoder in (
        ("heading counted once (shipped)", Bm25Encoder()),
        ("heading counted twice", Bm25Encoder(heading_weight=2)),
    ):
        cells: list[str] = []
        for name in question_sets():
            root = CORPORA / name
            source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=root, url_map=root / "urls.tsv")
            index = EdgeIndex(Path(tempfile.mkdtemp(prefix=f"bench-bm25-{name}-")), "docs")
            ingest_folder(index, HashingEmbedder(), encoder, source)  # the dense vectors are not used here
            searcher = Searcher(index, HashingEmbedder(), encoder)

            def search(question: str, searcher: Searcher = searcher) -> tuple[list[Source], float | None]:
                return searcher.search(question, limit=10, mode="sparse").sources, None

            data = evaluate(load_questions(root / "questions.jsonl"), search).as_dict()
            index.close()
            cells += [
                f"{data['hit@5']:.3f}",
                f"{data['section']['hit@5']:.3f}",
                f"{data['mrr@10']:.3f}",
                f"{data['ndcg@10']:.3f}",
            ]
        table.add_row(label, *cells)
    console.print(table)


def _ms_since(started: float) -> float:
    return (time.perf_counter() - started) * 1000


def _ingest_warm_cost(reranker: SimilarityReranker, sample: int = 64) -> None:
    """Seconds per 1,000 chunks that computing the reranker's vectors at ingest adds (a sample, uncached)."""
    root = CORPORA / question_sets()[0]
    texts = [
        f"bench sample {i}\n\n{path.read_text(encoding='utf-8')[:1500]}"
        for i, path in enumerate(sorted(root.rglob("*.md"))[:sample])
    ]
    fresh = SimilarityReranker(reranker.embedder)  # an empty in-memory cache: every text is embedded
    started = time.perf_counter()
    fresh.warm(texts)
    seconds = time.perf_counter() - started
    console.print(
        f"reranker vectors at ingest: {len(texts)} chunk-sized texts in {seconds:.1f} s = "
        f"{seconds / len(texts) * 1000:.0f} s per 1,000 chunks (mpnet, batches of 32, all threads)"
    )


def _junk_page() -> None:
    """The BM25 per-page work bound: a giant page of mixed-case junk, chunked and encoded."""
    megabytes = float(os.environ.get("BENCH_JUNK_MB", "5"))
    rng = random.Random(15)
    words: list[str] = []
    size = 0
    while size < megabytes * 1_000_000:
        word = "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(3, 14)))
        words.append(word)
        size += len(word) + 1
    page = Page(url="https://bench.example/junk", title="Junk", markdown=" ".join(words), source_kind="bench")
    started = time.perf_counter()
    chunks = chunk_page(page)
    chunked = time.perf_counter() - started
    vectors = Bm25Encoder().encode_documents([chunk.text for chunk in chunks])
    encoded = time.perf_counter() - started - chunked
    terms = sum(len(v.indices) for v in vectors)
    console.print(
        f"BM25 work bound: a {megabytes:g} MB mixed-case junk page: {len(chunks)} chunks in {chunked:.0f} s, "
        f"BM25 {encoded:.0f} s ({terms:,} distinct terms over its chunks; at most "
        f"{MAX_TERMS_PER_DOCUMENT:,} counted per chunk)"
    )


def _abstention_row(policy: AbstainPolicy, questions: list[Question], results: dict[str, SearchResult]) -> list[str]:
    """Refused answerable, refused unanswerable, and each signal's ROC AUC (answerable above unanswerable)."""
    answerable = [results[q.question] for q in questions if q.answerable]
    unanswerable = [results[q.question] for q in questions if not q.answerable]

    def refused(group: list[SearchResult]) -> str:
        n = sum(1 for r in group if not policy.covered(r))
        return f"{n} of {len(group)} ({n / len(group):.0%})"

    def auc(signal: Callable[[SearchResult], float | None]) -> str:
        pos = [v for r in answerable if (v := signal(r)) is not None]
        neg = [v for r in unanswerable if (v := signal(r)) is not None]
        return str(_auc(pos, neg))

    return [
        refused(answerable),
        refused(unanswerable),
        auc(policy.signal),  # the signal the product decides on
        auc(lambda r: r.keyword_score),
        auc(lambda r: r.known_share),
        auc(lambda r: r.rerank_similarity),
    ]


PARTS: dict[str, Callable[[], None]] = {"retrieval": retrieval}
