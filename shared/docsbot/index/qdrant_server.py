"""The Qdrant adapter: one Qdrant collection per docs collection, hybrid (dense + BM25) points.

The same code serves the embedded default (`QdrantClient(path=...)`) and a Qdrant server (URL + API
key over TLS). The collection records which embedder made its vectors; opening it with another one is
refused, because vectors of two models must never be mixed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from qdrant_client import QdrantClient, models

from docsbot.index.bm25 import SparseVector
from docsbot.index.errors import EmbedderMismatchError, IndexStoreError

DENSE = "dense"
SPARSE = "bm25"
SCHEMA_VERSION = 1
# Payload fields we filter on get an index (a no-op in embedded mode, needed on a server).
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

    def to_qdrant(self) -> models.Filter | None:
        must: list[models.Condition] = []
        for key, values in (("source_kind", self.source_kinds), ("tags", self.tags), ("url", self.urls)):
            if values:
                must.append(models.FieldCondition(key=key, match=models.MatchAny(any=list(values))))
        return models.Filter(must=must) if must else None


@dataclass(frozen=True)
class QueryResult:
    hits: list[Hit]
    best_dense_score: float | None  # cosine of the best dense match, for "not in the docs" decisions
    best_sparse_score: float | None = None  # BM25 score of the best keyword match, likewise
    extra: dict[str, Any] = field(default_factory=dict)


def with_best_scores(hits: list[Hit], tops: list[float | None], *, dense: bool, sparse: bool) -> QueryResult:
    """`hits` plus the top-1 dense and sparse scores of the requests that followed them, in that order.

    A keyword query that matches nothing scored zero; only a query without keywords has no keyword score.
    """
    remaining = list(tops)
    best_dense = remaining.pop(0) if dense else None
    best_sparse = (remaining.pop(0) or 0.0) if sparse else None
    return QueryResult(hits=hits, best_dense_score=best_dense, best_sparse_score=best_sparse)


class VectorIndex(Protocol):
    """What sync and search need of an index; `QdrantIndex` and `EdgeIndex` both provide it."""

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
    ) -> QueryResult: ...

    def close(self) -> None: ...


def check_info(collection: str, wanted: IndexInfo, current: IndexInfo | None) -> None:
    """Raise unless a collection exists (`current`) and was built like `wanted`: never mix two models' vectors."""
    if current is None:
        raise IndexStoreError(f"collection {collection!r} has not been indexed yet (run docsbot ingest)")
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


def open_client(*, url: str | None, api_key: str | None, path: Path | None) -> QdrantClient:
    """A Qdrant client: the server at `url` when given, else the embedded store at `path`."""
    if url:
        return QdrantClient(url=url, api_key=api_key, timeout=30)
    if path is None:
        return QdrantClient(location=":memory:")
    path.mkdir(parents=True, exist_ok=True)
    try:
        return QdrantClient(path=str(path))
    except RuntimeError as error:
        if "already accessed" in str(error):
            raise IndexStoreError(
                f"the embedded index at {path} is open in another docsbot process; stop it or set "
                "QDRANT_URL to use a Qdrant server"
            ) from None
        raise


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


class QdrantIndex:
    """One docs collection in Qdrant."""

    def __init__(self, client: QdrantClient, collection: str) -> None:
        self.client = client
        self.collection = collection

    def close(self) -> None:
        """Release the client (and the embedded store's folder lock)."""
        self.client.close()

    def info(self) -> IndexInfo | None:
        """What built this collection, or None when it does not exist yet."""
        if not self.client.collection_exists(self.collection):
            return None
        metadata = self.client.get_collection(self.collection).config.metadata or {}
        if "embedder" not in metadata:
            raise IndexStoreError(f"Qdrant collection {self.collection!r} was not created by docsbot")
        return IndexInfo(
            embedder=str(metadata["embedder"]),
            dimensions=int(metadata["dimensions"]),
            sparse=str(metadata.get("sparse", "")),
        )

    def ensure(self, wanted: IndexInfo) -> bool:
        """Create the collection if missing (True when created); refuse one built by another embedder."""
        current = self.info()
        if current is None:
            self.client.create_collection(
                self.collection,
                vectors_config={DENSE: models.VectorParams(size=wanted.dimensions, distance=models.Distance.COSINE)},
                sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                metadata=wanted.as_metadata(),
            )
            with warnings.catch_warnings():
                # Embedded mode says payload indexes have no effect there; a server needs them.
                warnings.simplefilter("ignore", UserWarning)
                for field_name in KEYWORD_FIELDS:
                    self.client.create_payload_index(self.collection, field_name, models.PayloadSchemaType.KEYWORD)
            return True
        self.check(wanted, current)
        return False

    def check(self, wanted: IndexInfo, current: IndexInfo | None = None) -> None:
        """Raise EmbedderMismatchError unless the collection was built like `wanted`."""
        current = current or self.info()
        if current is None:
            raise IndexStoreError(f"collection {self.collection!r} has not been indexed yet (run docsbot ingest)")
        if (current.embedder, current.dimensions) != (wanted.embedder, wanted.dimensions):
            raise EmbedderMismatchError(
                f"collection {self.collection!r} was built with embedder {current.embedder} "
                f"({current.dimensions} dims) but {wanted.embedder} ({wanted.dimensions} dims) is configured; "
                "configure the same embedder, or re-index into a new collection (docsbot ingest --rebuild)"
            )
        if current.sparse != wanted.sparse:
            raise EmbedderMismatchError(
                f"collection {self.collection!r} uses sparse encoder {current.sparse} but this docsbot "
                f"uses {wanted.sparse}; re-index it (docsbot ingest --rebuild)"
            )

    def drop(self) -> None:
        if self.client.collection_exists(self.collection):
            self.client.delete_collection(self.collection)

    def count(self) -> int:
        if not self.client.collection_exists(self.collection):
            return 0
        return self.client.count(self.collection, exact=True).count

    def stored_points(self, source: str | None = None, batch: int = 2048) -> Iterator[StoredPoint]:
        """Every point (or every point of one source), with the fields sync compares."""
        flt = None
        if source is not None:
            flt = models.Filter(must=[models.FieldCondition(key="source", match=models.MatchValue(value=source))])
        offset: Any = None
        while True:
            records, offset = self.client.scroll(
                self.collection,
                scroll_filter=flt,
                limit=batch,
                offset=offset,
                with_payload=["url", "source"],
                with_vectors=False,
            )
            for record in records:
                payload = record.payload or {}
                yield StoredPoint(
                    id=str(record.id), url=str(payload.get("url", "")), source=str(payload.get("source", ""))
                )
            if offset is None:
                return

    def upsert(self, points: Sequence[IndexPoint], batch: int = 256) -> None:
        for start in range(0, len(points), batch):
            self.client.upsert(
                self.collection,
                points=[
                    models.PointStruct(id=p.id, vector={DENSE: p.dense, SPARSE: _sparse(p.sparse)}, payload=p.payload)
                    for p in points[start : start + batch]
                ],
                wait=True,
            )

    def delete(self, ids: Sequence[str], batch: int = 1024) -> None:
        for start in range(0, len(ids), batch):
            self.client.delete(
                self.collection,
                points_selector=models.PointIdsList(points=list(ids[start : start + batch])),
                wait=True,
            )

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
        """Hybrid search in one Query API call: dense and sparse prefetch fused with RRF.

        With only one of the two vectors it is a plain dense or sparse search. Top-1 dense and sparse
        requests ride in the same batch call, so callers get the best cosine and keyword scores too.
        """
        flt = search_filter.to_qdrant() if search_filter else None
        requests: list[models.QueryRequest] = []
        if dense is not None and sparse is not None:
            requests.append(
                models.QueryRequest(
                    prefetch=[
                        models.Prefetch(query=dense, using=DENSE, limit=prefetch_limit, filter=flt),
                        models.Prefetch(query=_sparse(sparse), using=SPARSE, limit=prefetch_limit, filter=flt),
                    ],
                    query=models.RrfQuery(rrf=models.Rrf(k=rrf_k)),
                    limit=limit,
                    with_payload=True,
                )
            )
        elif sparse is not None:
            requests.append(
                models.QueryRequest(query=_sparse(sparse), using=SPARSE, filter=flt, limit=limit, with_payload=True)
            )
        elif dense is not None:
            requests.append(models.QueryRequest(query=dense, using=DENSE, filter=flt, limit=limit, with_payload=True))
        else:
            raise ValueError("query needs a dense or a sparse vector")
        # Top-1 dense and sparse requests ride in the same batch call: their scores say how close the
        # best match is, which the fused RRF score cannot.
        if dense is not None:
            requests.append(models.QueryRequest(query=dense, using=DENSE, filter=flt, limit=1, with_payload=False))
        if sparse is not None:
            requests.append(
                models.QueryRequest(query=_sparse(sparse), using=SPARSE, filter=flt, limit=1, with_payload=False)
            )
        responses = self.client.query_batch_points(self.collection, requests=requests)
        hits = [Hit(id=str(p.id), score=float(p.score), payload=dict(p.payload or {})) for p in responses[0].points]
        tops = [float(r.points[0].score) if r.points else None for r in responses[1:]]
        return with_best_scores(hits, tops, dense=dense is not None, sparse=sparse is not None)
