"""Knowing when not to answer: the best retrieval scores must clear calibrated thresholds.

The keyword (BM25) score of the best match separates answerable from unanswerable questions far better
than the dense cosine (ROC AUC 0.94 vs 0.65 on the Redux development questions; bench/abstention.py
measures it). BM25 scores grow with the corpus (IDF), so the score is divided by ln(1 + chunks) first
(`SearchResult.keyword_score`). A question whose best keyword match scores below `min_keyword_score` is one
the docs most likely do not cover: the bot says so and shows the closest sections instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

from docsbot.index.search import SearchResult

# Calibrated on redux-docs/questions.jsonl (bench/abstention.py): the lowest answerable question scored
# 1.61, the unanswerable ones 0.35-2.36. 1.3 keeps every answerable question with a margin and stops the
# unanswerable questions whose key terms the docs lack. Collections can override it.
DEFAULT_MIN_KEYWORD_SCORE = 1.3


@dataclass(frozen=True)
class AbstainPolicy:
    min_keyword_score: float = DEFAULT_MIN_KEYWORD_SCORE
    min_dense_score: float | None = None  # only meaningful for one embedder; off by default

    def covered(self, result: SearchResult) -> bool:
        """Whether the docs plausibly answer the searched question."""
        if not result.sources:
            return False
        keyword = result.keyword_score
        if keyword is not None and keyword < self.min_keyword_score:
            return False
        if (
            self.min_dense_score is not None
            and result.best_dense_score is not None
            and result.best_dense_score < self.min_dense_score
        ):
            return False
        return result.best_sparse_score is not None or result.best_dense_score is not None
