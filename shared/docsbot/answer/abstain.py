"""Knowing when not to answer: the best retrieval scores must clear thresholds that hold across corpora.

The signal is the keyword score: the best BM25 score divided by ln(1 + chunks) (`SearchResult.keyword_score`),
because BM25 scores grow with the corpus (IDF). Questions whose key terms the docs lack score low. Measured on
the Redux and Ionic development sets together (docs/decisions/0009-reranking-and-abstention.md): ROC AUC 0.94
and 0.95, while the dense cosine (0.65 / 0.73) and the reranker's best similarity (0.51 / 0.74) separate
answerable from unanswerable questions far worse, so they are off by default; a collection can still set
`min_similarity` (used only when the reranker runs) or `min_dense_score`. A question is answered only when
every configured signal clears its threshold; otherwise the bot says the docs do not cover it and shows the
closest sections instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

from docsbot.index.search import SearchResult

# One setting for every corpus measured (docs/decisions/0009). Lowest answerable: 1.61 (Redux), 2.16 (Ionic),
# 1.41 (the 12-page demo sample: "can I keep functions or promises in the store state?"); unanswerable:
# 0.35-2.36 (Redux), 1.48-3.56 (Ionic). 1.3 refuses no answerable question on any of the three and 3 of 5 / 0 of
# 8 unanswerable ones; 1.5 would refuse 1 of 8 on Ionic but an answerable demo question. Meeting "≥ 60 %
# unanswerable refused" on Ionic would need ≥ 1.93 (2 of 46 answerable Redux refused): this score alone does
# not transfer across corpora, which is the open part of the abstention work.
DEFAULT_MIN_KEYWORD_SCORE = 1.3
DEFAULT_MIN_SIMILARITY: float | None = None


@dataclass(frozen=True)
class AbstainPolicy:
    min_keyword_score: float = DEFAULT_MIN_KEYWORD_SCORE
    min_dense_score: float | None = None  # only meaningful for one embedder; off by default
    min_similarity: float | None = DEFAULT_MIN_SIMILARITY  # the reranker's best cosine; None: not used

    def covered(self, result: SearchResult) -> bool:
        """Whether the docs plausibly answer the searched question."""
        if not result.sources:
            return False
        keyword = result.keyword_score
        if keyword is not None and keyword < self.min_keyword_score:
            return False
        if (
            self.min_similarity is not None
            and result.rerank_similarity is not None
            and result.rerank_similarity < self.min_similarity
        ):
            return False
        if (
            self.min_dense_score is not None
            and result.best_dense_score is not None
            and result.best_dense_score < self.min_dense_score
        ):
            return False
        return result.best_sparse_score is not None or result.best_dense_score is not None

    def describe(self) -> str:
        similarity = "off" if self.min_similarity is None else f"{self.min_similarity:g}"
        return f"keyword score ≥ {self.min_keyword_score:g}, reranker similarity ≥ {similarity}"
