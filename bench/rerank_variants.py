"""`bench rerank-variants`: the choices of the second stage measured on both development sets, side by side.

With the shipped first stage (MiniLM + BM25 hybrid, indexes as `bench retrieval` builds them, sharing its
`DOCSBOT_BENCH_CACHE`) and the mpnet reranker over the top 30 sections, it varies one thing at a time:
- the similarity order's weight in the fusion (0.7, 1.0 = equal-weight RRF, 1.5 shipped, 2.0);
- what the reranker reads of a section: its text as indexed (links by their text, shipped) or as stored
  (links with their destinations).
Page hit@1 / @5, section hit@5, MRR@10 and nDCG@10 per set. Section vectors not cached yet are embedded (and
kept) on the way, so a first run costs minutes more.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Callable
from pathlib import Path

from rich.table import Table

from bench.knowledge_base import CORPORA, console
from bench.retrieval import Config, _open_index, _run, question_sets
from docsbot.documents.model import Source
from docsbot.index import rerank
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import LocalEmbedder
from docsbot.index.eval import load_questions
from docsbot.index.mpnet import load_local_reranker
from docsbot.index.search import Searcher

WEIGHTS = (0.7, 1.0, rerank.SIMILARITY_WEIGHT, 2.0)


def _linked_section_text(source: Source) -> str:
    """`rerank.section_text` with the links' destinations kept (the stored text)."""
    path = [source.title, *[h for h in source.heading_path if h != source.title]]
    return " > ".join(p for p in path if p) + "\n\n" + source.text


def rerank_variants() -> None:
    """One table: each second-stage variant's figures on both development sets."""
    embedder, sparse = LocalEmbedder(), Bm25Encoder()
    cache = os.environ.get("DOCSBOT_BENCH_CACHE")
    folder = Path(cache) if cache else Path(tempfile.mkdtemp(prefix="bench-rerank-"))
    reranker = load_local_reranker(cache_file=folder / "rerank-vectors.sqlite")
    if reranker is None:
        console.print("[red]the mpnet reranker is not installed (scripts/bootstrap.sh); nothing to vary[/]")
        return
    shipped_text = rerank.section_text
    variants: list[tuple[str, float, Callable[[Source], str]]] = [
        (f"weight {w}" + (" (shipped)" if w == rerank.SIMILARITY_WEIGHT else ""), w, shipped_text) for w in WEIGHTS
    ]
    variants.append(
        (
            f"weight {rerank.SIMILARITY_WEIGHT}, reading links' destinations",
            rerank.SIMILARITY_WEIGHT,
            _linked_section_text,
        )
    )
    rows: dict[str, list[str]] = {label: [] for label, _, _ in variants}
    for name in question_sets():
        root = CORPORA / name
        questions = load_questions(root / "questions.jsonl")
        index, _ = _open_index(name, root, embedder, sparse, reranker)
        searcher = Searcher(index, embedder, sparse)
        try:
            for label, weight, text in variants:
                reranker.weight = weight
                setattr(rerank, "section_text", text)  # noqa: B010 (what `SimilarityReranker.similarities` reads)
                data, _ = _run(searcher, questions, Config(label, "hybrid", reranker), {})
                rows[label] += [
                    f"{data[k]:.3f}" if k != "section" else f"{data['section']['hit@5']:.3f}"
                    for k in ("hit@1", "hit@5", "section", "mrr@10", "ndcg@10")
                ]
        finally:
            setattr(rerank, "section_text", shipped_text)  # noqa: B010
            reranker.weight = rerank.SIMILARITY_WEIGHT
            index.close()
    table = Table(
        title="The second stage's variants (hybrid top 30, then mpnet fused by weighted RRF; page level unless marked)"
    )
    table.add_column("variant")
    for name in question_sets():
        for column in ("page hit@1", "page hit@5", "section hit@5", "MRR@10", "nDCG@10"):
            table.add_column(f"{name.removesuffix('-docs')} {column}", justify="right")
    for label, cells in rows.items():
        table.add_row(label, *cells)
    console.print(table)


PARTS: dict[str, Callable[[], None]] = {"rerank-variants": rerank_variants}
