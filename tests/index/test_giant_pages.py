"""A page of one giant unbroken "word" costs bounded tokenisation work and still chunks completely.

Work is measured, not timed: every text handed to tiktoken (and to the BM25 stemmer) is recorded, and the
checks bound the longest unbroken run BPE sees (its work grows faster than the run), the characters encoded
per page character, and the longest word stemmed.
"""

from __future__ import annotations

import random
import re
import string
from collections.abc import Iterator
from typing import Any

import pytest
import tiktoken

from docsbot.documents.model import Page
from docsbot.documents.tokens import MAX_RUN_CHARS, get_encoding
from docsbot.index import bm25
from docsbot.index.bm25 import identifier_terms as cached_identifier_terms
from docsbot.index.chunking import DEFAULT_OPTIONS, _tokens, chunk_page

_RUN = re.compile(r"[^\W\d_]+|(?:[^\w\s]|_)+|\s+")


class EncodeSpy:
    def __init__(self) -> None:
        self.characters = 0
        self.longest_run = 0

    def record(self, text: str) -> None:
        self.characters += len(text)
        self.longest_run = max([self.longest_run, *(len(m.group()) for m in _RUN.finditer(text))])


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Iterator[EncodeSpy]:
    real = tiktoken.Encoding.encode
    recorder = EncodeSpy()

    def encode(self: tiktoken.Encoding, text: str, **kwargs: Any) -> list[int]:
        recorder.record(text)
        return real(self, text, **kwargs)

    monkeypatch.setattr(tiktoken.Encoding, "encode", encode)  # every encoding object: counting and cutting
    _tokens.cache_clear()
    yield recorder
    _tokens.cache_clear()


def giant_word(length: int) -> str:
    rng = random.Random(15)
    return "".join(rng.choice(string.ascii_lowercase) for _ in range(length))


def test_a_giant_single_word_page_costs_bounded_tokenisation_work(spy: EncodeSpy) -> None:
    word = giant_word(1_000_000)
    page = Page(url="https://docs.example.com/blob", title="Blob", markdown=f"# Blob\n\n{word}\n", source_kind="ingest")
    chunks = chunk_page(page)

    assert spy.longest_run <= MAX_RUN_CHARS  # before: the whole million-letter word, in one BPE piece
    assert spy.characters <= 5.5 * len(page.markdown)  # five linear passes (before: six, one per chunk)
    assert all(chunk.token_count <= DEFAULT_OPTIONS.max_tokens for chunk in chunks)
    header = "Blob"  # the heading path: the page title (the level-1 heading repeats it)
    bodies = [chunk.text.removeprefix(f"{header}\n\n") for chunk in chunks]
    assert "".join(bodies) == word  # every letter lands in exactly one chunk: nothing lost, nothing repeated


def test_pages_without_giant_runs_are_chunked_with_exact_counts(spy: EncodeSpy) -> None:
    prose = " ".join(f"Sentence {n} explains how option{n} configures the store." for n in range(400))
    base64 = string.ascii_letters + "0123456789+/"
    blob = "data:image/png;base64," + "".join(random.Random(1).choice(base64) for _ in range(30_000))
    page = Page(
        url="https://docs.example.com/p",
        title="P",
        markdown=f"# P\n\n{prose}\n\n![logo]({blob})\n",
        source_kind="ingest",
    )
    for chunk in chunk_page(page):
        assert chunk.token_count == len(get_encoding().encode(chunk.text, disallowed_special=()))


def test_bm25_stems_words_but_not_giant_runs(monkeypatch: pytest.MonkeyPatch) -> None:
    stemmed: list[str] = []
    real = bm25._stem

    def stem(word: str) -> str:
        stemmed.append(word)
        return real(word)

    monkeypatch.setattr(bm25, "_stem", stem)
    bm25.identifier_terms.cache_clear()
    bm25._normalise_part.cache_clear()  # parts stemmed by earlier tests must be stemmed (and seen) again
    word = giant_word(200_000)
    terms = bm25.tokenize(f"Configuring the stores {word} quickly")
    bm25.identifier_terms.cache_clear()
    assert terms == ["configur", "store", word, "quick"]  # real words stemmed as before; the giant one kept
    assert max(map(len, stemmed)) <= bm25.MAX_STEM_CHARS


def mixed_case_junk(characters: int, seed: int = 16) -> str:
    """Words of random upper- and lower-case letters: every one is a camelCase identifier of new parts."""
    rng = random.Random(seed)
    words: list[str] = []
    size = 0
    while size < characters:
        word = "".join(rng.choice(string.ascii_letters) for _ in range(rng.randint(3, 14)))
        words.append(word)
        size += len(word) + 1
    return " ".join(words)


@pytest.fixture
def term_counter(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """Counts the terms the BM25 tokeniser produces and the word parts it stems, with empty caches."""
    counts = {"terms": 0, "stemmed": 0}
    real_terms, real_stem = bm25.identifier_terms, bm25._stem

    def identifier_terms(identifier: str) -> tuple[str, ...]:
        terms = real_terms(identifier)
        counts["terms"] += len(terms)
        return terms

    def stem(word: str) -> str:
        counts["stemmed"] += 1
        return real_stem(word)

    monkeypatch.setattr(bm25, "identifier_terms", identifier_terms)
    monkeypatch.setattr(bm25, "_stem", stem)
    bm25._normalise_part.cache_clear()
    real_terms.cache_clear()
    yield counts
    bm25._normalise_part.cache_clear()
    real_terms.cache_clear()


def test_a_giant_junk_document_counts_a_bounded_number_of_terms(term_counter: dict[str, int]) -> None:
    text = mixed_case_junk(1_000_000)
    vector = bm25.Bm25Encoder().encode_document(text)
    longest_identifier = 1 + 14  # the whole identifier and at most one part per letter
    assert term_counter["terms"] <= bm25.MAX_TERMS_PER_DOCUMENT + longest_identifier
    assert term_counter["stemmed"] <= bm25.MAX_TERMS_PER_DOCUMENT
    assert 0 < len(vector.indices) <= bm25.MAX_TERMS_PER_DOCUMENT


def test_a_junk_page_costs_at_most_the_cap_per_chunk_and_stems_each_part_once(term_counter: dict[str, int]) -> None:
    page = Page(url="https://docs.example.com/junk", title="Junk", markdown=mixed_case_junk(60_000), source_kind="t")
    texts = [chunk.text for chunk in chunk_page(page)]
    assert len(texts) > 10
    term_counter["terms"] = term_counter["stemmed"] = 0
    bm25.Bm25Encoder().encode_documents(texts)
    counted = term_counter["terms"]
    assert counted <= len(texts) * bm25.MAX_TERMS_PER_DOCUMENT
    # Distinct parts are stemmed once: a second pass over the same page stems nothing.
    stemmed = term_counter["stemmed"]
    cached_identifier_terms.cache_clear()  # every identifier's parts normalised again, from the part cache
    bm25.Bm25Encoder().encode_documents(texts)
    assert term_counter["stemmed"] == stemmed
    assert stemmed < counted
