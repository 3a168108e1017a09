"""The index port: what sync and search need of a vector index, in plain shapes that name no backend.

`VectorIndex` is the protocol both adapters implement (`qdrant_server.QdrantIndex`, `qdrant_edge.EdgeIndex`);
everything here is plain Python, so the core (`index.search`, `index.sync`, `answer.*`) imports this module
and never a Qdrant client, grpc or numpy. The constants name the storage layout both adapters share.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from docsbot.index.bm25 import SparseVector
from docsbot.index.errors import EmbedderMismatchError, IndexUnavailableError

DENSE = "dense"  # the dense vector's name in a point
SPARSE = "bm25"  # the sparse (keyword) vector's name in a point
SCHEMA_VERSION = 1
# Payload fields we filter on get an index (a no-op in qdrant-client's embedded mode, needed on a server).
KEYWORD_FIELDS = ("url", "source", "source_kind", "tags")


@dataclass(frozen=True)
class IndexInfo:
    """What made a collection's vectors; recorded in the collection's metadata."""

    embedder: str
    dimensions: int
    sparse: str

    def as_metadata(self) -> dict[str, Any]:
        return {
            "docsbot_schema": SCHEMA_VERSION,
            "embedder": self.embedder,
            "dimensions": self.dimensions,
            "sparse": self.sparse,
        }


@dataclass(frozen=True)
class IndexPoint:
    id: str
    dense: list[float]
    sparse: SparseVector
    payload: dict[str, Any]


@dataclass(frozen=True)
class StoredPoint:
    """What sync needs to know of a point already in the index."""

    id: str
    url: str
    source: str


@dataclass(frozen=True)
class Hit:
    id: str
    score: float
    payload: dict[str, Any]


@dataclass(frozen=True)
class SearchFilter:
    """Restricts a search; every given field must match (any of the listed values)."""

    source_kinds: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()
    urls: tuple[str, ...] = ()

    def conditions(self) -> list[tuple[str, tuple[str, ...]]]:
        """(payload field, accepted values) for every given field: what each adapter translates."""
        fields = (("source_kind", self.source_kinds), ("tags", self.tags), ("url", self.urls))
        return [(key, values) for key, values in fields if values]


@dataclass(frozen=True)
class QueryResult:
    hits: list[Hit]
    best_dense_score: float | None  # cosine of the best dense match, for "not in the docs" decisions
    best_sparse_score: float | None = None  # BM25 score of the best keyword match, likewise
    extra: dict[str, Any] = field(default_factory=dict)


def with_best_scores(hits: list[Hit], tops: list[float | None], *, dense: bool, sparse: bool) -> QueryResult:
    """`hits` plus the top-1 dense and sparse scores of the requests that followed them, in that order.

    The hits come best first and points with equal scores in id order: rank fusion ties often (a point ranked r
    in one list only scores 1/(k + r), like any other such point), and Qdrant returns tied points in an order that
    changes from call to call, so the same question would otherwise rank differently twice.
    A keyword query that matches nothing scored zero; only a query without keywords has no keyword score.
    """
    remaining = list(tops)
    best_dense = remaining.pop(0) if dense else None
    best_sparse = (remaining.pop(0) or 0.0) if sparse else None
    ordered = sorted(hits, key=lambda hit: (-hit.score, hit.id))
    return QueryResult(hits=ordered, best_dense_score=best_dense, best_sparse_score=best_sparse)


def check_info(collection: str, wanted: IndexInfo, current: IndexInfo | None) -> None:
    """Raise unless a collection exists (`current`) and was built like `wanted`: never mix two models' vectors."""
    if current is None:
        raise IndexUnavailableError(f"collection {collection!r} has not been indexed yet (run docsbot ingest)")
    if (current.embedder, current.dimensions) != (wanted.embedder, wanted.dimensions):
        raise EmbedderMismatchError(
            f"collection {collection!r} was built with embedder {current.embedder} "
            f"({current.dimensions} dims) but {wanted.embedder} ({wanted.dimensions} dims) is configured; "
            "configure the same embedder, or re-index into a new collection (docsbot ingest --rebuild)"
        )
    if current.sparse != wanted.sparse:
        raise EmbedderMismatchError(
            f"collection {collection!r} uses sparse encoder {current.sparse} but this docsbot "
            f"uses {wanted.sparse}; re-index it (docsbot ingest --rebuild)"
        )


class VectorIndex(Protocol):
    """What sync and search need of an index; `QdrantIndex` and `EdgeIndex` both provide it.

    Adapters raise `IndexUnavailableError` (a `TransientError`) when the index cannot serve right now,
    `EmbedderMismatchError` when it was built by another embedder, and wrap their client's retryable
    faults (timeouts, 429, 5xx, lost connections) in `TransientError`.
    """

    collection: str

    def info(self) -> IndexInfo | None: ...

    def ensure(self, wanted: IndexInfo) -> bool: ...

    def check(self, wanted: IndexInfo, current: IndexInfo | None = None) -> None:
        """Raise EmbedderMismatchError unless the collection was built like `wanted`."""
        check_info(self.collection, wanted, current or self.info())

    def drop(self) -> None: ...

    def count(self) -> int: ...

    def stored_points(self, source: str | None = None, batch: int = 2048) -> Iterator[StoredPoint]: ...

    def upsert(self, points: Sequence[IndexPoint], batch: int = 256) -> None: ...

    def delete(self, ids: Sequence[str], batch: int = 1024) -> None: ...

    def query(
        self,
        *,
        dense: list[float] | None,
        sparse: SparseVector | None,
        limit: int,
        prefetch_limit: int = 40,
        search_filter: SearchFilter | None = None,
        rrf_k: int = 60,
    ) -> QueryResult:
        """Dense, sparse or both (fused by RRF with `rrf_k`); hits best first, equal scores in id order."""
        ...

    def terms_present(self, term_ids: Sequence[int], search_filter: SearchFilter | None = None) -> list[bool]:
        """For each keyword term id, whether any point (within `search_filter`) has it; no payloads read."""
        ...

    def close(self) -> None: ...
