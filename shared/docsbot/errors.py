"""The one retryable fault: adapters wrap their SDK's transient errors in `TransientError`.

A timeout, a 429, a 5xx or a lost connection may succeed when tried again later; everything else is
permanent. Adapters (the chat model, the OpenAI embedder, the index backends, the Discord REST client)
raise `TransientError(...) from error`, so callers such as the respond handler decide with one
`isinstance` check and never by matching the names of SDK exception classes. Imports nothing.
"""

from __future__ import annotations


class TransientError(Exception):
    """A fault worth another attempt later: a timeout, rate limit (429), server error (5xx) or lost connection."""
