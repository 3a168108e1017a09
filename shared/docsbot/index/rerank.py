"""The second retrieval stage: reorder the first stage's candidate sections for one query.

`Reranker` is the port: it takes the query and the hybrid search's candidate sections (best first) and
returns the same sections reordered, each carrying the reranker's score in `Source.score`. Implementations:
- `NoReranker`: keeps the first-stage order (the offline default when no verified model is installed);
- `SimilarityReranker`: cosine similarity of the query and each candidate section under a sentence
  embedder (all-mpnet-base-v2 locally, see `index/mpnet.py`), fused with the first-stage order by
  reciprocal rank fusion. Section vectors are cached by content hash, so a section is embedded once per
  process however often it is a candidate. Its `prepare(query)` starts the query's encode on a background
  thread, so the search runs its first stage (which needs nothing from the reranker) meanwhile: on two cores
  the first stage's time is hidden behind the reranker's query encode (`PreparesQueries`).

What the reranker reads of a section (`section_text`) can be derived, for a section indexed as one chunk,
from that chunk's text alone (`chunk_section_text`). So the ingest can fill the cache: `WarmingEmbedder`
wraps the first-stage embedder and hands every chunk it embeds to `SimilarityReranker.warm`, and a
question over a freshly indexed collection embeds no section, only itself. A section split over
several chunks (longer than a chunk) is still embedded at query time when it is first a candidate.

`rerank_safely` is what the search calls: a reranker that fails never aborts a search; the first-stage
order is returned and the failure logged once per call. No model library is imported here: embedders load
their models lazily in their adapters.
"""

from __future__ import annotations

import hashlib
import logging
import sqlite3
import threading
from array import array
from collections import OrderedDict
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from docsbot.documents.model import Source
from docsbot.index.indexed_text import indexed_text

log = logging.getLogger(__name__)

RRF_K = 60  # the usual reciprocal-rank-fusion constant: ranks deep in the list still count a little
DEFAULT_CANDIDATES = 30  # how many first-stage sections the second stage reorders
# The similarity order's weight in the fusion, against the first stage's 1.0. Measured on both development
# sets (decision 0018): 0.7 < 1.0 < 1.5 on every figure of both; 2.0 loses sections on one.
SIMILARITY_WEIGHT = 1.5


@dataclass(frozen=True)
class Ranked:
    """The reranked sections and, when the reranker computes one, its similarity for the best section."""

    sources: list[Source]
    best_similarity: float | None = None


class Reranker(Protocol):
    """Reorders candidate sections for a query; must return each candidate exactly once."""

    name: str

    def rerank(self, query: str, candidates: Sequence[Source]) -> Ranked: ...


@runtime_checkable
class PreparesQueries(Protocol):
    """A reranker that can start its query-only work before it has the candidates (the search calls it first)."""

    def prepare(self, query: str) -> None: ...


class NoReranker:
    """The first-stage order, unchanged."""

    name = "none"

    def rerank(self, query: str, candidates: Sequence[Source]) -> Ranked:
        return Ranked(list(candidates))


class DocumentEmbedder(Protocol):
    """The first-stage embedder as `WarmingEmbedder` wraps it (index/embedders.py's `Embedder`)."""

    name: str
    dimensions: int
    stats: Any

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


class SentenceEmbedder(Protocol):
    """What `SimilarityReranker` needs from a model: unit-length vectors for queries and documents."""

    name: str

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]: ...

    def embed_query(self, text: str) -> list[float]: ...


# The separator of a chunk's heading-path line (`index/chunking.py`'s PATH_SEPARATOR; a test keeps them equal:
# importing the chunker here would load the tokenizer into every searching process).
PATH_SEPARATOR = " \u203a "


def section_text(source: Source) -> str:
    """What the reranker reads of a section: its page title and heading path, then its text as it is indexed
    (links by their text: `index/indexed_text.py`), which is what the ingest hands the warming embedder."""
    path = [source.title, *[h for h in source.heading_path if h != source.title]]
    return " > ".join(p for p in path if p) + "\n\n" + indexed_text(source.text)


def chunk_section_text(chunk_text: str) -> str:
    """`section_text` of the section a chunk holds, from the chunk's text alone (`title › path`, blank line, body).

    Equal to `section_text` of the search's `Source` when the section is that one chunk (a test keeps them
    equal), so the vector computed at ingest is the one the question finds.
    """
    header, separator, body = chunk_text.partition("\n\n")
    if not separator:
        return "\n\n" + chunk_text
    title, *path = header.split(PATH_SEPARATOR)
    return " > ".join(p for p in [title, *[h for h in path if h != title]] if p) + "\n\n" + body


def rrf_fuse(orders: Sequence[Sequence[str]], weights: Sequence[float], k: int = RRF_K) -> dict[str, float]:
    """Weighted reciprocal rank fusion: key → sum of weight / (k + rank) over the orders it appears in."""
    fused: dict[str, float] = {}
    for order, weight in zip(orders, weights, strict=True):
        for rank, key in enumerate(order, start=1):
            fused[key] = fused.get(key, 0.0) + weight / (k + rank)
    return fused


class VectorCache:
    """A bounded in-memory map from text hash to vector, least recently used evicted first."""

    def __init__(self, capacity: int = 50_000) -> None:
        self.capacity = capacity
        self._items: OrderedDict[str, list[float]] = OrderedDict()

    @staticmethod
    def key(text: str) -> str:
        return hashlib.sha256(text.encode("utf-8")).hexdigest()

    def get(self, key: str) -> list[float] | None:
        vector = self._items.get(key)
        if vector is not None:
            self._items.move_to_end(key)
        return vector

    def put(self, key: str, vector: list[float]) -> None:
        self._items[key] = vector
        self._items.move_to_end(key)
        while len(self._items) > self.capacity:
            self._items.popitem(last=False)

    def __len__(self) -> int:
        return len(self._items)


class PersistentVectorCache(VectorCache):
    """A `VectorCache` backed by a SQLite file, so section vectors survive restarts (float32, per model).

    Embedding a section with a base-size model costs far more than a search on a small CPU; a process
    that starts with the file reads the vectors instead. A damaged file only costs re-embedding.
    """

    def __init__(self, path: Path, model: str, capacity: int = 50_000) -> None:
        super().__init__(capacity)
        self.model = model
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(str(path), check_same_thread=False)
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS vectors (model TEXT, key TEXT, vector BLOB, PRIMARY KEY (model, key))"
        )

    def get(self, key: str) -> list[float] | None:
        vector = super().get(key)
        if vector is not None:
            return vector
        with self._lock:
            row = self._db.execute(
                "SELECT vector FROM vectors WHERE model = ? AND key = ?", (self.model, key)
            ).fetchone()
        if row is None:
            return None
        stored = array("f")
        stored.frombytes(row[0])
        vector = stored.tolist()
        super().put(key, vector)
        return vector

    def put(self, key: str, vector: list[float]) -> None:
        super().put(key, vector)
        with self._lock, self._db:
            self._db.execute(
                "INSERT OR REPLACE INTO vectors VALUES (?, ?, ?)", (self.model, key, array("f", vector).tobytes())
            )


def _cosines(query: Sequence[float], vectors: Sequence[Sequence[float] | None]) -> list[float]:
    """The cosine of `query` and each vector (0.0 for a missing or zero vector)."""
    import numpy as np  # here, not at module load: the search core imports this module and stays SDK-free

    present = [i for i, v in enumerate(vectors) if v is not None]
    scores = [0.0] * len(vectors)
    if not present:
        return scores
    matrix = np.asarray([vectors[i] for i in present], dtype=np.float64)
    q = np.asarray(query, dtype=np.float64)
    norms = np.linalg.norm(matrix, axis=1) * float(np.linalg.norm(q))
    dots = matrix @ q
    for i, dot, norm in zip(present, dots.tolist(), norms.tolist(), strict=True):
        scores[i] = dot / norm if norm else 0.0
    return scores


# One worker: a query encode in the background uses the second core while the search's first stage uses the
# first; more would contend for the same two cores.
_QUERY_ENCODES = ThreadPoolExecutor(max_workers=1, thread_name_prefix="docsbot-rerank-query")
PREPARED_QUERIES = 8  # prepared encodes kept per reranker (a search that never reranks leaves one behind)


class SimilarityReranker:
    """Query-section similarity under `embedder`, fused with the first-stage order by weighted RRF.

    `weight` is the similarity order's weight against the first stage's 1.0 (1.0 = equal-weight RRF; the
    default favours the similarity: `SIMILARITY_WEIGHT`).
    Ties keep the first-stage order. `Source.score` becomes the fused score; `Ranked.best_similarity` is
    the highest cosine among the candidates (a per-query signal for "not in the docs").
    """

    def __init__(
        self, embedder: SentenceEmbedder, *, weight: float = SIMILARITY_WEIGHT, cache: VectorCache | None = None
    ) -> None:
        self.embedder = embedder
        self.weight = weight
        self.cache = cache if cache is not None else VectorCache()
        self.name = f"similarity:{embedder.name}"
        self.sections_embedded = 0  # cache misses: the expensive part on a small CPU
        self._prepared: OrderedDict[str, Future[list[float]]] = OrderedDict()
        self._prepared_lock = threading.Lock()

    def prepare(self, query: str) -> None:
        """Start encoding `query` on the background worker; `rerank` of the same query waits for it."""
        with self._prepared_lock:
            if query in self._prepared:
                return
            self._prepared[query] = _QUERY_ENCODES.submit(self.embedder.embed_query, query)
            while len(self._prepared) > PREPARED_QUERIES:
                self._prepared.popitem(last=False)

    def query_vector(self, query: str) -> list[float]:
        """The query's vector: the prepared encode's result (its error, if it failed), else encoded now."""
        with self._prepared_lock:
            prepared = self._prepared.pop(query, None)
        return prepared.result() if prepared is not None else self.embedder.embed_query(query)

    def warm(self, texts: Sequence[str], batch: int = 32) -> int:
        """Embed and cache the texts not cached yet (the ingest calls it with chunk texts); returns how many."""
        missing = list(dict.fromkeys(t for t in texts if self.cache.get(VectorCache.key(t)) is None))
        for start in range(0, len(missing), batch):
            step = missing[start : start + batch]
            for text, vector in zip(step, self.embedder.embed_documents(step), strict=True):
                self.cache.put(VectorCache.key(text), vector)
        return len(missing)

    def similarities(self, query: str, candidates: Sequence[Source]) -> list[float]:
        """The cosine of the query and each candidate, embedding only the sections not cached yet."""
        texts = [section_text(s) for s in candidates]
        keys = [VectorCache.key(t) for t in texts]
        missing = {k: t for k, t in zip(keys, texts, strict=True) if self.cache.get(k) is None}
        if missing:
            self.sections_embedded += len(missing)
            for key, vector in zip(missing, self.embedder.embed_documents(list(missing.values())), strict=True):
                self.cache.put(key, vector)
        query_vector = self.query_vector(query)
        return _cosines(query_vector, [self.cache.get(k) for k in keys])

    def rerank(self, query: str, candidates: Sequence[Source]) -> Ranked:
        if not candidates:
            return Ranked([])
        sims = self.similarities(query, candidates)
        ids = [str(i) for i in range(len(candidates))]
        by_similarity = sorted(ids, key=lambda i: -sims[int(i)])
        fused = rrf_fuse([ids, by_similarity], [1.0, self.weight])
        order = sorted(ids, key=lambda i: (-fused[i], int(i)))
        return Ranked(
            [replace(candidates[int(i)], score=round(fused[i], 6)) for i in order],
            best_similarity=max(sims),
        )


class WarmingEmbedder:
    """A first-stage embedder that also fills a reranker's section-vector cache with every chunk it embeds.

    The reranker is loaded on the first batch (`load` may return None: no model, nothing warmed); a failure
    while warming is logged and never fails the ingest (the question then embeds the section itself).
    Queries pass straight through.
    """

    def __init__(self, inner: DocumentEmbedder, load: Callable[[], SimilarityReranker | None]) -> None:
        self.inner = inner
        self.name = inner.name
        self.dimensions = inner.dimensions
        self.stats = inner.stats
        self._load = load
        self._reranker: SimilarityReranker | None = None
        self._loaded = False
        self.warmed = 0  # chunk texts the reranker embedded during this process's ingests

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        vectors = self.inner.embed_documents(texts)
        if not self._loaded:
            self._loaded = True
            self._reranker = self._load()
        if self._reranker is not None:
            try:
                self.warmed += self._reranker.warm([chunk_section_text(t) for t in texts])
            except Exception as error:  # the ingest's own vectors are done; warming is an optimisation
                log.warning("reranker: could not precompute section vectors: %r", error)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        return self.inner.embed_query(text)


def rerank_safely(reranker: Reranker, query: str, candidates: Sequence[Source]) -> Ranked:
    """`reranker`'s order, or the first-stage order when it fails or breaks the port's contract."""
    try:
        ranked = reranker.rerank(query, candidates)
    except Exception as error:  # any fault of a model must not cost the user their answer
        log.warning("reranker %s failed; keeping the first-stage order: %r", reranker.name, error)
        return Ranked(list(candidates))
    if len(ranked.sources) != len(candidates):
        log.warning(
            "reranker %s returned %d of %d candidates; ignored", reranker.name, len(ranked.sources), len(candidates)
        )
        return Ranked(list(candidates))
    return ranked
