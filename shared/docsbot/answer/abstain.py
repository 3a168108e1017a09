"""Knowing when not to answer: the best retrieval scores must clear thresholds that hold on any corpus.

Two signals, both normalised so one setting carries across collections (measured on the Redux and Ionic
development sets together; `bench retrieval` prints the figures, docs/decisions/0009 records them):
- the keyword score: the best BM25 score divided by ln(1 + chunks) (`SearchResult.keyword_score`), because
  BM25 scores grow with the corpus (IDF). Questions whose key terms the docs lack score low;
- the reranker's best query-section cosine (`SearchResult.rerank_similarity`, all-mpnet-base-v2), a
  model-scale similarity that does not depend on the corpus' vocabulary or size; used when present.
A question is answered only when every available signal clears its threshold; otherwise the bot says the
docs do not cover it and shows the closest sections instead of guessing. A collection can override both.
"""

from __future__ import annotations

from dataclasses import dataclass

from docsbot.index.search import SearchResult

# Measured on both development sets at once (docs/decisions/0009-reranking-and-abstention.md).
DEFAULT_MIN_KEYWORD_SCORE = 1.3
DEFAULT_MIN_SIMILARITY = 0.0


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
