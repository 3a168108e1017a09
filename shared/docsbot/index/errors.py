"""Errors of the index layer, importable without loading the Qdrant client."""


class IndexStoreError(RuntimeError):
    """The index cannot be used as asked; the message says why and what to do."""


class EmbedderMismatchError(IndexStoreError):
    """The collection was built with another embedder."""
