"""Answering benchmarks: the abstention calibration on the development questions.

`python -m bench abstention` indexes the Redux corpus (local MiniLM + BM25, embedded index), searches
every development question as the bot does and prints, for answerable and unanswerable questions, the
signals the "not in the docs" decision could use, their separation (ROC AUC) and what the configured
threshold does.
"""

from __future__ import annotations

import statistics
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from docsbot.answer.abstain import AbstainPolicy
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import LocalEmbedder
from docsbot.index.eval import load_questions
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher, SearchResult
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.config import MarkdownFolderSource

REDUX = Path(__file__).resolve().parents[2] / "shared" / "corpora" / "redux-docs"
console = Console(width=None if sys.stdout.isatty() else 200)


def auc(positives: list[float], negatives: list[float]) -> float:
    """The chance a random positive scores above a random negative (ties count half)."""
    pairs = [(p > n) + 0.5 * (p == n) for p in positives for n in negatives]
    return sum(pairs) / len(pairs) if pairs else float("nan")


def abstention() -> None:
    """Separation of answerable and unanswerable development questions, and the threshold's effect."""
    questions = load_questions(REDUX / "questions.jsonl")
    with tempfile.TemporaryDirectory() as tmp:
        index = EdgeIndex(Path(tmp), "redux")
        embedder, sparse = LocalEmbedder(), Bm25Encoder()
        source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=REDUX, url_map=REDUX / "urls.tsv")
        ingest_folder(index, embedder, sparse, source)
        searcher = Searcher(index, embedder, sparse)
        rows = [(q, searcher.search(q.question, limit=6)) for q in questions]
        index.close()
    signals: dict[str, Callable[[SearchResult], float | None]] = {
        "keyword score (BM25 / ln(1+chunks))": lambda r: r.keyword_score,
        "raw BM25 score": lambda r: r.best_sparse_score,
        "dense cosine (MiniLM)": lambda r: r.best_dense_score,
    }
    table = Table(title=f"abstention signals on redux-docs ({len(questions)} questions)")
    for column in ("signal", "answerable min / median", "unanswerable values", "ROC AUC"):
        table.add_column(column, justify="right" if column != "signal" else "left")
    for name, signal in signals.items():
        values = [(q.answerable, signal(r)) for q, r in rows]
        yes = [v for ok, v in values if ok and v is not None]
        no = [v for ok, v in values if not ok and v is not None]
        table.add_row(
            name,
            f"{min(yes):.2f} / {statistics.median(yes):.2f}",
            ", ".join(f"{v:.2f}" for v in sorted(no)),
            f"{auc(yes, no):.3f}",
        )
    console.print(table)
    policy = AbstainPolicy()
    refused = [q for q, r in rows if not policy.covered(r)]
    wrongly = [q.id for q in refused if q.answerable]
    caught = [q.id for q in refused if not q.answerable]
    unanswerable = sum(1 for q in questions if not q.answerable)
    console.print(
        f"{policy.describe()}: answerable questions refused {len(wrongly)} {wrongly}; "
        f"unanswerable refused {len(caught)} of {unanswerable} {caught}"
    )


PARTS = {"abstention": abstention}
