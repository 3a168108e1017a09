"""Errors of the index layer, importable without loading any index backend.

`IndexStoreError` is the base; its subclasses say whether trying again can help: an `IndexUnavailableError`
may clear up (the first refresh finishes, another process lets go of the embedded index), an
`EmbedderMismatchError` never will.
"""

from __future__ import annotations

from docsbot.errors import TransientError


class IndexStoreError(RuntimeError):
    """The index cannot be used as asked; the message says why and what to do."""


class IndexUnavailableError(IndexStoreError, TransientError):
    """The index cannot serve right now: not indexed yet, open in another process, unreachable or unreadable."""


class EmbedderMismatchError(IndexStoreError):
    """The collection was built with another embedder."""
