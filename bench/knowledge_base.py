"""Knowledge-base benchmarks: retrieval quality, ingest throughput, search latency.

Run all: `scripts/bench.sh` (or `.venv/bin/python -m bench.knowledge_base [retrieval|ingest|latency]`).
Every part prints a table. Nothing leaves the machine: the OpenAI batching figure uses the real
`openai` client against the loopback fake server of the test suite.
"""

from __future__ import annotations

import argparse
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from qdrant_client import QdrantClient
from rich.console import Console
from rich.table import Table

from docsbot.documents.model import Page
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import Embedder, HashingEmbedder, LocalEmbedder, OpenAIEmbedder
from docsbot.index.eval import evaluate, load_questions
from docsbot.index.ports import VectorIndex
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.qdrant_server import QdrantIndex
from docsbot.index.search import Searcher, SearchMode
from docsbot.index.sync import sync_pages
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.config import MarkdownFolderSource
from docsbot.sources.markdown_folder import load_markdown_folder, read_url_map

CORPORA = Path(__file__).resolve().parents[2] / "shared" / "corpora"
REDUX = CORPORA / "redux-docs"
console = Console(width=None if sys.stdout.isatty() else 200)


def redux_source() -> MarkdownFolderSource:
    return MarkdownFolderSource(kind="markdown_folder", name="docs", path=REDUX, url_map=REDUX / "urls.tsv")


def retrieval() -> None:
    """Page- and section-level retrieval quality on the Redux development questions, per mode."""
    questions = load_questions(REDUX / "questions.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        client = QdrantClient(path=tmp)
        index = QdrantIndex(client, "redux")
        embedder = LocalEmbedder()
        sparse = Bm25Encoder()
        started = time.perf_counter()
        summary = ingest_folder(index, embedder, sparse, redux_source()).summary
        console.print(
            f"indexed {summary.chunks} chunks of {summary.pages} pages in {time.perf_counter() - started:.1f} s"
        )
        searcher = Searcher(index, embedder, sparse)
        table = Table(title=f"Retrieval on redux-docs/questions.jsonl ({len(questions)} questions, local MiniLM)")
        metrics = ["recall@1", "recall@5", "recall@10", "hit@5", "mrr@10", "ndcg@10"]
        table.add_column("mode")
        for metric in metrics:
            table.add_column(f"page {metric}", justify="right")
        for metric in ("recall@5", "hit@5", "mrr@10"):
            table.add_column(f"section {metric}", justify="right")
        table.add_column("AUC", justify="right")
        modes: list[tuple[str, SearchMode]] = [
            ("BM25 only", "sparse"),
            ("dense only", "dense"),
            ("hybrid", "hybrid"),
        ]
        for label, mode in modes:

            def run(q: str, mode: SearchMode = mode) -> tuple[list, float | None]:  # type: ignore[type-arg]
                result = searcher.search(q, limit=20, mode=mode)
                top = result.best_dense_score
                if top is None and result.sources:
                    top = result.sources[0].score
                return result.sources, top

            data = evaluate(questions, run).as_dict()
            section = data["section"]
            table.add_row(
                label,
                *[f"{data[m]:.3f}" for m in metrics],
                *[f"{section[m]:.3f}" for m in ("recall@5", "hit@5", "mrr@10")],
                str(data["abstention"]["auc"]),
            )
        client.close()
    console.print(table)


def _synthetic_pages(n_pages: int, sections: int, seed: int = 7) -> list[Page]:
    rng = random.Random(seed)
    words = (REDUX / "faq" / "Reducers.md").read_text(encoding="utf-8").split()
    pages = []
    for p in range(n_pages):
        body = []
        for s in range(sections):
            body.append(f"## Section {s} {{#section-{s}}}\n\n" + " ".join(rng.choices(words, k=220)))
        pages.append(
            Page(
                url=f"https://bench.local/p{p}",
                title=f"Page {p}",
                markdown="\n\n".join(body),
                source_kind="bench",
            )
        )
    return pages


def ingest() -> None:
    """Ingest throughput with a deterministic stand-in embedder; OpenAI requests per 1,000 chunks."""
    table = Table(title="Ingest (embedded Qdrant, path mode)")
    for column in ("run", "pages", "chunks", "embedded", "seconds", "chunks/s", "embedding requests"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        client = QdrantClient(path=tmp)
        index = QdrantIndex(client, "redux")
        embedder, sparse = HashingEmbedder(384), Bm25Encoder()
        for run in ("first ingest, redux-docs", "re-ingest, unchanged"):
            started = time.perf_counter()
            s = ingest_folder(index, embedder, sparse, redux_source()).summary
            seconds = time.perf_counter() - started
            table.add_row(
                run,
                str(s.pages),
                str(s.chunks),
                str(s.chunks_embedded),
                f"{seconds:.2f}",
                f"{s.chunks / seconds:.0f}",
                str(s.embedding_requests),
            )
        client.close()
    console.print(table)

    # Requests per 1,000 chunks with the real OpenAI client's batching, against the loopback fake.
    import openai

    from tests.harness.fakes.openai_server import FakeOpenAIServer

    loaded = load_markdown_folder(REDUX, url_map=read_url_map(REDUX / "urls.tsv"))
    with FakeOpenAIServer() as server, tempfile.TemporaryDirectory() as tmp:
        client_oa = openai.OpenAI(base_url=server.base_url, api_key=server.api_key, max_retries=2, timeout=30)
        embedder_oa = OpenAIEmbedder(client_oa, model="text-embedding-3-small", dimensions=256)
        qclient = QdrantClient(path=tmp)
        summary = sync_pages(
            QdrantIndex(qclient, "oa"), embedder_oa, Bm25Encoder(), loaded.pages, source="docs", complete=True
        )
        qclient.close()
    per_k = summary.embedding_requests / summary.chunks * 1000
    console.print(
        f"OpenAI embedder: {summary.chunks} chunks, {summary.embedding_requests} requests, "
        f"{summary.embedding_tokens} tokens → {per_k:.1f} requests per 1,000 chunks"
    )


def _percentiles(samples: list[float]) -> tuple[float, float]:
    ordered = sorted(samples)
    return statistics.median(ordered), ordered[int(0.95 * (len(ordered) - 1))]


def latency(n_chunks: int = 50_000, queries: int = 50, backend: str = "edge") -> None:
    """Search latency p50/p95 at 50,000 chunks in the embedded default (Qdrant Edge), or qdrant-client path mode."""
    pages = _synthetic_pages(n_chunks // 10, 10)
    questions = [p.markdown.split("\n\n")[1][:120] for p in random.Random(3).sample(pages, queries)]
    embedder: Embedder = HashingEmbedder(384)  # the local model's size; search cost does not depend on semantics
    sparse = Bm25Encoder()
    label = "Qdrant Edge (embedded default)" if backend == "edge" else "qdrant-client path mode"
    table = Table(title=f"Search latency, {label}, {n_chunks:,} chunks, {queries} queries")
    for column in ("mode", "p50 ms", "p95 ms"):
        table.add_column(column, justify="right")
    with tempfile.TemporaryDirectory() as tmp:
        index: VectorIndex = (
            EdgeIndex(Path(tmp), "bench") if backend == "edge" else QdrantIndex(QdrantClient(path=tmp), "bench")
        )
        started = time.perf_counter()
        summary = sync_pages(index, embedder, sparse, pages, source="bench", complete=True)
        index.close()  # Edge optimises its segments on close, as `docsbot ingest` does
        index = EdgeIndex(Path(tmp), "bench") if backend == "edge" else QdrantIndex(QdrantClient(path=tmp), "bench")
        console.print(f"indexed {summary.chunks:,} chunks in {time.perf_counter() - started:.0f} s (incl. close)")
        searcher = Searcher(index, embedder, sparse)
        for mode in ("hybrid", "dense", "sparse"):
            samples = []
            for q in questions:
                t0 = time.perf_counter()
                searcher.search(q, limit=5, mode=mode)
                samples.append((time.perf_counter() - t0) * 1000)
            p50, p95 = _percentiles(samples)
            table.add_row(mode, f"{p50:.1f}", f"{p95:.1f}")
        index.close()
    console.print(table)


def latency_path() -> None:
    """The same latency benchmark on qdrant-client's embedded path mode (slow: minutes)."""
    latency(backend="path")


PARTS: dict[str, Callable[[], None]] = {
    "retrieval-redux": retrieval,
    "ingest": ingest,
    "latency": latency,
    "latency-path": latency_path,
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("parts", nargs="*", help=f"any of {', '.join(PARTS)} (default: all)")
    args = parser.parse_args()
    unknown = [p for p in args.parts if p not in PARTS]
    if unknown:
        parser.error(f"unknown part(s) {unknown}; choose from {', '.join(PARTS)}")
    for name in args.parts or list(PARTS):
        console.rule(name)
        PARTS[name]()


if __name__ == "__main__":
    main()
