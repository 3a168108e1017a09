"""Builds the index adapters from `Settings`: the edge where configuration meets the core."""

from __future__ import annotations

import re

from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import Embedder, HashingEmbedder, LocalEmbedder, OpenAIEmbedder
from docsbot.index.ports import VectorIndex
from docsbot.index.rerank import SimilarityReranker, WarmingEmbedder
from docsbot.settings.config import COLLECTION_NAME_PATTERN, Settings


def make_embedder(settings: Settings) -> Embedder:
    """The configured dense embedder (OpenAI or the local packaged model).

    Unless DOCSBOT_RERANKER=none, every chunk it embeds at ingest also gets its reranker vector (loaded on
    the first batch, cached in DOCSBOT_DATA_DIR/rerank-vectors.sqlite), so no question embeds a section.
    """
    embedder = _first_stage_embedder(settings)
    if settings.reranker == "none":
        return embedder

    def load() -> SimilarityReranker | None:
        # Imported here: only a process that indexes something loads the reranking model.
        from docsbot.app.answerers import make_reranker

        reranker = make_reranker(settings)
        return reranker if isinstance(reranker, SimilarityReranker) else None

    return WarmingEmbedder(embedder, load)


def _first_stage_embedder(settings: Settings) -> Embedder:
    if settings.embedder == "openai":
        import openai

        client = openai.OpenAI(
            api_key=settings.openai_api_key,
            base_url=settings.openai_base_url,
            max_retries=5,
            timeout=60.0,
        )
        return OpenAIEmbedder(client, model=settings.embedding_model, dimensions=settings.embedding_dimensions)
    if settings.embedder == "hashing":
        return HashingEmbedder()
    return LocalEmbedder()


def open_index(settings: Settings, collection: str) -> VectorIndex:
    """The index of a docs collection: on the configured Qdrant server, else embedded (Qdrant Edge)."""
    # Each backend's client is imported only when it is the one configured.
    if settings.qdrant_url:
        from docsbot.index.qdrant_server import QdrantIndex, open_client

        client = open_client(url=settings.qdrant_url, api_key=settings.qdrant_api_key, path=None)
        return QdrantIndex(client, collection)
    from docsbot.index.qdrant_edge import EdgeIndex

    return EdgeIndex(settings.index_path, collection)


def indexed_collections(settings: Settings) -> list[str]:
    """The names of the docs collections that exist in the configured index, sorted."""
    if settings.qdrant_url:
        from qdrant_client.http.exceptions import ResponseHandlingException

        from docsbot.errors import TransientError
        from docsbot.index.qdrant_server import open_client

        client = open_client(url=settings.qdrant_url, api_key=settings.qdrant_api_key, path=None)
        try:
            names = [c.name for c in client.get_collections().collections]
        except ResponseHandlingException as error:  # no answer: the CLI names QDRANT_URL
            raise TransientError(f"Qdrant did not answer: {error.source!r}") from error
        finally:
            client.close()
        return sorted(n for n in names if re.fullmatch(COLLECTION_NAME_PATTERN, n))
    from docsbot.index.qdrant_edge import INFO_FILE

    root = settings.index_path
    if not root.is_dir():
        return []
    return sorted(p.name for p in root.iterdir() if (p / INFO_FILE).is_file())


def make_sparse() -> Bm25Encoder:
    return Bm25Encoder()
