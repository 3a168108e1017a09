"""Knowing when not to answer: one "not in the docs" rule that holds, unchanged, across corpora.

The signal is the *grounded score*: the keyword score (the best BM25 score divided by ln(1 + chunks),
`SearchResult.keyword_score`, because BM25 scores grow with the corpus) times the *query coverage*, the share
of the question's search terms (the BM25 tokeniser's stemmed, stop-word-free terms) found in the title,
heading path or text of the sections the answer is given (the top `COVERAGE_SOURCES`), times the *known
share*, the share of the question's terms that occur anywhere in the collection (`SearchResult.known_share`,
index/term_stats.py). A question the docs do not cover usually names something they never mention
("flutter", "stripe", "pinia"): its best match is about the rest of the question, so coverage drops, and the
word is absent from the whole collection, so the known share drops too; a word merely missing from the top
sections costs only coverage. All three factors need no embedder, so the rule is the same for the offline
(MiniLM / BM25, with or without the reranker) and the production (OpenAI embeddings) configurations; coverage
depends on which sections come first, so it is measured with each (docs/decisions/0012-grounded-abstention.md).

Measured with ONE threshold (1.3, unchanged since the keyword score alone) on three corpora, MiniLM hybrid and
the hashing stand-in alike (refused answerable / refused unanswerable): Redux 1 of 46 / 3 of 5, Ionic 1 of 63
/ 6 of 8, the 12-page demo sample 0 of 7 / 4 of 5; ROC AUC (MiniLM) 0.91 / 0.97 / 0.97. Without the known
share: 3 of 5 / 4 of 8 / 3-4 of 5 with the same answerable questions answered. When the reranker runs, its best
cosine must also reach `min_similarity` (0.3 by default: a floor for questions about something else entirely,
which a large collection's common words can otherwise ground). A collection may set `min_keyword_score`,
`min_dense_score` or its own `min_similarity` as extra gates: a question is answered only when every configured
signal clears its threshold; otherwise the bot says the docs do not cover it and shows the closest sections
instead of guessing.
"""

from __future__ import annotations

from dataclasses import dataclass

from docsbot.index.bm25 import tokenize
from docsbot.index.search import SearchResult

# The answerer's own number of sources (answer/pipeline.py, AnswerOptions.max_sources): coverage is judged on
# what the answer would be built from.
COVERAGE_SOURCES = 6
# Bounded work per question: a giant section's tail adds nothing to whether the question's terms are there.
COVERAGE_TEXT_CHARS = 20_000
# One setting for every corpus measured (docs/decisions/0012, round 2). 1.3 keeps the value the keyword score
# used, chosen before this signal and not refitted for it.
DEFAULT_MIN_GROUNDED_SCORE = 1.3
# A floor on the reranker's best cosine (all-mpnet-base-v2), applied only when the reranker runs: below it no
# candidate section is about the question at all. Set low, as "unrelated" rather than "not answered": on the
# development sets every answerable question's best similarity is 0.38 or more, while questions of the other set
# asked of these docs (off-topic) have a median of 0.25 (Redux docs) and 0.34 (Ionic docs); docs/decisions/0020.
DEFAULT_MIN_SIMILARITY: float | None = 0.3


def query_coverage(result: SearchResult, sources: int = COVERAGE_SOURCES) -> float | None:
    """Share of the searched text's distinct terms found in the top `sources` sections; None without terms."""
    terms = set(tokenize(result.query))
    if not terms:
        return None
    found: set[str] = set()
    for source in result.sources[:sources]:
        text = " ".join((*source.heading_path, source.text[:COVERAGE_TEXT_CHARS]))
        found.update(tokenize(text))
        if terms <= found:
            break
    return len(terms & found) / len(terms)


def grounded_score(result: SearchResult) -> float | None:
    """Keyword score × query coverage × known share: the signal the product abstains on (None: no keywords).

    The known share (index/term_stats.py) is 1 when not measured (a dense-only search, a hand-built result).
    """
    keyword = result.keyword_score
    coverage = query_coverage(result)
    if keyword is None or coverage is None:
        return None
    known = 1.0 if result.known_share is None else result.known_share
    return keyword * coverage * known


@dataclass(frozen=True)
class AbstainPolicy:
    min_grounded_score: float = DEFAULT_MIN_GROUNDED_SCORE
    min_keyword_score: float | None = None  # the keyword score alone, an optional extra gate
    min_dense_score: float | None = None  # only meaningful for one embedder; off by default
    min_similarity: float | None = DEFAULT_MIN_SIMILARITY  # the reranker's best cosine; None: not used

    def signal(self, result: SearchResult) -> float | None:
        """The value this policy mainly decides on (what `docsbot eval` reports the ROC AUC of)."""
        return grounded_score(result)

    def covered(self, result: SearchResult) -> bool:
        """Whether the docs plausibly answer the searched question."""
        if not result.sources:
            return False
        grounded = grounded_score(result)
        if grounded is not None and grounded < self.min_grounded_score:
            return False
        keyword = result.keyword_score
        if self.min_keyword_score is not None and keyword is not None and keyword < self.min_keyword_score:
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
        parts = [f"grounded score (keyword score × query coverage × known share) ≥ {self.min_grounded_score:g}"]
        if self.min_keyword_score is not None:
            parts.append(f"keyword score ≥ {self.min_keyword_score:g}")
        if self.min_similarity is not None:
            parts.append(f"reranker similarity ≥ {self.min_similarity:g}")
        if self.min_dense_score is not None:
            parts.append(f"dense score ≥ {self.min_dense_score:g}")
        return ", ".join(parts)
