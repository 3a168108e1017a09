"""Builds the index adapters from `Settings`: the edge where configuration meets the core."""

from __future__ import annotations

from docsbot.index.bm25 import Bm25Encoder
from docsbot.index.embedders import Embedder, HashingEmbedder, LocalEmbedder, OpenAIEmbedder
from docsbot.index.ports import VectorIndex
from docsbot.settings.config import Settings


def make_embedder(settings: Settings) -> Embedder:
    """The configured dense embedder (OpenAI or the local packaged model)."""
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


def make_sparse() -> Bm25Encoder:
    return Bm25Encoder()
