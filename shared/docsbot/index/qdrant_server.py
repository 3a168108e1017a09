"""The Qdrant adapter: one Qdrant collection per docs collection, hybrid (dense + BM25) points.

The same code serves the embedded default (`QdrantClient(path=...)`) and a Qdrant server (URL + API
key over TLS). The collection records which embedder made its vectors; opening it with another one is
refused, because vectors of two models must never be mixed.
"""

from __future__ import annotations

import warnings
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from qdrant_client import QdrantClient, models
from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

from docsbot.errors import TransientError
from docsbot.index.bm25 import SparseVector
from docsbot.index.errors import IndexUnavailableError
from docsbot.index.ports import (
    DENSE,
    KEYWORD_FIELDS,
    SPARSE,
    Hit,
    IndexInfo,
    IndexPoint,
    QueryResult,
    SearchFilter,
    StoredPoint,
    check_info,
    with_best_scores,
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
            raise IndexUnavailableError(
                f"the embedded index at {path} is open in another docsbot process; stop it or set "
                "QDRANT_URL to use a Qdrant server"
            ) from None
        raise


@contextmanager
def _server_faults() -> Iterator[None]:
    """Turn qdrant-client's retryable faults (no answer, 429, 5xx) into `TransientError`; others pass through."""
    try:
        yield
    except ResponseHandlingException as error:  # the request never got an answer: timeout, connection lost
        raise TransientError(f"Qdrant did not answer: {error.source!r}") from error
    except UnexpectedResponse as error:
        if error.status_code is not None and (error.status_code == 429 or error.status_code >= 500):
            raise TransientError(f"Qdrant answered HTTP {error.status_code}") from error
        raise


def qdrant_filter(search_filter: SearchFilter | None) -> models.Filter | None:
    """`search_filter` for qdrant-client: every given field must match one of its values."""
    if search_filter is None:
        return None
    must: list[models.Condition] = [
        models.FieldCondition(key=key, match=models.MatchAny(any=list(values)))
        for key, values in search_filter.conditions()
    ]
    return models.Filter(must=must) if must else None


def _sparse(vector: SparseVector) -> models.SparseVector:
    return models.SparseVector(indices=list(vector.indices), values=list(vector.values))


class QdrantIndex:
    """One docs collection in Qdrant."""

    def __init__(self, client: QdrantClient, collection: str) -> None:
        self.client = client
        self.collection = collection

    def terms_present(self, term_ids: Sequence[int], search_filter: SearchFilter | None = None) -> list[bool]:
        """For each keyword term, whether any point has it: one batch call of single-term probes, no payloads."""
        if not term_ids:
            return []
        flt = qdrant_filter(search_filter)
        requests = [
            models.QueryRequest(
                query=_sparse(SparseVector(indices=[term], values=[1.0])),
                using=SPARSE,
                filter=flt,
                limit=1,
                with_payload=False,
            )
            for term in term_ids
        ]
        with _server_faults():
            responses = self.client.query_batch_points(self.collection, requests=requests)
        return [bool(response.points) for response in responses]

    def close(self) -> None:
        """Release the client (and the embedded store's folder lock)."""
        self.client.close()

    def info(self) -> IndexInfo | None:
        """What built this collection, or None when it does not exist yet."""
        with _server_faults():
            if not self.client.collection_exists(self.collection):
                return None
            metadata = self.client.get_collection(self.collection).config.metadata or {}
        if "embedder" not in metadata:
            raise IndexUnavailableError(f"Qdrant collection {self.collection!r} was not created by docsbot")
        return IndexInfo(
            embedder=str(metadata["embedder"]),
            dimensions=int(metadata["dimensions"]),
            sparse=str(metadata.get("sparse", "")),
        )

    def ensure(self, wanted: IndexInfo) -> bool:
        """Create the collection if missing (True when created); refuse one built by another embedder."""
        current = self.info()
        if current is None:
            with _server_faults(), warnings.catch_warnings():
                self.client.create_collection(
                    self.collection,
                    vectors_config={
                        DENSE: models.VectorParams(size=wanted.dimensions, distance=models.Distance.COSINE)
                    },
                    sparse_vectors_config={SPARSE: models.SparseVectorParams(modifier=models.Modifier.IDF)},
                    metadata=wanted.as_metadata(),
                )
                # Embedded mode says payload indexes have no effect there; a server needs them.
                warnings.simplefilter("ignore", UserWarning)
                for field_name in KEYWORD_FIELDS:
                    self.client.create_payload_index(self.collection, field_name, models.PayloadSchemaType.KEYWORD)
            return True
        self.check(wanted, current)
        return False

    def check(self, wanted: IndexInfo, current: IndexInfo | None = None) -> None:
        """Raise EmbedderMismatchError unless the collection was built like `wanted`."""
        check_info(self.collection, wanted, current or self.info())

    def drop(self) -> None:
        with _server_faults():
            if self.client.collection_exists(self.collection):
                self.client.delete_collection(self.collection)

    def count(self) -> int:
        with _server_faults():
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
            with _server_faults():
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
            with _server_faults():
                self.client.upsert(
                    self.collection,
                    points=[
                        models.PointStruct(
                            id=p.id, vector={DENSE: p.dense, SPARSE: _sparse(p.sparse)}, payload=p.payload
                        )
                        for p in points[start : start + batch]
                    ],
                    wait=True,
                )

    def delete(self, ids: Sequence[str], batch: int = 1024) -> None:
        for start in range(0, len(ids), batch):
            with _server_faults():
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
        flt = qdrant_filter(search_filter)
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
        with _server_faults():
            responses = self.client.query_batch_points(self.collection, requests=requests)
        hits = [Hit(id=str(p.id), score=float(p.score), payload=dict(p.payload or {})) for p in responses[0].points]
        tops = [float(r.points[0].score) if r.points else None for r in responses[1:]]
        return with_best_scores(hits, tops, dense=dense is not None, sparse=sparse is not None)
