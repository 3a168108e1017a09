"""Hybrid search over a docs collection, returning one `Source` per documentation section.

A keyword (hybrid or sparse) search also reports the share of the question's terms the collection mentions at
all (`known_share`, one small keyword query per term), for the "not in the docs" decision.

With a `Reranker` (index/rerank.py), the hybrid stage fetches `candidates` sections (30 by default) and the
reranker reorders them before the best `limit` are returned; a failing reranker leaves the hybrid order. A
reranker that `PreparesQueries` is told the query first, so its query encode overlaps the first stage.

Docs win ties: a community answer (a solved thread, `COMMUNITY_KIND`) never ranks above a documentation section
that is exactly as relevant. Plain dense or keyword scores are compared as they are. Rank fusion (hybrid) cannot
say "as relevant": of two equal results the index puts one first in each list, in an order of its own, and the
fused scores differ (2/60 against 2/61). So when a community answer sits right above a doc in the fused order,
their own meaning and keyword scores are read back (two small queries restricted to the two pages) and the doc
goes first unless the answer beats it on one of them. Before reranking, so the reranker starts from that order
(its own ties keep it). Otherwise the order is the index's: deterministic.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

from docsbot.documents.model import Source
from docsbot.index.bm25 import Bm25Encoder, SparseVector
from docsbot.index.embedders import Embedder
from docsbot.index.ports import Hit, IndexInfo, SearchFilter, VectorIndex
from docsbot.index.rerank import DEFAULT_CANDIDATES, PreparesQueries, Reranker, rerank_safely
from docsbot.index.term_stats import known_share

SearchMode = Literal["hybrid", "dense", "sparse"]
SNIPPET_CHARS = 280
MAX_QUERY_CHARS = 4000  # bounded input: a question longer than this is cut before embedding
TIE_TOLERANCE = 1e-6  # relative: float noise between two equal scores
TIE_CHUNKS = 100  # chunks read back per signal when checking a tie between two pages
T = TypeVar("T")


@dataclass(frozen=True)
class SearchResult:
    query: str
    sources: list[Source]
    best_dense_score: float | None  # cosine similarity of the closest chunk (None in sparse mode)
    best_sparse_score: float | None = None  # BM25 score of the best keyword match (None in dense mode)
    keyword_scale: float = 1.0  # ln(1 + chunks in the collection): BM25 scores grow with it
    rerank_similarity: float | None = None  # the reranker's best query-section similarity, when it has one
    # Share of the query's terms that occur anywhere in the collection (index/term_stats.py); None: not measured.
    known_share: float | None = None

    @property
    def keyword_score(self) -> float | None:
        """The best BM25 score divided by `keyword_scale`: comparable across collections of any size."""
        return None if self.best_sparse_score is None else self.best_sparse_score / self.keyword_scale


def _body(text: str) -> str:
    """A chunk's text without its leading heading-path line."""
    head, _, rest = text.partition("\n\n")
    return rest if rest else head


def _snippet(text: str) -> str:
    flat = " ".join(_body(text).split())
    return flat if len(flat) <= SNIPPET_CHARS else flat[: SNIPPET_CHARS - 1].rstrip() + "…"


def collapse_sections(hits: list[Hit], limit: int) -> list[Source]:
    """Group chunk hits by page section (url, anchor), best first; a section's texts in page order."""
    groups: dict[tuple[str, str], list[Hit]] = {}
    for hit in hits:
        key = (str(hit.payload.get("url", "")), str(hit.payload.get("anchor", "")))
        groups.setdefault(key, []).append(hit)
    sources: list[Source] = []
    for (url, anchor), group in list(groups.items())[:limit]:
        best = group[0]
        ordered = sorted(group, key=lambda h: int(h.payload.get("position", 0)))
        anchors: list[str] = []
        for hit in ordered:
            for a in hit.payload.get("anchors", []) or [anchor]:
                if a not in anchors:
                    anchors.append(str(a))
        sources.append(
            Source(
                title=str(best.payload.get("title", "")),
                heading_path=tuple(best.payload.get("heading_path", [])),
                url=url,
                anchor=anchor,
                snippet=_snippet(str(best.payload.get("text", ""))),
                score=max(h.score for h in group),
                text="\n\n".join(_body(str(h.payload.get("text", ""))) for h in ordered),
                source_kind=str(best.payload.get("source_kind", "")),
                tags=tuple(best.payload.get("tags", [])),
                anchors=tuple(anchors),
            )
        )
    return sources


def docs_win_ties(items: Sequence[T], score: Callable[[T], float], community: Callable[[T], bool]) -> list[T]:
    """`items` best first by `score`, a community answer behind any doc with the same score (stable otherwise)."""
    if not any(community(item) for item in items):
        return list(items)

    return sorted(items, key=lambda item: (-score(item), community(item)))


def _tied(first: float, second: float) -> bool:
    return abs(first - second) <= TIE_TOLERANCE * max(abs(first), abs(second), 1e-12)


class Searcher:
    """Searches one collection with the embedder and sparse encoder it was built with."""

    def __init__(
        self,
        index: VectorIndex,
        embedder: Embedder | None,
        sparse: Bm25Encoder,
        *,
        reranker: Reranker | None = None,
        candidates: int = DEFAULT_CANDIDATES,
    ) -> None:
        self.index = index
        self.embedder = embedder
        self.sparse = sparse
        self.reranker = reranker
        self.candidates = candidates
        self._keyword_scale: float | None = None
        if embedder is not None:
            index.check(IndexInfo(embedder=embedder.name, dimensions=embedder.dimensions, sparse=sparse.name))

    def search(
        self,
        query: str,
        *,
        limit: int = 5,
        mode: SearchMode = "hybrid",
        search_filter: SearchFilter | None = None,
        reranker: Reranker | None = None,
    ) -> SearchResult:
        """The `limit` best sections for `query`, reordered by `reranker` (else the searcher's own) if any."""
        reranker = reranker if reranker is not None else self.reranker
        wanted = max(limit, self.candidates) if reranker is not None else limit
        query = query.strip()[:MAX_QUERY_CHARS]
        if not query:
            return SearchResult(query=query, sources=[], best_dense_score=None)
        if mode != "sparse" and self.embedder is None:
            raise ValueError(f"{mode} search needs an embedder")
        sparse = self.sparse.encode_query(query) if mode != "dense" else None
        if mode == "sparse" and sparse is not None and not sparse.indices:
            return SearchResult(query=query, sources=[], best_dense_score=None)
        if isinstance(reranker, PreparesQueries):
            reranker.prepare(query)  # its query encode runs while the first stage below does
        dense = self.embedder.embed_query(query) if (mode != "sparse" and self.embedder) else None
        if sparse is not None and not sparse.indices:
            sparse = None  # only stop words: dense alone
        # Several chunks may share a section: fetch more hits than sections asked for.
        result = self.index.query(
            dense=dense,
            sparse=sparse,
            limit=wanted * 4,
            prefetch_limit=max(40, wanted * 8),
            search_filter=search_filter,
        )
        sources = collapse_sections(result.hits, wanted)
        if dense is not None and sparse is not None:
            sources = self._fused_ties(sources, dense, sparse, search_filter)
        else:  # one plain score: compared as it is
            sources = docs_win_ties(sources, lambda s: s.score, lambda s: s.community)
        similarity = None
        if reranker is not None:
            ranked = rerank_safely(reranker, query, sources)
            sources, similarity = ranked.sources, ranked.best_similarity
        return SearchResult(
            query=query,
            sources=sources[:limit],
            rerank_similarity=similarity,
            best_dense_score=result.best_dense_score,
            best_sparse_score=result.best_sparse_score,
            keyword_scale=self.keyword_scale(),
            known_share=known_share(self.index, query, search_filter) if sparse is not None else None,
        )

    def _fused_ties(
        self, sources: list[Source], dense: list[float], sparse: SparseVector, search_filter: SearchFilter | None
    ) -> list[Source]:
        """`sources` with each community answer that sits right above an equally relevant doc moved below it."""
        ordered = list(sources)
        for i in range(len(ordered) - 1):
            answer, doc = ordered[i], ordered[i + 1]
            if answer.community and not doc.community and self._no_better(answer, doc, dense, sparse, search_filter):
                ordered[i], ordered[i + 1] = doc, answer
        return ordered

    def _no_better(
        self, answer: Source, doc: Source, dense: list[float], sparse: SparseVector, search_filter: SearchFilter | None
    ) -> bool:
        """Whether `answer` scores no higher than `doc` on meaning and on keywords (their own scores, unfused)."""
        only = SearchFilter(
            source_kinds=search_filter.source_kinds if search_filter else (),
            tags=search_filter.tags if search_filter else (),
            urls=(answer.url, doc.url),
        )
        for vectors in ({"dense": dense, "sparse": None}, {"dense": None, "sparse": sparse}):
            # Enough chunks to reach both sections; a section not reached counts 0 (the index order stays).
            hits = self.index.query(**vectors, limit=TIE_CHUNKS, search_filter=only).hits
            best: dict[tuple[str, str], float] = {}
            for hit in hits:
                key = (str(hit.payload.get("url", "")), str(hit.payload.get("anchor", "")))
                best.setdefault(key, hit.score)  # hits come best first
            answer_score = best.get((answer.url, answer.anchor), 0.0)
            doc_score = best.get((doc.url, doc.anchor), 0.0)
            if answer_score > doc_score and not _tied(answer_score, doc_score):
                return False
        return True

    def keyword_scale(self) -> float:
        """ln(1 + chunk count), counted once per searcher (IDF, hence BM25 scores, grow with the corpus)."""
        if self._keyword_scale is None:
            self._keyword_scale = math.log1p(max(1, self.index.count()))
        return self._keyword_scale
