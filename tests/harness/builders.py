"""Small builders of the shapes answering passes around (sources, search results), shared by the answer tests."""

from __future__ import annotations

from docsbot.documents.model import Source
from docsbot.index.search import SearchResult


def src(n: int, text: str = "", url: str = "") -> Source:
    return Source(
        title=f"Page {n}",
        heading_path=(f"Section {n}",),
        url=url or f"https://docs.example.com/p{n}",
        anchor=f"s{n}",
        snippet="",
        score=1.0,
        text=text or f"text {n}",
    )


def result(keyword: float | None, sources: int = 3, dense: float | None = 0.5) -> SearchResult:
    return SearchResult(
        query="text",  # a term every `src` has: the query coverage is 1, so `keyword` alone decides
        sources=[src(n) for n in range(1, sources + 1)],
        best_dense_score=dense,
        best_sparse_score=None if keyword is None else keyword * 7.0,
        keyword_scale=7.0,
    )
