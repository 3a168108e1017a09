"""The dev-set figures the quality gate checks, measured the way the test command runs (no reranker).

Each development corpus (../shared/corpora/{redux,ionic}-docs) is indexed into the embedded index with the
hashing stand-in embedder and BM25 (the test suite's configuration: DOCSBOT_RERANKER=none, no model
downloads), then every question goes through the product's search and its "not in the docs" policy
(`docsbot.index.eval.product_search`, as `docsbot eval` does). Regenerate the recorded baseline with
`PYTHONPATH=shared:. python -m tests.quality.measure > tests/quality/baseline.json` after a deliberate change.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path

from docsbot.answer.abstain import AbstainPolicy
from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import HashingEmbedder
from docsbot.index.eval import Decision, evaluate, load_questions, product_search
from docsbot.index.qdrant_edge import EdgeIndex
from docsbot.index.search import Searcher, SearchResult
from docsbot.refresh.pipeline import ingest_folder
from docsbot.settings.config import MarkdownFolderSource

DEV_SETS = ("redux-docs", "ionic-docs")
# Figures the gate compares (higher is better for every one).
FIGURES = ("page_hit@5", "section_hit@5", "mrr@10", "unanswerable_refused_share", "answerable_answered_share")


def measure(corpus: Path, workdir: Path) -> dict[str, float]:
    """The gate's figures for one corpus folder (with questions.jsonl and urls.tsv)."""
    index = EdgeIndex(workdir, "docs")
    embedder, sparse = HashingEmbedder(), Bm25Encoder()
    source = MarkdownFolderSource(kind="markdown_folder", name="docs", path=corpus, url_map=corpus / "urls.tsv")
    try:
        ingest_folder(index, embedder, sparse, source)
        searcher = Searcher(index, embedder, sparse)
        policy = AbstainPolicy()

        def search(question: str, limit: int) -> SearchResult:
            return searcher.search(question, limit=limit)

        def decide(result: SearchResult) -> Decision:
            return Decision(signal=policy.signal(result), answered=policy.covered(result))

        data = evaluate(load_questions(corpus / "questions.jsonl"), product_search(search, decide)).as_dict()
    finally:
        index.close()
    abstention = data["abstention"]
    return {
        "page_hit@5": data["hit@5"],
        "section_hit@5": data["section"]["hit@5"],
        "mrr@10": data["mrr@10"],
        "unanswerable_refused_share": abstention["unanswerable_refused_share"],
        "answerable_answered_share": round(1 - abstention["answerable_refused_share"], 4),
    }


if __name__ == "__main__":
    from tests.harness.corpora import CORPORA

    with tempfile.TemporaryDirectory() as folder:
        figures = {name: measure(CORPORA / name, Path(folder) / name) for name in DEV_SETS}
    recorded = json.loads((Path(__file__).with_name("baseline.json")).read_text(encoding="utf-8"))
    print(json.dumps({**recorded, "sets": figures}, indent=2))
