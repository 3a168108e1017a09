"""The Qdrant Edge adapter: Qdrant's embedded Rust engine, one shard directory per docs collection.

`EdgeIndex` implements the `VectorIndex` port (index/ports.py) like `QdrantIndex` does, but runs searches in
native code, where qdrant-client's embedded mode scores sparse vectors in pure Python. A shard has no
name and no metadata, so each collection is a folder under `root` holding the shard and a small JSON
file with the `IndexInfo` that built it:

    <root>/<collection>/info.json   written last and atomically: the collection exists once it does
    <root>/<collection>/shard/      the EdgeShard (segments + write-ahead log)

A shard can be open in one process only (its write-ahead log is locked); a second opener gets an
`IndexUnavailableError` saying so.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import threading
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, cast

from qdrant_edge import (
    CountRequest,
    Distance,
    EdgeConfig,
    EdgeOptimizersConfig,
    EdgeShard,
    EdgeSparseVectorParams,
    EdgeVectorParams,
    FieldCondition,
    Filter,
    Fusion,
    MatchAny,
    MatchValue,
    Modifier,
    PayloadSchemaType,
    Point,
    Prefetch,
    Query,
    QueryBatchRequest,
    QueryRequest,
    ScrollRequest,
    UpdateOperation,
)
from qdrant_edge import SparseVector as EdgeSparseVector

from docsbot.index.bm25 import SparseVector
from docsbot.index.errors import IndexStoreError, IndexUnavailableError
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

INFO_FILE = "info.json"
SHARD_DIR = "shard"
# Qdrant Edge has no background optimizer: written points stay in an unindexed segment, searched by brute
# force (hybrid p50 6 ms at 50k points, vs 2 ms once optimized). Optimizing costs ~10 s per 50k points and
# merges into the big segment each time, so it runs once this many points were written, and on close().
OPTIMIZE_AFTER_WRITES = 20_000
# Deleted and replaced points still count in an optimized segment's IDF statistics until the optimizer
# vacuums it (once 20% of it is deleted), by default only in segments of 1000+ vectors; smaller optimized
# segments (~800 points of 3072-dim vectors) would keep skewing BM25 weights for good.
VACUUM_MIN_VECTORS = 100
# The collection name becomes a directory name: one plain path component, nothing that climbs out of root.
_COLLECTION_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,62}")


class _ShardInUseError(IndexUnavailableError):
    """The shard's write-ahead log is locked by another process or another open `EdgeIndex`."""


def edge_filter(search_filter: SearchFilter | None) -> Filter | None:
    """`search_filter` for Qdrant Edge: every given field must match one of its values."""
    if search_filter is None:
        return None
    must: list[Any] = [
        FieldCondition(key=key, match=MatchAny(any=list(values))) for key, values in search_filter.conditions()
    ]
    return Filter(must=must) if must else None


def _sparse(vector: SparseVector) -> EdgeSparseVector:
    return EdgeSparseVector(indices=list(vector.indices), values=list(vector.values))


def _write_json_atomically(path: Path, data: dict[str, Any]) -> None:
    """Write via a temporary file and a rename, so a reader never sees a half-written file."""
    fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, indent=2, sort_keys=True)
            handle.write("\n")
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp_name, path)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


class EdgeIndex:
    """One docs collection in a Qdrant Edge shard under `root`; the shard is opened on first use."""

    def __init__(self, root: Path, collection: str) -> None:
        if not _COLLECTION_RE.fullmatch(collection):
            raise ValueError(f"collection name {collection!r} is not usable as a folder name")
        self.root = root
        self.collection = collection
        self.path = root / collection
        self._shard: EdgeShard | None = None
        self._writes_since_optimize = 0  # points upserted or deleted through this object
        # Two threads opening lazily at once would lock each other out of the write-ahead log.
        self._lock = threading.Lock()

    @property
    def _info_path(self) -> Path:
        return self.path / INFO_FILE

    @property
    def _shard_path(self) -> Path:
        return self.path / SHARD_DIR

    def info(self) -> IndexInfo | None:
        """What built this collection, or None when it does not exist yet."""
        try:
            text = self._info_path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return None
        try:
            metadata = json.loads(text)
        except json.JSONDecodeError as error:
            raise IndexUnavailableError(
                f"{self._info_path} is not valid JSON ({error}); re-index the collection"
            ) from None
        if not isinstance(metadata, dict) or "embedder" not in metadata:
            raise IndexUnavailableError(f"{self._info_path} was not written by docsbot")
        return IndexInfo(
            embedder=str(metadata["embedder"]),
            dimensions=int(metadata["dimensions"]),
            sparse=str(metadata.get("sparse", "")),
        )

    def ensure(self, wanted: IndexInfo) -> bool:
        """Create the collection if missing (True when created); refuse one built by another embedder."""
        with self._lock:
            current = self.info()
            if current is not None:
                self.check(wanted, current)
                return False
            if self._shard_path.exists():
                # A shard without info.json is what a crash during creation leaves: it was never usable.
                self._release_for_deletion_locked()
                shutil.rmtree(self._shard_path)
            self.path.mkdir(parents=True, exist_ok=True)
            config = EdgeConfig(
                vectors={DENSE: EdgeVectorParams(size=wanted.dimensions, distance=Distance.Cosine)},
                sparse_vectors={SPARSE: EdgeSparseVectorParams(modifier=Modifier.Idf)},
                optimizers=EdgeOptimizersConfig(vacuum_min_vector_number=VACUUM_MIN_VECTORS),
            )
            try:
                shard = EdgeShard.create(str(self._shard_path), config)
            except Exception as error:
                raise IndexUnavailableError(f"cannot create the index at {self._shard_path}: {error}") from None
            for field_name in KEYWORD_FIELDS:
                shard.update(UpdateOperation.create_field_index(field_name, PayloadSchemaType.Keyword))
            shard.flush()
            _write_json_atomically(self._info_path, wanted.as_metadata())
            self._shard = shard
            return True

    def check(self, wanted: IndexInfo, current: IndexInfo | None = None) -> None:
        """Raise EmbedderMismatchError unless the collection was built like `wanted`."""
        check_info(self.collection, wanted, current or self.info())

    def drop(self) -> None:
        with self._lock:
            if not self.path.exists():
                return
            self._release_for_deletion_locked()
            self._info_path.unlink(missing_ok=True)  # first, so a crash mid-way leaves "no collection"
            shutil.rmtree(self.path)

    def count(self) -> int:
        if self.info() is None:
            return 0
        return self._open().count(CountRequest(exact=True))

    def stored_points(self, source: str | None = None, batch: int = 2048) -> Iterator[StoredPoint]:
        """Every point (or every point of one source), with the fields sync compares."""
        shard = self._open()
        flt = None
        if source is not None:
            flt = Filter(must=[FieldCondition(key="source", match=MatchValue(value=source))])
        offset: Any = None
        while True:
            records, offset = shard.scroll(
                ScrollRequest(offset=offset, limit=batch, filter=flt, with_payload=["url", "source"], with_vector=False)
            )
            for record in records:
                payload = record.payload or {}
                yield StoredPoint(
                    id=str(record.id), url=str(payload.get("url", "")), source=str(payload.get("source", ""))
                )
            if offset is None:
                return

    def upsert(self, points: Sequence[IndexPoint], batch: int = 256) -> None:
        if not points:
            return
        shard = self._open()
        for start in range(0, len(points), batch):
            shard.update(
                UpdateOperation.upsert_points(
                    [
                        # Ids go in as UUID strings; the shard hands them back as uuid.UUID, and str() of
                        # that is the same lower-case hyphenated form docsbot derives.
                        Point(id=p.id, vector={DENSE: p.dense, SPARSE: _sparse(p.sparse)}, payload=p.payload)
                        for p in points[start : start + batch]
                    ]
                )
            )
        self._after_write(shard, len(points))

    def delete(self, ids: Sequence[str], batch: int = 1024) -> None:
        if not ids:
            return
        shard = self._open()
        for start in range(0, len(ids), batch):
            shard.update(UpdateOperation.delete_points(list(ids[start : start + batch])))
        self._after_write(shard, len(ids))

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
        """Hybrid search in one batch call: dense and sparse prefetch fused with RRF.

        With only one of the two vectors it is a plain dense or sparse search. Top-1 dense and sparse
        requests ride in the same batch call, so callers get the best cosine and keyword scores too.
        """
        flt = edge_filter(search_filter)
        requests: list[QueryRequest] = []
        if dense is not None and sparse is not None:
            requests.append(
                QueryRequest(
                    limit=limit,
                    # The stub misses that Fusion.Rrf subclasses Fusion (it does at runtime).
                    query=cast(Fusion, Fusion.Rrf(k=rrf_k)),
                    prefetches=[
                        Prefetch(limit=prefetch_limit, query=Query.Nearest(dense, using=DENSE), filter=flt),
                        Prefetch(limit=prefetch_limit, query=Query.Nearest(_sparse(sparse), using=SPARSE), filter=flt),
                    ],
                    with_payload=True,
                )
            )
        elif sparse is not None:
            requests.append(
                QueryRequest(
                    limit=limit, query=Query.Nearest(_sparse(sparse), using=SPARSE), filter=flt, with_payload=True
                )
            )
        elif dense is not None:
            requests.append(
                QueryRequest(limit=limit, query=Query.Nearest(dense, using=DENSE), filter=flt, with_payload=True)
            )
        else:
            raise ValueError("query needs a dense or a sparse vector")
        # Top-1 dense and sparse requests ride in the same batch call: their scores say how close the
        # best match is, which the fused RRF score cannot.
        if dense is not None:
            requests.append(
                QueryRequest(limit=1, query=Query.Nearest(dense, using=DENSE), filter=flt, with_payload=False)
            )
        if sparse is not None:
            requests.append(
                QueryRequest(
                    limit=1, query=Query.Nearest(_sparse(sparse), using=SPARSE), filter=flt, with_payload=False
                )
            )
        responses = self._open().query_batch(QueryBatchRequest(requests))
        hits = [Hit(id=str(p.id), score=float(p.score), payload=dict(p.payload or {})) for p in responses[0]]
        tops = [float(r[0].score) if r else None for r in responses[1:]]
        return with_best_scores(hits, tops, dense=dense is not None, sparse=sparse is not None)

    def terms_present(self, term_ids: Sequence[int], search_filter: SearchFilter | None = None) -> list[bool]:
        """For each keyword term, whether any point has it (in-process: one single-term probe each)."""
        return [
            bool(
                self.query(
                    dense=None,
                    sparse=SparseVector(indices=[term], values=[1.0]),
                    limit=1,
                    search_filter=search_filter,
                ).hits
            )
            for term in term_ids
        ]

    def close(self) -> None:
        """Optimize what this object wrote, flush, and release the shard and its lock; the next call reopens it."""
        with self._lock:
            self._close_locked()

    def _open(self) -> EdgeShard:
        with self._lock:
            if self._shard is None:
                if self.info() is None:
                    raise IndexUnavailableError(
                        f"collection {self.collection!r} has not been indexed yet (run docsbot ingest)"
                    )
                self._shard = self._load()
            return self._shard

    def _load(self) -> EdgeShard:
        try:
            return EdgeShard.load(str(self._shard_path))
        except Exception as error:
            # The binding raises a bare Exception; a lock held elsewhere shows as the WAL's WouldBlock.
            if "WouldBlock" in str(error):
                raise _ShardInUseError(
                    f"the embedded index at {self.path} is open in another docsbot process (or another index "
                    "object in this one); stop it or set QDRANT_URL to use a Qdrant server"
                ) from None
            raise IndexUnavailableError(f"cannot open the index at {self._shard_path}: {error}") from None

    def _close_locked(self) -> None:
        if self._shard is not None:
            shard, self._shard = self._shard, None
            if self._writes_since_optimize:
                self._optimize(shard)
            shard.flush()
            shard.close()

    def _release_for_deletion_locked(self) -> None:
        """Close the shard before its files go, after taking its lock: never delete what another process uses."""
        if self._shard is None and self._shard_path.exists():
            try:
                self._shard = self._load()
            except _ShardInUseError:
                raise
            except IndexStoreError:
                pass  # a shard that does not load (half-created, damaged) is deleted all the same
        self._writes_since_optimize = 0  # no point optimizing what is about to be deleted
        self._close_locked()

    def _after_write(self, shard: EdgeShard, written: int) -> None:
        # Flushed segments are what another process loads; without a flush it would replay the write-ahead log.
        shard.flush()
        self._writes_since_optimize += written
        if self._writes_since_optimize >= OPTIMIZE_AFTER_WRITES:
            self._optimize(shard)

    def _optimize(self, shard: EdgeShard) -> None:
        # Builds the HNSW and sparse indexes where the optimizer's thresholds say so; after a small update
        # there is nothing to plan and it returns at once (~0.1 ms).
        shard.optimize()
        shard.flush()
        self._writes_since_optimize = 0
