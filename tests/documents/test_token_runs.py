"""Token ids with bounded work: exact for real text, sliced only inside giant unbroken runs, always lossless."""

from __future__ import annotations

import random
import string

from docsbot.documents.tokens import MAX_RUN_CHARS, count_tokens, encode, get_encoding, truncate_tokens

BASE64 = string.ascii_letters + "0123456789+/"
EXACT_TEXTS = [
    "Redux's `configureStore` sets up the store: reducers, middleware, DevTools. Ça marche, 日本語でも ☃️🚀",
    "data:image/png;base64," + "".join(random.Random(3).choice(BASE64) for _ in range(50_000)),
    "supercalifragilistic" * (MAX_RUN_CHARS // 20),  # one word of exactly MAX_RUN_CHARS letters
    "=" * MAX_RUN_CHARS + "x" + " " * MAX_RUN_CHARS + "end",
]


def test_text_without_giant_runs_is_encoded_exactly_as_tiktoken_does() -> None:
    tiktoken_encoding = get_encoding()
    for text in EXACT_TEXTS:
        assert encode(text) == tiktoken_encoding.encode(text, disallowed_special=())


def test_giant_runs_are_encoded_in_slices_that_decode_to_the_text() -> None:
    rng = random.Random(16)
    word = "".join(rng.choice(string.ascii_lowercase) for _ in range(300_000))
    for text in (f"Intro. {word} outro", "x" * 300_000, "_" * 10_000 + " and " + " " * 10_000 + "!"):
        ids = encode(text)
        assert get_encoding().decode(ids) == text
        exact = len(get_encoding().encode(text, disallowed_special=()))
        assert abs(len(ids) - exact) <= len(text) // MAX_RUN_CHARS + 2  # at most a token or so per slice
        assert count_tokens(text) == len(ids)
    assert truncate_tokens("x" * 300_000, 10) == get_encoding().decode(encode("x" * 300_000)[:10])
